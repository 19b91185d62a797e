package h1

// The fuzz tests hold this package to one rule against net/http, the
// independent implementation the rest of the product trusts: whatever this
// package accepts, net/http accepts too and reads the same way. The
// functions here run both on the same bytes and compare.

import (
	"bufio"
	"bytes"
	"io"
	"net/http"
	"net/http/httputil"
	"net/textproto"
	"slices"
	"strconv"
	"testing"

	"golang.org/x/net/http/httpguts"
)

// oracleBuffer is the size of the bufio.Reader net/http reads through. It
// must hold a whole trailer section (net/http refuses trailers that do not
// fit its buffer), so it is larger than MaxTrailer plus a chunk line.
const oracleBuffer = MaxTrailer + 4*MaxChunkLine

// maxPipelined is how many messages one input is read as, one after another
// on the same connection.
const maxPipelined = 4

// drain runs c over p until the body ends, the bytes run out or the body is
// refused, and returns the decoded content and the bytes consumed.
func drain(c *Chunked, p []byte) (content []byte, n int, done bool, err error) {
	for {
		k, data, d, e := c.Next(p[n:])
		n += k
		content = append(content, data...)
		if d || e != nil || n == len(p) {
			return content, n, d, e
		}
	}
}

// ourBody reads the body that starts at p with our Chunked or length. ok is
// false when the body is incomplete or refused.
func ourBody(kind BodyKind, length int64, p []byte) (content []byte, n int, ok bool) {
	switch kind {
	case NoBody:
		return nil, 0, true
	case LengthBody:
		if int64(len(p)) < length {
			return nil, 0, false
		}
		return p[:length], int(length), true
	case ChunkedBody:
		var c Chunked
		content, n, done, err := drain(&c, p)
		return content, n, done && err == nil
	case CloseBody:
		return p, len(p), true
	}
	panic("unknown body kind")
}

// headerOf builds the http.Header net/http would hand over for fields, less
// what net/http itself removes from it: Host from a request (ReadRequest
// moves it to Request.Host), Transfer-Encoding always, Trailer
// when the body is chunked, and Connection when a response asks to close.
func headerOf(fs []Field, chunked, response, connClose bool) http.Header {
	h := http.Header{}
	for _, f := range fs {
		k := textproto.CanonicalMIMEHeaderKey(string(f.Name))
		switch {
		case k == "Host" && !response, k == "Transfer-Encoding",
			k == "Trailer" && chunked,
			k == "Connection" && response && connClose:
			continue
		}
		h[k] = append(h[k], string(f.Value))
	}
	// net/http's fixPragmaCacheControl.
	if p := h["Pragma"]; len(p) > 0 && p[0] == "no-cache" && h["Cache-Control"] == nil {
		h["Cache-Control"] = []string{"no-cache"}
	}
	return h
}

// consumed is how far a bufio.Reader over a bytes.Reader has read.
func consumed(total int, rd *bytes.Reader, br *bufio.Reader) int {
	return total - rd.Len() - br.Buffered()
}

// checkHeadEnd checks that HeadEnd finds the same end whether buf arrives
// whole or one byte at a time.
func checkHeadEnd(t *testing.T, buf []byte) int {
	t.Helper()
	end, _ := HeadEnd(buf, 0)
	next := 0
	for i := 1; i <= len(buf); i++ {
		var e int
		e, next = HeadEnd(buf[:i], next)
		if e >= 0 {
			if e != end {
				t.Fatalf("HeadEnd byte by byte: %d, whole: %d", e, end)
			}
			return end
		}
	}
	if end >= 0 {
		t.Fatalf("HeadEnd byte by byte: -1, whole: %d", end)
	}
	return end
}

// checkRequests reads data as up to maxPipelined requests with this package
// and with http.ReadRequest, and fails when this package accepts a request
// that net/http refuses or reads differently.
func checkRequests(t *testing.T, data []byte) {
	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, oracleBuffer)
	var r Request
	off := 0
	for range maxPipelined {
		end := checkHeadEnd(t, data[off:])
		if end < 0 {
			return
		}
		if err := r.Parse(data[off:off+end], Limits{}); err != nil {
			checkRefusal(t, err, 400, 431, 501, 505)
			return
		}
		checkWithin(t, data[off:off+end], &r)
		content, n, ok := ourBody(r.Body(), r.ContentLength, data[off+end:])
		if !ok {
			return
		}
		req, err := http.ReadRequest(br)
		if err != nil {
			t.Fatalf("accepted %q; net/http refuses: %v", data[off:off+end], err)
		}
		compareRequest(t, &r, req)
		got, err := io.ReadAll(req.Body)
		if err != nil {
			t.Fatalf("accepted body of %q; net/http refuses: %v", data[off:], err)
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("body of %q: ours %q, net/http %q", data[off:], content, got)
		}
		off += end + n
		if c := consumed(len(data), rd, br); c != off {
			t.Fatalf("input %q: next request at %d, net/http %d", data, off, c)
		}
	}
}

