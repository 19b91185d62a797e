package h1

// Byte classes, one table each, indexed by the byte itself.
var (
	// tchar is RFC 9110's token character: the one home of that table.
	//
	//	tchar = "!" / "#" / "$" / "%" / "&" / "'" / "*" / "+" / "-" / "." /
	//	        "^" / "_" / "`" / "|" / "~" / DIGIT / ALPHA
	tchar = byteSet("!#$%&'*+-.^_`|~", true)

	// fieldByte is what a field value (and a reason phrase, and a chunk
	// extension) may hold: HTAB, SP, VCHAR and obs-text. Every other control
	// byte, DEL included, is refused.
	fieldByte = func() (t [256]bool) {
		for c := 0x20; c < 256; c++ {
			t[c] = c != 0x7f
		}
		t['\t'] = true
		return t
	}()

	// targetByte is what a request-target may hold: visible ASCII less the
	// fragment delimiter, which a request-target never carries.
	targetByte = func() (t [256]bool) {
		for c := 0x21; c < 0x7f; c++ {
			t[c] = c != '#'
		}
		return t
	}()

	// hostByte is what net/http lets a Host field hold (golang.org/x/net's
	// httpguts.ValidHostHeader); the tests check the two agree byte for byte.
	hostByte = byteSet("!$%&'()*+,-.:;=[]_~", true)

	// regNameByte is what the host of an absolute-form or authority-form
	// target may hold here: unreserved characters only. That is far
	// stricter than RFC 3986's reg-name, and so never more lenient than
	// net/url, which must parse what is accepted.
	regNameByte = byteSet("-._~", true)

	// ipLiteralByte is what may stand between the brackets of an IPv6
	// literal (no zone: a zone never names a host on the wire).
	ipLiteralByte = func() (t [256]bool) {
		for _, c := range []byte("0123456789abcdefABCDEF:.") {
			t[c] = true
		}
		return t
	}()

	hexVal = func() (t [256]int8) {
		for i := range t {
			t[i] = -1
		}
		for c := '0'; c <= '9'; c++ {
			t[c] = int8(c - '0')
		}
		for c := 'a'; c <= 'f'; c++ {
			t[c] = int8(c - 'a' + 10)
			t[c-'a'+'A'] = int8(c - 'a' + 10)
		}
		return t
	}()
)

// byteSet returns the table of the bytes in extra, plus ASCII letters and
// digits when alnum is set.
func byteSet(extra string, alnum bool) (t [256]bool) {
	for i := 0; i < len(extra); i++ {
		t[extra[i]] = true
	}
	if alnum {
		for c := '0'; c <= '9'; c++ {
			t[c] = true
		}
		for c := 'a'; c <= 'z'; c++ {
			t[c] = true
			t[c-'a'+'A'] = true
		}
	}
	return t
}

// IsToken reports whether c is an RFC 9110 tchar, a byte a token may hold.
func IsToken(c byte) bool { return tchar[c] }

func isDigit(c byte) bool { return '0' <= c && c <= '9' }

// lower folds an ASCII upper-case letter to lower case.
func lower(c byte) byte {
	if 'A' <= c && c <= 'Z' {
		return c + 'a' - 'A'
	}
	return c
}

// equalFold reports whether b equals s, ASCII case-insensitively.
func equalFold(b []byte, s string) bool {
	if len(b) != len(s) {
		return false
	}
	for i := 0; i < len(s); i++ {
		if lower(b[i]) != lower(s[i]) {
			return false
		}
	}
	return true
}

// equalFoldBytes is equalFold for two byte slices.
func equalFoldBytes(a, b []byte) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if lower(a[i]) != lower(b[i]) {
			return false
		}
	}
	return true
}

// trimOWS removes leading and trailing SP and HTAB.
func trimOWS(b []byte) []byte {
	for len(b) > 0 && (b[0] == ' ' || b[0] == '\t') {
		b = b[1:]
	}
	for len(b) > 0 && (b[len(b)-1] == ' ' || b[len(b)-1] == '\t') {
		b = b[:len(b)-1]
	}
	return b
}
