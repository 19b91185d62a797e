package h1

import (
	"bufio"
	"bytes"
	"net/http"
	"testing"
)

// soapHead is a typical SOAP request head, about 400 bytes.
var soapHead = []byte("POST /services/OrderService HTTP/1.1\r\n" +
	"Host: orders.internal.example.com:8080\r\n" +
	"Content-Type: text/xml; charset=utf-8\r\n" +
	"SOAPAction: \"http://example.com/orders/PlaceOrder\"\r\n" +
	"Content-Length: 1873\r\n" +
	"User-Agent: Apache-HttpClient/4.5.13 (Java/11.0.20)\r\n" +
	"Accept: text/xml, multipart/related, application/soap+xml\r\n" +
	"Accept-Encoding: gzip,deflate\r\n" +
	"Connection: Keep-Alive\r\n" +
	"X-Request-Id: 6f1c2d3e-4b5a-6978-8a9b-0c1d2e3f4a5b\r\n\r\n")

var okResponseHead = []byte("HTTP/1.1 200 OK\r\n" +
	"Date: Tue, 01 Dec 2026 08:00:00 GMT\r\n" +
	"Server: Apache-Coyote/1.1\r\n" +
	"Content-Type: text/xml;charset=utf-8\r\n" +
	"Content-Length: 1234\r\n" +
	"Keep-Alive: timeout=5, max=100\r\n" +
	"Connection: Keep-Alive\r\n\r\n")

var chunkedBody = []byte("400\r\n" + string(bytes.Repeat([]byte("x"), 0x400)) + "\r\n" +
	"1f4;ext=1\r\n" + string(bytes.Repeat([]byte("y"), 500)) + "\r\n0\r\nX-Sum: 1\r\n\r\n")

func TestSOAPHeadSize(t *testing.T) {
	if n := len(soapHead); n < 380 || n > 420 {
		t.Errorf("the benchmark head is %d bytes, meant to be about 400", n)
	}
}

// Parsing allocates nothing once Fields has grown, nor does anything else
// on the per-request path.
func TestZeroAllocs(t *testing.T) {
	var r Request
	var resp Response
	var c Chunked
	dst := make([]byte, 0, 64)
	target := []byte("/svc?a=1&sessionId=k%2F1+x&b=2")
	cookie := []byte("a=1; sessionId=\"abc\"; b=2")
	noHost := []byte("GET / HTTP/1.1\r\n\r\n")
	cases := []struct {
		name string
		f    func()
	}{
		{"HeadEnd", func() { HeadEnd(soapHead, 0) }},
		{"Request.Parse", func() { mustNil(t, r.Parse(soapHead, Limits{})) }},
		{"Request.Field", func() { r.Field("soapaction") }},
		{"Request refused", func() { r.Parse(noHost, Limits{}) }},
		{"Response.Parse", func() { mustNil(t, resp.Parse(okResponseHead, Limits{})) }},
		{"Chunked", func() {
			c.Reset()
			if _, _, done, err := drainNoCopy(&c, chunkedBody); !done || err != nil {
				t.Fatal("chunked body not read")
			}
		}},
		{"HasToken", func() { HasToken([]byte("keep-alive, Upgrade"), "upgrade") }},
		{"MediaTypeIs", func() { MediaTypeIs([]byte("text/xml; charset=utf-8"), "text/xml") }},
		{"AppendQueryValue", func() { dst, _ = AppendQueryValue(dst[:0], target, "sessionId") }},
		{"AppendCookieValue", func() { dst, _ = AppendCookieValue(dst[:0], cookie, "sessionId") }},
	}
	for _, c := range cases {
		c.f() // grow what grows once
		if n := testing.AllocsPerRun(100, c.f); n != 0 {
			t.Errorf("%s: %v allocations per run, want 0", c.name, n)
		}
	}
}

func mustNil(t *testing.T, err error) {
	if err != nil {
		t.Fatal(err)
	}
}

// drainNoCopy is drain without collecting the content.
func drainNoCopy(c *Chunked, p []byte) (data, n int, done bool, err error) {
	for {
		k, d, dn, e := c.Next(p[n:])
		n += k
		data += len(d)
		if dn || e != nil || n == len(p) {
			return data, n, dn, e
		}
	}
}

func BenchmarkParseRequestSOAP(b *testing.B) {
	var r Request
	b.ReportAllocs()
	b.SetBytes(int64(len(soapHead)))
	for b.Loop() {
		end, _ := HeadEnd(soapHead, 0)
		if err := r.Parse(soapHead[:end], Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkNetHTTPReadRequestSOAP is the same work done by net/http, for
// comparison: find the head and parse it.
func BenchmarkNetHTTPReadRequestSOAP(b *testing.B) {
	rd := bytes.NewReader(soapHead)
	br := bufio.NewReader(rd)
	b.ReportAllocs()
	b.SetBytes(int64(len(soapHead)))
	for b.Loop() {
		rd.Reset(soapHead)
		br.Reset(rd)
		if _, err := http.ReadRequest(br); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkParseResponse(b *testing.B) {
	var r Response
	b.ReportAllocs()
	b.SetBytes(int64(len(okResponseHead)))
	for b.Loop() {
		end, _ := HeadEnd(okResponseHead, 0)
		if err := r.Parse(okResponseHead[:end], Limits{}); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkNetHTTPReadResponse(b *testing.B) {
	rd := bytes.NewReader(okResponseHead)
	br := bufio.NewReader(rd)
	req := &http.Request{Method: "POST"}
	b.ReportAllocs()
	b.SetBytes(int64(len(okResponseHead)))
	for b.Loop() {
		rd.Reset(okResponseHead)
		br.Reset(rd)
		if _, err := http.ReadResponse(br, req); err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkHeadEndOneByteAtATime(b *testing.B) {
	b.ReportAllocs()
	b.SetBytes(int64(len(soapHead)))
	for b.Loop() {
		next := 0
		for i := 1; i <= len(soapHead); i++ {
			var end int
			if end, next = HeadEnd(soapHead[:i], next); end >= 0 {
				break
			}
		}
	}
}

func BenchmarkChunked(b *testing.B) {
	var c Chunked
	b.ReportAllocs()
	b.SetBytes(int64(len(chunkedBody)))
	for b.Loop() {
		c.Reset()
		if _, _, done, err := drainNoCopy(&c, chunkedBody); !done || err != nil {
			b.Fatal("not read")
		}
	}
}
