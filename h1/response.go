package h1

// Response is a parsed response head. Every slice in it points into the
// head given to Parse.
type Response struct {
	Minor         int
	Status        int
	Reason        []byte
	Fields        []Field // in order; reused across Parse calls
	ContentLength int64   // -1 when none
	Chunked       bool
	Close         bool // Connection: close, or HTTP/1.0 without keep-alive
}

// Parse parses head, which must be exactly buf[:end] for the end HeadEnd
// found, into r. On error r must not be used, and the error is an *Error
// with Status 502: a backend that sends what this package refuses has
// failed as a gateway's upstream.
//
// The status line is HTTP-version SP 3DIGIT [SP reason-phrase], version
// HTTP/1.0 or HTTP/1.1, status 100 to 999. A line that ends right after the
// code is accepted, as net/http accepts it. Field lines follow the rules of
// requests; besides, a 1xx or 204 response may not carry Transfer-Encoding
// or a Content-Length other than 0, since a body would follow that no
// peer reads.
func (r *Response) Parse(head []byte, lim Limits) error {
	*r = Response{Fields: r.Fields[:0], ContentLength: -1}
	line, rest, c := firstLine(head)
	if c == noError {
		c = r.parseStatusLine(line)
	}
	if c != noError {
		return responseError(c)
	}
	f := facts{minor: r.Minor}
	r.Fields, c = parseFields(rest, r.Fields, lim.maxFields(), &f)
	if c == noError {
		c = r.apply(&f)
	}
	if c != noError {
		return responseError(c)
	}
	return nil
}

// parseStatusLine parses HTTP-version SP status-code [SP reason-phrase].
func (r *Response) parseStatusLine(line []byte) code {
	if len(line) < 12 || line[8] != ' ' {
		return errStatusLine
	}
	var c code
	if r.Minor, c = parseVersion(line[:8]); c != noError {
		return c
	}
	s := line[9:12]
	if !isDigit(s[0]) || !isDigit(s[1]) || !isDigit(s[2]) || s[0] == '0' {
		return errStatusCode
	}
	r.Status = int(s[0]-'0')*100 + int(s[1]-'0')*10 + int(s[2]-'0')
	if len(line) == 12 {
		r.Reason = line[12:]
		return noError
	}
	if line[12] != ' ' {
		return errStatusLine
	}
	r.Reason = line[13:]
	for _, ch := range r.Reason {
		if !fieldByte[ch] {
			return errReason
		}
	}
	return noError
}

// apply checks the facts of a response's fields and copies them into r.
func (r *Response) apply(f *facts) code {
	if r.Status < 200 || r.Status == 204 {
		if f.chunked || f.haveLength && f.contentLength != 0 {
			return errBodyForbidden
		}
	}
	if f.haveLength {
		r.ContentLength = f.contentLength
	}
	r.Chunked = f.chunked
	r.Close = f.closes()
	return noError
}

// Field returns the value of the first field called name (ASCII
// case-insensitive), or nil if there is none.
func (r *Response) Field(name string) []byte { return field(r.Fields, name) }

// Body reports how the body of this response to a request with the given
// method is delimited: NoBody for HEAD, 1xx, 204, 304 and a 2xx to CONNECT;
// then chunked, by length (NoBody for a length of 0), or, with neither,
// until the connection closes.
func (r *Response) Body(requestMethod []byte) BodyKind {
	switch {
	case string(requestMethod) == "HEAD",
		r.Status < 200, r.Status == 204, r.Status == 304,
		r.Status < 300 && string(requestMethod) == "CONNECT":
		return NoBody
	case r.Chunked:
		return ChunkedBody
	case r.ContentLength > 0:
		return LengthBody
	case r.ContentLength == 0:
		return NoBody
	}
	return CloseBody
}
