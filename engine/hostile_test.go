package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// hostile is a request the engine must refuse itself: its bytes, what it
// is answered with, and the method to read the answer for.
type hostile struct {
	name   string
	raw    string
	status int
}

func hostileRequests() []hostile {
	const h = "Host: x\r\n"
	var fields strings.Builder
	for i := range 101 {
		fmt.Fprintf(&fields, "X-F%d: v\r\n", i)
	}
	return []hostile{
		{"Content-Length with Transfer-Encoding", "POST /cl-te HTTP/1.1\r\n" + h + "Content-Length: 38\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"Transfer-Encoding with Content-Length", "POST /te-cl HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nContent-Length: 3\r\n\r\n0\r\n\r\n", 400},
		{"two equal Content-Lengths", "POST /cl-cl HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"two different Content-Lengths", "POST /cl-cl HTTP/1.1\r\n" + h + "Content-Length: 3\r\nContent-Length: 40\r\n\r\nabcGET /smuggled HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"Content-Length list", "POST /cl-list HTTP/1.1\r\n" + h + "Content-Length: 3, 3\r\n\r\nabc", 400},
		{"negative Content-Length", "POST /cl-neg HTTP/1.1\r\n" + h + "Content-Length: -1\r\n\r\n", 400},
		{"obs-fold", "GET /fold HTTP/1.1\r\n" + h + "X-Long: a\r\n b\r\n\r\n", 400},
		{"obs-fold of Transfer-Encoding", "POST /fold-te HTTP/1.1\r\n" + h + "Transfer-Encoding:\r\n chunked\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"bare LF line ends", "GET /lf HTTP/1.1\n" + h[:len(h)-2] + "\n\n", 400},
		{"bare LF after one field", "GET /lf HTTP/1.1\r\nHost: x\nX-A: b\r\n\r\n", 400},
		{"bare CR in a value", "GET /cr HTTP/1.1\r\n" + h + "X-A: a\rb\r\n\r\n", 400},
		{"NUL in a value", "GET /nul HTTP/1.1\r\n" + h + "X-A: a\x00b\r\n\r\n", 400},
		{"space before the colon", "POST /sp HTTP/1.1\r\n" + h + "Content-Length : 3\r\n\r\nabc", 400},
		{"Transfer-Encoding gzip", "POST /gzip HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip\r\n\r\nxx", 501},
		{"Transfer-Encoding gzip, chunked", "POST /gzip HTTP/1.1\r\n" + h + "Transfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n", 501},
		{"Transfer-Encoding chunked twice", "POST /te2 HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n", 400},
		{"chunk size 0x5", "POST /0x HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n0x5\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size +5", "POST /plus HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n+5\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size of 17 digits", "POST /big HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n10000000000000005\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk size over 2^63-1", "POST /big HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\nffffffffffffffff\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk data longer than its size", "POST /long HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n3\r\nhello\r\n0\r\n\r\n", 400},
		{"chunk line ending in a bare LF", "POST /lf HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n", 400},
		{"trailer with Content-Length", "POST /trailer HTTP/1.1\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\nContent-Length: 5\r\n\r\n", 400},
		{"Transfer-Encoding on HTTP/1.0", "POST /te10 HTTP/1.0\r\n" + h + "Transfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n", 400},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n", 505},
		{"HTTP/1.2", "GET /v HTTP/1.2\r\n" + h + "\r\n", 505},
		{"CONNECT", "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n", 405},
		{"no Host", "GET /nohost HTTP/1.1\r\n\r\n", 400},
		{"two Hosts", "GET /hosts HTTP/1.1\r\n" + h + "Host: y\r\n\r\n", 400},
		{"request head over MaxHeaderBytes", "GET /huge HTTP/1.1\r\n" + h + "X-Big: " + strings.Repeat("a", 70<<10) + "\r\n\r\n", 431},
		{"too many fields", "GET /fields HTTP/1.1\r\n" + h + fields.String() + "\r\n", 431},
	}
}

// A valid request that may come before a hostile one on a connection.
const prefixRequest = "GET /ok HTTP/1.1\r\nHost: x\r\n\r\n"

// Hostile requests are refused with the right status and Connection:
// close, never reach a backend — neither they nor anything smuggled in
// them — and never count against one.
func TestHostileRequestsAreRefused(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	prefixes := 0
	for _, tt := range hostileRequests() {
		t.Run(tt.name, func(t *testing.T) {
			if strings.HasPrefix(tt.name, "CONNECT") {
			}
			t.Run("alone", func(t *testing.T) {
				c := h.dial()
				c.send(tt.raw)
				c.expectRefused("GET", tt.status)
			})
			t.Run("after a valid request", func(t *testing.T) {
				c := h.dial()
				c.send(prefixRequest + tt.raw)
				if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /ok" {
					t.Errorf("valid request before it: %d %q", r.StatusCode, r.body)
				}
				prefixes++
				c.expectRefused("GET", tt.status)
			})
		})
	}
	h.close()
	b.drain()
	p.expectNoFailures(t)
	// The backend received the valid requests and not one byte more.
	var want, got strings.Builder
	for _, r := range b.requests() {
		if r.target() != "/ok" {
			t.Errorf("backend received %q", r.line)
		}
		want.WriteString(r.head)
		want.Write(r.body)
	}
	for _, rc := range b.connections() {
		got.Write(rc.rawBytes())
	}
	if n := len(b.requests()); n != prefixes {
		t.Errorf("backend received %d requests, want the %d valid ones", n, prefixes)
	}
	if got.String() != want.String() {
		t.Errorf("backend read bytes beyond the valid requests:\n%q", strings.TrimPrefix(got.String(), want.String()))
	}
}

// A refused CONNECT closes the connection, so that tunnel bytes the client
// sends after it are not read as a request.
func TestRefusedConnectClosesTheConnection(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	// A TLS ClientHello's first bytes, sent at once as optimistic clients do.
	c.send("CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n\r\n\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03")
	c.expectRefused("GET", 405)
	h.close()
	if n := b.acceptedConns(); n != 0 {
		t.Errorf("backend accepted %d connections", n)
	}
}

// The policy hears Done for requests refused at the head, as for every
// other exchange, so that metrics and access logs count them.
func TestRefusedHeadsReachDone(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	want := map[int]int{} // status: how many
	for _, tt := range hostileRequests() {
		if tt.status == 405 {
			continue // CONNECT is refused after routing, not at the head
		}
		c := h.dial()
		c.send(tt.raw)
		c.expectRefused("GET", tt.status)
		want[tt.status]++
	}
	h.close() // no call is still to come
	heard := map[int]int{}
	for _, e := range p.endedAll() {
		heard[e.status]++
	}
	for status, n := range want {
		if heard[status] != n {
			t.Errorf("Done heard %d exchanges with status %d, want %d", heard[status], status, n)
		}
	}
}
