package h1

import (
	"bytes"
	"net/netip"
)

// Request is a parsed request head. Every slice in it points into the head
// given to Parse.
type Request struct {
	Method []byte
	Target []byte
	Minor  int     // the minor version: 0 for HTTP/1.0, 1 for HTTP/1.1
	Fields []Field // in order; reused across Parse calls (Parse resets length, keeps capacity)
	Host   []byte  // the one Host field's value; nil if none

	// Framing facts, recorded as parsed.

	ContentLength int64 // -1 when no Content-Length
	Chunked       bool  // Transfer-Encoding: chunked
	// Close is set when the client wants the connection closed after this
	// exchange: Connection: close, or HTTP/1.0 without a keep-alive token.
	Close bool
	// Upgrade is set when Connection names "upgrade" and an Upgrade field
	// is present, on HTTP/1.1 only (RFC 9110 section 7.8: an upgrade on
	// HTTP/1.0 is ignored).
	Upgrade bool
	// Expect100 is set for Expect: 100-continue (case-insensitive) on
	// HTTP/1.1.
	Expect100 bool
}

// Parse parses head, which must be exactly buf[:end] for the end HeadEnd
// found, into r. On error r holds whatever was parsed before the refusal
// and must not be used, and the error is an *Error whose Status is 400,
// 431, 501 or 505.
//
// The request line is method SP request-target SP HTTP-version with exactly
// one SP between them. The method is a token. The target is origin-form
// (with valid percent-escapes in its path), absolute-form (http or https,
// an unreserved-character host or an IPv6 literal, an optional port, no
// user information), "*" with OPTIONS only, or authority-form (host:port)
// with CONNECT only, which takes nothing else. The version is HTTP/1.0 or
// HTTP/1.1: any other well-formed HTTP/x.y, the HTTP/2 preface included, is
// refused with 505. HTTP/1.1 needs exactly one Host field; HTTP/1.0 may
// have one. A Host field holds only what net/http accepts in one.
func (r *Request) Parse(head []byte, lim Limits) error {
	*r = Request{Fields: r.Fields[:0], ContentLength: -1}
	line, rest, c := firstLine(head)
	if c == noError {
		c = r.parseRequestLine(line)
	}
	if c != noError {
		return requestError(c)
	}
	f := facts{minor: r.Minor}
	r.Fields, c = parseFields(rest, r.Fields, lim.maxFields(), &f)
	if c == noError {
		c = r.apply(&f)
	}
	if c != noError {
		return requestError(c)
	}
	return nil
}

// apply checks the facts of a request's fields and copies them into r.
func (r *Request) apply(f *facts) code {
	switch {
	case f.hosts == 0 && r.Minor == 1:
		return errNoHost
	case f.hosts == 1 && !validHost(f.host):
		return errHost
	}
	if t := r.Target; len(t) > 0 && t[0] != '/' && t[0] != '*' && !r.IsMethod("CONNECT") {
		// Absolute-form: RFC 9112 section 3.2.2 has the server use the
		// target's authority and ignore Host, while a client must send
		// the two identical. Requiring that leaves one authority for a
		// router and a backend to agree on.
		if authority, _ := splitAbsolute(t); f.hosts == 1 && !equalFoldBytes(authority, f.host) {
			return errHostMismatch
		}
	}
	r.Host = f.host
	if f.haveLength {
		r.ContentLength = f.contentLength
	}
	r.Chunked = f.chunked
	r.Close = f.closes()
	r.Upgrade = f.connUpgrade && f.upgrade && r.Minor == 1
	r.Expect100 = f.expect100 && r.Minor == 1
	return noError
}

// parseRequestLine parses method SP request-target SP HTTP-version.
func (r *Request) parseRequestLine(line []byte) code {
	sp := bytes.IndexByte(line, ' ')
	if sp < 0 {
		return errRequestLine
	}
	r.Method, line = line[:sp], line[sp+1:]
	if !isTokenString(r.Method) {
		return errMethod
	}
	sp = bytes.IndexByte(line, ' ')
	if sp <= 0 {
		return errRequestLine
	}
	r.Target = line[:sp]
	var c code
	if r.Minor, c = parseVersion(line[sp+1:]); c != noError {
		if c == errUnsupportedVersion && r.IsMethod("PRI") {
			c = errH2Preface
		}
		return c
	}
	return checkTarget(r.Method, r.Target)
}

// parseVersion reads HTTP/1.0 or HTTP/1.1. A well-formed HTTP-version of
// any other number gets 505, anything else 400.
func parseVersion(v []byte) (minor int, c code) {
	if len(v) != 8 || string(v[:5]) != "HTTP/" || !isDigit(v[5]) || v[6] != '.' || !isDigit(v[7]) {
		return 0, errVersion
	}
	if v[5] != '1' || v[7] > '1' {
		return 0, errUnsupportedVersion
	}
	return int(v[7] - '0'), noError
}