// checkRefusal checks that err is an *Error with one of the statuses.
func checkRefusal(t *testing.T, err error, statuses ...int) {
	t.Helper()
	e, ok := err.(*Error)
	if !ok || !slices.Contains(statuses, e.Status) || e.Reason == "" {
		t.Fatalf("refusal %#v, want an *Error with status in %v", err, statuses)
	}
}

// checkWithin checks that every slice of r lies within head.
func checkWithin(t *testing.T, head []byte, r *Request) {
	t.Helper()
	within := func(b []byte) {
		if len(b) > 0 && !inside(head, b) {
			t.Fatalf("%q is not a sub-slice of the head", b)
		}
	}
	within(r.Method)
	within(r.Target)
	within(r.Host)
	for _, f := range r.Fields {
		within(f.Name)
		within(f.Value)
	}
}

// inside reports whether inner is a sub-slice of outer.
func inside(outer, inner []byte) bool {
	off := cap(outer) - cap(inner)
	return off >= 0 && off+len(inner) <= len(outer) && &outer[off] == &inner[0]
}

// compareRequest checks that net/http read the head r was parsed from the
// same way, and that the net/http server would not refuse it either.
func compareRequest(t *testing.T, r *Request, req *http.Request) {
	t.Helper()
	if req.Method != string(r.Method) || req.RequestURI != string(r.Target) ||
		req.ProtoMajor != 1 || req.ProtoMinor != r.Minor {
		t.Fatalf("request line: ours %q %q 1.%d, net/http %q %q %d.%d",
			r.Method, r.Target, r.Minor, req.Method, req.RequestURI, req.ProtoMajor, req.ProtoMinor)
	}
	want := headerOf(r.Fields, r.Chunked, false, false)
	if !equalHeader(want, req.Header) {
		t.Fatalf("fields: ours %q, net/http %q", want, req.Header)
	}
	if req.URL.Host == "" && req.Host != string(r.Host) {
		t.Fatalf("host: ours %q, net/http %q", r.Host, req.Host)
	}
	wantLength := max(r.ContentLength, 0)
	if r.Chunked {
		wantLength = -1
	}
	if req.ContentLength != wantLength || (len(req.TransferEncoding) == 1) != r.Chunked {
		t.Fatalf("framing: ours length %d chunked %v, net/http %d %q",
			r.ContentLength, r.Chunked, req.ContentLength, req.TransferEncoding)
	}
	if req.Close != r.Close {
		t.Fatalf("close: ours %v, net/http %v", r.Close, req.Close)
	}
	upgrade := req.ProtoMinor == 1 && httpguts.HeaderValuesContainsToken(req.Header["Connection"], "upgrade") && len(req.Header["Upgrade"]) > 0
	if upgrade != r.Upgrade {
		t.Fatalf("upgrade: ours %v, net/http %v", r.Upgrade, upgrade)
	}
	// What http.Server checks after ReadRequest.
	// ReadRequest has refused a second Host field and removed the first
	// from req.Header; ours stands for it.
	if r.Host == nil && req.ProtoMinor == 1 && req.Method != "CONNECT" ||
		r.Host != nil && !httpguts.ValidHostHeader(string(r.Host)) {
		t.Fatalf("accepted Host %q that the net/http server refuses", r.Host)
	}
	for k, vv := range req.Header {
		if !httpguts.ValidHeaderFieldName(k) {
			t.Fatalf("accepted field name %q that the net/http server refuses", k)
		}
		for _, v := range vv {
			if !httpguts.ValidHeaderFieldValue(v) {
				t.Fatalf("accepted field value %q that the net/http server refuses", v)
			}
		}
	}
}

func equalHeader(a, b http.Header) bool {
	if len(a) != len(b) {
		return false
	}
	for k, v := range a {
		if !slices.Equal(v, b[k]) {
			return false
		}
	}
	return true
}

