package engine_test

import (
	"errors"
	"io"
	"net"
	"strings"
	"testing"
	"time"

	"github.com/peekroute/peekroute/engine"
)

// The timeouts under test are short; a test that needs one to pass waits
// on a timer of a few times its length, and on events otherwise.
const shortTimeout = 200 * time.Millisecond

// bodyReceiver reads a request's head and then its body until the engine
// ends it, and reports how many body bytes came and how the read ended.
type bodyResult struct {
	r   *rawRequest
	n   int
	err error
}

func bodyReceiver(results chan<- bodyResult) func(rc *rawConn) {
	return func(rc *rawConn) {
		r, err := rc.readHead()
		if err != nil {
			return
		}
		n, err := io.Copy(io.Discard, rc.br)
		results <- bodyResult{r, int(n), err}
	}
}

// A client that stalls mid-body once the request is routed has the
// backend connection closed before the body is whole, and its own
// connection closed; the backend is not blamed.
func TestBodyIdleTimeoutAfterRouting(t *testing.T) {
	results := make(chan bodyResult, 1)
	b := startBackend(t, bodyReceiver(results))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, BodyIdleTimeout: shortTimeout})
	c := h.dial()
	c.send("POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("s", 100))
	res := recv(t, results, "the backend's read of the body to end")
	if res.n != 100 || res.err != nil {
		t.Errorf("backend read %d body bytes then %v; want the 100 sent, then the end of the stream", res.n, res.err)
	}
	c.expectRefused("POST", 408)
	if e := p.waitDone(t); e.status != 408 || e.err == nil {
		t.Errorf("Done heard status %d err %v, want 408 and the timeout", e.status, e.err)
	}
	h.close()
	p.expectNoFailures(t)
}

// A client that stalls while the policy is still reading the start of its
// body gets 408, and nothing reaches a backend.
func TestPeekTimeout(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	p.peek = true
	h := startEngine(t, engine.Config{Policy: p, PeekTimeout: shortTimeout, BodyIdleTimeout: 10 * shortTimeout})
	c := h.dial()
	c.send("POST /stall HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("s", 100))
	c.expectRefused("POST", 408)
	pk := recv(t, p.peeks, "the policy's peek to end")
	var ne net.Error
	if len(pk.content) != 100 || !errors.As(pk.err, &ne) || !ne.Timeout() {
		t.Errorf("policy read %d bytes then %v, want 100 bytes then a timeout", len(pk.content), pk.err)
	}
	h.close()
	p.expectNoFailures(t)
	if n := b.acceptedConns(); n != 0 {
		t.Errorf("backend accepted %d connections, want none", n)
	}
}

// A backend that never answers gets the client a 504, and is not blamed
// for being slow; its connection is not used again.
func TestResponseTimeout(t *testing.T) {
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		if r.target() == "/hold" {
			rc.drainToEOF() // never answer
			return false
		}
		return answerOK(rc, r)
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, ResponseTimeout: shortTimeout})
	c := h.dial()
	c.send("GET /hold HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.StatusCode != 504 {
		t.Errorf("client got %d %q, want 504", r.StatusCode, r.body)
	}
	if e := p.waitDone(t); e.status != 504 {
		t.Errorf("Done heard status %d, want 504", e.status)
	}
	c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /next" {
		t.Errorf("next request: %d %q", r.StatusCode, r.body)
	}
	var next *rawRequest
	for next == nil || next.target() != "/next" {
		next = recv(t, b.got, "the backend to get /next")
	}
	if next.conn == 0 {
		t.Error("the next request went on the connection that timed out")
	}
	h.close()
	p.expectNoFailures(t)
}

// ResponseTimeout bounds the wait for the response head only: a body that
// takes longer to arrive reaches the client whole.
func TestResponseTimeoutDoesNotCutTheBody(t *testing.T) {
	first, second := strings.Repeat("1", 64<<10), strings.Repeat("2", 64<<10)
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		if !rc.write("HTTP/1.1 200 OK\r\nContent-Length: 131072\r\n\r\n" + first) {
			return false
		}
		<-time.After(3 * shortTimeout) // longer than ResponseTimeout
		return rc.write(second)
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, ResponseTimeout: shortTimeout})
	c := h.dial()
	c.send("GET /slow-body HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := c.tryRead("GET")
	if err != nil || r.body != first+second {
		t.Errorf("client got %d body bytes, err %v; want %d", len(r.body), err, len(first+second))
	}
}

// IdleTimeout bounds the wait for a request, not the upload of its body:
// a body slower than IdleTimeout reaches the backend whole.
func TestIdleTimeoutDoesNotCutTheBody(t *testing.T) {
	firstPart := make(chan struct{})
	b := startBackend(t, func(rc *rawConn) {
		r, err := rc.readHead()
		if err != nil {
			return
		}
		body := make([]byte, 2000)
		if _, err := io.ReadFull(rc.br, body[:1000]); err != nil {
			return
		}
		close(firstPart)
		if _, err := io.ReadFull(rc.br, body[1000:]); err != nil {
			return
		}
		r.body = body
		answerOK(rc, r)
		rc.drainToEOF()
	})
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, IdleTimeout: shortTimeout})
	c := h.dial()
	c.nc.SetReadDeadline(time.Now().Add(10 * shortTimeout))
	c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 2000\r\n\r\n" + strings.Repeat("a", 1000))
	recv(t, firstPart, "the backend to get the first part")
	<-time.After(3 * shortTimeout) // longer than IdleTimeout
	c.send(strings.Repeat("b", 1000))
	if r, err := c.tryRead("POST"); err != nil || r.StatusCode != 200 {
		t.Errorf("client got %v, %v; want 200", r.Response, err)
	}
}

// A response body that stalls longer than BodyIdleTimeout is cut: the
// client connection closes before the body is whole.
func TestBodyIdleTimeoutOnTheResponse(t *testing.T) {
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		rc.write("HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n" + strings.Repeat("r", 100))
		rc.drainToEOF() // and stall
		return false
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, BodyIdleTimeout: shortTimeout})
	c := h.dial()
	c.send("GET /stall HTTP/1.1\r\nHost: x\r\n\r\n")
	r, err := c.tryRead("GET")
	if err == nil || r.StatusCode != 200 || len(r.body) != 100 {
		t.Errorf("client got status %d, %d body bytes, err %v; want 200 cut after 100 bytes", r.StatusCode, len(r.body), err)
	}
	if e := p.waitDone(t); e.err == nil {
		t.Error("Done heard no error for a response cut short")
	}
}