// checkTarget checks the request-target's form against the method.
func checkTarget(method, t []byte) code {
	for _, c := range t {
		if !targetByte[c] {
			return errTarget
		}
	}
	isConnect := string(method) == "CONNECT"
	switch {
	case isConnect:
		if !validAuthority(t, true) {
			return errConnectTarget
		}
	case len(t) == 1 && t[0] == '*':
		if string(method) != "OPTIONS" {
			return errStarTarget
		}
	case t[0] == '/':
		if !validPathQuery(t) {
			return errTarget
		}
	default:
		if !validAbsolute(t) {
			return errTarget
		}
	}
	return noError
}

// validPathQuery checks an absolute-path with an optional query: every
// percent sign in the path starts a valid escape (net/url refuses others;
// it leaves the query alone).
func validPathQuery(t []byte) bool {
	for i := 0; i < len(t); i++ {
		switch t[i] {
		case '?':
			return true
		case '%':
			if i+2 >= len(t) || hexVal[t[i+1]] < 0 || hexVal[t[i+2]] < 0 {
				return false
			}
			i += 2
		}
	}
	return true
}

// validAbsolute checks an absolute-form target: "http://" or "https://"
// (any case), an authority, then nothing, a path or a query.
func validAbsolute(t []byte) bool {
	authority, rest := splitAbsolute(t)
	if authority == nil || !validAuthority(authority, false) {
		return false
	}
	if len(rest) > 0 && rest[0] == '?' {
		return true
	}
	return validPathQuery(rest)
}

// splitAbsolute splits an http or https absolute-form target into its
// authority and what follows it; authority is nil for any other target.
func splitAbsolute(t []byte) (authority, rest []byte) {
	switch {
	case len(t) > 7 && equalFold(t[:7], "http://"):
		rest = t[7:]
	case len(t) > 8 && equalFold(t[:8], "https://"):
		rest = t[8:]
	default:
		return nil, nil
	}
	end := bytes.IndexAny(rest, "/?")
	if end < 0 {
		end = len(rest)
	}
	return rest[:end], rest[end:]
}

// validAuthority checks host [":" port]: a host of unreserved characters or
// an IPv6 literal, and a port of 1 to 5 digits, required when needPort.
func validAuthority(a []byte, needPort bool) bool {
	host, port := a, []byte(nil)
	hasPort := false
	if len(a) > 0 && a[0] == '[' {
		end := bytes.IndexByte(a, ']')
		if end < 0 || !validIPv6(a[1:end]) {
			return false
		}
		host, a = a[:end+1], a[end+1:]
		if len(a) > 0 {
			if a[0] != ':' {
				return false
			}
			port, hasPort = a[1:], true
		}
	} else {
		if i := bytes.IndexByte(a, ':'); i >= 0 {
			host, port, hasPort = a[:i], a[i+1:], true
		}
		if len(host) == 0 {
			return false
		}
		for _, c := range host {
			if !regNameByte[c] {
				return false
			}
		}
	}
	if !hasPort {
		return !needPort
	}
	if len(port) == 0 || len(port) > 5 {
		return false
	}
	for _, c := range port {
		if !isDigit(c) {
			return false
		}
	}
	return true
}

// validIPv6 checks what stands between the brackets of an IPv6 literal.
// Rare enough on the wire that the string conversion does not matter.
func validIPv6(b []byte) bool {
	if len(b) == 0 || len(b) > 45 {
		return false
	}
	for _, c := range b {
		if !ipLiteralByte[c] {
			return false
		}
	}
	addr, err := netip.ParseAddr(string(b))
	return err == nil && addr.Is6()
}

// validHost reports whether a Host field's value holds only what net/http
// accepts there.
func validHost(h []byte) bool {
	for _, c := range h {
		if !hostByte[c] {
			return false
		}
	}
	return true
}

// Field returns the value of the first field called name (ASCII
// case-insensitive), or nil if there is none.
func (r *Request) Field(name string) []byte { return field(r.Fields, name) }

// HasBody reports whether a body follows the head.
func (r *Request) HasBody() bool { return r.Chunked || r.ContentLength > 0 }

// IsMethod reports whether the method is exactly m.
func (r *Request) IsMethod(m string) bool { return string(r.Method) == m }

// Body reports how the request's body is delimited: chunked, by length, or
// absent. A request without Content-Length or Transfer-Encoding has no body.
func (r *Request) Body() BodyKind {
	switch {
	case r.Chunked:
		return ChunkedBody
	case r.ContentLength > 0:
		return LengthBody
	}
	return NoBody
}

// BodyKind is how a message's body is delimited.
type BodyKind uint8

const (
	NoBody      BodyKind = iota
	LengthBody           // ContentLength bytes
	ChunkedBody          // chunked transfer coding; follow it with Chunked
	CloseBody            // until the connection closes (responses only)
)

func (k BodyKind) String() string {
	switch k {
	case NoBody:
		return "none"
	case LengthBody:
		return "length"
	case ChunkedBody:
		return "chunked"
	case CloseBody:
		return "close"
	}
	return "invalid"
}