// checkResponses reads data as up to maxPipelined responses to requests
// with the given method, with this package and with http.ReadResponse.
func checkResponses(t *testing.T, data []byte, method string) {
	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, oracleBuffer)
	var r Response
	off := 0
	for range maxPipelined {
		end := checkHeadEnd(t, data[off:])
		if end < 0 {
			return
		}
		if err := r.Parse(data[off:off+end], Limits{}); err != nil {
			checkRefusal(t, err, 502)
			return
		}
		kind := r.Body([]byte(method))
		content, n, ok := ourBody(kind, r.ContentLength, data[off+end:])
		if !ok {
			return
		}
		resp, err := http.ReadResponse(br, &http.Request{Method: method})
		if err != nil {
			t.Fatalf("accepted %q; net/http refuses: %v", data[off:off+end], err)
		}
		compareResponse(t, &r, kind, resp)
		got, err := io.ReadAll(resp.Body)
		if err != nil {
			t.Fatalf("accepted body of %q; net/http refuses: %v", data[off:], err)
		}
		if !bytes.Equal(got, content) {
			t.Fatalf("body of %q: ours %q, net/http %q", data[off:], content, got)
		}
		off += end + n
		if c := consumed(len(data), rd, br); c != off {
			t.Fatalf("input %q: next response at %d, net/http %d", data, off, c)
		}
		if kind == CloseBody {
			return
		}
	}
}

// compareResponse checks that net/http read the head r was parsed from the
// same way.
func compareResponse(t *testing.T, r *Response, kind BodyKind, resp *http.Response) {
	t.Helper()
	status := strconv.Itoa(r.Status)
	if resp.StatusCode != r.Status || resp.ProtoMajor != 1 || resp.ProtoMinor != r.Minor ||
		resp.Status != status && resp.Status != status+" "+string(r.Reason) {
		t.Fatalf("status line: ours 1.%d %d %q, net/http %d.%d %q",
			r.Minor, r.Status, r.Reason, resp.ProtoMajor, resp.ProtoMinor, resp.Status)
	}
	want := headerOf(r.Fields, r.Chunked, true, r.Minor == 1 && hasCloseToken(r.Fields))
	if !equalHeader(want, resp.Header) {
		t.Fatalf("fields: ours %q, net/http %q", want, resp.Header)
	}
	switch {
	case kind == LengthBody && resp.ContentLength != r.ContentLength,
		kind == ChunkedBody && resp.ContentLength != -1,
		kind == CloseBody && resp.ContentLength != -1:
		t.Fatalf("framing: ours %v length %d, net/http %d", kind, r.ContentLength, resp.ContentLength)
	}
	if resp.Close != (r.Close || kind == CloseBody) {
		t.Fatalf("close: ours %v (body %v), net/http %v", r.Close, kind, resp.Close)
	}
}

// hasCloseToken reports whether some Connection field names close.
func hasCloseToken(fs []Field) bool {
	for _, f := range fs {
		if equalFold(f.Name, "connection") && HasToken(f.Value, "close") {
			return true
		}
	}
	return false
}

// checkChunked runs our Chunked over data, whole and split at split, and
// net/http's chunked reader followed by its trailer reading, and fails when
// ours accepts a body that net/http refuses or reads differently.
func checkChunked(t *testing.T, data []byte, split int) {
	var c Chunked
	content, n, done, err := drain(&c, data)
	if err != nil {
		checkRefusal(t, err, 400)
	}

	// Split in two, the result is the same.
	if split >= 0 && split <= len(data) {
		var c2 Chunked
		a, na, da, ea := drain(&c2, data[:split])
		if !da && ea == nil {
			var b []byte
			var nb int
			b, nb, da, ea = drain(&c2, data[split:])
			a, na = append(a, b...), na+nb
		}
		if !bytes.Equal(a, content) || na != n || da != done || (ea == nil) != (err == nil) {
			t.Fatalf("%q split at %d: %q %d %v %v; whole: %q %d %v %v", data, split, a, na, da, ea, content, n, done, err)
		}
	}
	if !done {
		return
	}

	// Where the last chunk's line ends, byte by byte.
	var c3 Chunked
	lastLine := -1
	for i := range n {
		c3.Next(data[i : i+1])
		if c3.state == csTrailer && lastLine < 0 {
			lastLine = i + 1
		}
	}

	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, oracleBuffer)
	got, rerr := io.ReadAll(httputil.NewChunkedReader(br))
	if rerr != nil {
		t.Fatalf("accepted %q; net/http refuses: %v", data[:n], rerr)
	}
	if !bytes.Equal(got, content) {
		t.Fatalf("%q: ours %q, net/http %q", data[:n], content, got)
	}
	if c := consumed(len(data), rd, br); c != lastLine {
		t.Fatalf("%q: last chunk ends at %d, net/http %d", data[:n], lastLine, c)
	}
	// The trailer section, as net/http's body reads it.
	if peek, _ := br.Peek(2); string(peek) == "\r\n" {
		br.Discard(2)
	} else if _, err := textproto.NewReader(br).ReadMIMEHeader(); err != nil {
		t.Fatalf("accepted trailer of %q; net/http refuses: %v", data[:n], err)
	}
	if c := consumed(len(data), rd, br); c != n {
		t.Fatalf("%q: body ends at %d, net/http %d", data, n, c)
	}
}
