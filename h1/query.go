package h1

import "bytes"

// maxQueryParams and maxCookies are net/url's and net/http's default
// limits: past them, they find nothing, and neither does this package.
const (
	maxQueryParams = 10000
	maxCookies     = 3000
)

// AppendQueryValue appends to dst the first value of the query parameter
// called name in a request-target, percent- and plus-decoded, and reports
// whether there was one. It finds what net/url's Query().Get(name) finds on
// the request's URL: parameters are separated by "&", one holding ";" is
// skipped, and so is one whose key or value holds a malformed escape. It
// allocates only when dst must grow.
func AppendQueryValue(dst, target []byte, name string) ([]byte, bool) {
	i := bytes.IndexByte(target, '?')
	if i < 0 {
		return dst, false
	}
	q := target[i+1:]
	if bytes.Count(q, []byte{'&'})+1 > maxQueryParams {
		return dst, false
	}
	for len(q) > 0 {
		var pair []byte
		pair, q = cut(q, '&')
		if len(pair) == 0 || bytes.IndexByte(pair, ';') >= 0 {
			continue
		}
		key, value := cut(pair, '=')
		if !validEscapes(key) || !validEscapes(value) || !unescapedIs(key, name) {
			continue
		}
		return appendUnescaped(dst, value), true
	}
	return dst, false
}

// cut splits b around the first sep; after is empty when there is none.
func cut(b []byte, sep byte) (before, after []byte) {
	if i := bytes.IndexByte(b, sep); i >= 0 {
		return b[:i], b[i+1:]
	}
	return b, nil
}

// validEscapes reports whether every "%" in s starts two hex digits.
func validEscapes(s []byte) bool {
	for i := 0; i < len(s); i++ {
		if s[i] == '%' {
			if i+2 >= len(s) || hexVal[s[i+1]] < 0 || hexVal[s[i+2]] < 0 {
				return false
			}
			i += 2
		}
	}
	return true
}

// unescapedIs reports whether the query component s, which has valid
// escapes, decodes to name.
func unescapedIs(s []byte, name string) bool {
	j := 0
	for i := 0; i < len(s); {
		var c byte
		c, i = unescapeAt(s, i)
		if j == len(name) || name[j] != c {
			return false
		}
		j++
	}
	return j == len(name)
}

// appendUnescaped appends the decoding of the query component s, which has
// valid escapes.
func appendUnescaped(dst, s []byte) []byte {
	for i := 0; i < len(s); {
		var c byte
		c, i = unescapeAt(s, i)
		dst = append(dst, c)
	}
	return dst
}

// unescapeAt decodes the byte at s[i] of a query component with valid
// escapes — "+" is a space, "%XY" the byte XY — and returns it and the
// offset after it.
func unescapeAt(s []byte, i int) (byte, int) {
	switch s[i] {
	case '+':
		return ' ', i + 1
	case '%':
		return byte(hexVal[s[i+1]])<<4 | byte(hexVal[s[i+2]]), i + 3
	}
	return s[i], i + 1
}

// AppendCookieValue appends to dst the value of the cookie called name in
// one Cookie field value, and reports whether there was one. It finds what
// net/http's (*Request).Cookie(name).Value finds: pairs separated by ";",
// OWS trimmed around each pair and its name, names compared exactly,
// surrounding double quotes removed, and pairs with a name that is not a
// token or a value holding a byte a cookie value may not hold skipped.
func AppendCookieValue(dst []byte, cookieHeader []byte, name string) ([]byte, bool) {
	if name == "" || bytes.Count(cookieHeader, []byte{';'})+1 > maxCookies {
		return dst, false
	}
	line := trimSpace(cookieHeader)
	for len(line) > 0 {
		var part []byte
		part, line = cut(line, ';')
		part = trimSpace(part)
		if len(part) == 0 {
			continue
		}
		n, v := cut(part, '=')
		n = trimSpace(n)
		if string(n) != name || !isTokenString(n) {
			continue
		}
		if len(v) > 1 && v[0] == '"' && v[len(v)-1] == '"' {
			v = v[1 : len(v)-1]
		}
		if validCookieValue(v) {
			return append(dst, v...), true
		}
	}
	return dst, false
}

// trimSpace trims what net/textproto's TrimString trims: SP, HTAB, CR, LF.
func trimSpace(b []byte) []byte { return bytes.Trim(b, " \t\r\n") }

// validCookieValue reports whether v holds only bytes net/http lets a
// cookie value hold.
func validCookieValue(v []byte) bool {
	for _, c := range v {
		if c < 0x20 || c >= 0x7f || c == '"' || c == ';' || c == '\\' {
			return false
		}
	}
	return true
}
