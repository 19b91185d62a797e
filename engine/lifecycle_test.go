package engine_test

import (
	"context"
	"errors"
	"io"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/peekroute/peekroute/engine"
)

// With MaxConns open client connections, a further client is not served
// until one of them closes.
func TestMaxConnsHoldsFurtherClients(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p, MaxConns: 2})
	first, second := h.dial(), h.dial()
	for i, c := range []*client{first, second} {
		c.send("GET /open HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("client %d: %d %q", i, r.StatusCode, r.body)
		}
	}
	third := h.dial() // the kernel completes the handshake; the engine must not take it
	third.send("GET /third HTTP/1.1\r\nHost: x\r\n\r\n")
	type result struct {
		r   response
		err error
	}
	answered := make(chan result, 1)
	go func() {
		r, err := third.tryRead("GET")
		answered <- result{r, err}
	}()
	// Nothing that happens can show the third client is held: give the
	// engine a while to wrongly serve it.
	select {
	case res := <-answered:
		t.Fatalf("third client answered (%v, %v) while two connections were open", res.r.Response, res.err)
	case <-time.After(3 * shortTimeout):
	}
	for len(p.routes) > 0 {
		if target := <-p.routes; target == "/third" {
			t.Fatal("the third client's request was routed while two connections were open")
		}
	}
	first.nc.Close()
	res := recv(t, answered, "the third client to be served once the first closed")
	if res.err != nil || res.r.StatusCode != 200 || res.r.body != "ok /third" {
		t.Errorf("third client got %v %q %v, want 200", res.r.Response, res.r.body, res.err)
	}
}

// Shutdown closes idle client connections at once, lets the exchange in
// flight finish and tells its client the connection ends, then returns.
func TestGracefulShutdown(t *testing.T) {
	release := make(chan struct{})
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		if r.target() == "/slow" {
			<-release
		}
		return answerOK(rc, r)
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	idle := h.dial()
	idle.send("GET /first HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := idle.read("GET"); r.StatusCode != 200 {
		t.Fatalf("first request: %d", r.StatusCode)
	}
	busy := h.dial()
	busy.send("GET /slow HTTP/1.1\r\nHost: x\r\n\r\n")
	for r := recv(t, b.got, "the backend to get a request"); r.target() != "/slow"; r = recv(t, b.got, "the backend to get /slow") {
	}

	shut := make(chan error, 1)
	go func() {
		ctx, cancel := context.WithTimeout(context.Background(), 4*waitLimit)
		defer cancel()
		shut <- h.srv.Shutdown(ctx)
	}()
	idle.expectClosed()
	select {
	case err := <-shut:
		t.Fatalf("Shutdown returned %v with an exchange in flight", err)
	default:
	}
	if nc, err := net.Dial("tcp", h.addr); err == nil {
		nc.Close()
		t.Error("a new client could connect while shutting down")
	}
	close(release)
	r := busy.read("GET")
	if r.StatusCode != 200 || r.body != "ok /slow" {
		t.Errorf("in-flight request got %d %q, want 200", r.StatusCode, r.body)
	}
	if !r.Close {
		t.Error("the last response on a draining connection lacks Connection: close")
	}
	busy.expectClosed()
	if err := recv(t, shut, "Shutdown to return"); err != nil {
		t.Errorf("Shutdown returned %v, want nil", err)
	}
	select {
	case err := <-h.served:
		h.served <- err // for the harness's own check
	case <-time.After(waitLimit):
		t.Error("Serve did not return after Shutdown")
	}
}

// stuckBackend holds every request, neither answering nor closing, until
// unstick is called (or the test ends); unstick then closes its connections.
func stuckBackend(t *testing.T) (b *rawBackend, unstick func()) {
	release := make(chan struct{})
	b = startBackend(t, func(rc *rawConn) {
		if _, err := rc.readRequest(); err != nil {
			return
		}
		<-release
	})
	var once sync.Once
	unstick = func() {
		once.Do(func() { close(release) })
		b.close()
	}
	t.Cleanup(unstick)
	return b, unstick
}

// closeWithin runs close and reports whether it returned within waitLimit;
// when it did not, unstick lets it finish before the test goes on.
func closeWithin(t *testing.T, what string, close func() error, unstick func()) error {
	t.Helper()
	done := make(chan error, 1)
	go func() { done <- close() }()
	select {
	case err := <-done:
		return err
	case <-time.After(waitLimit):
		t.Errorf("%s did not return within %v", what, waitLimit)
		unstick()
		return <-done
	}
}

// Close ends every client connection at once, even one whose exchange is
// waiting for a backend that does not answer.
func TestCloseEndsExchangesWaitingForABackend(t *testing.T) {
	b, unstick := stuckBackend(t)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	recv(t, b.got, "the backend to get the request")
	closeWithin(t, "Close", h.srv.Close, unstick)
	c.expectClosed()
}

// Shutdown whose context ends closes what is left and returns the
// context's error.
func TestShutdownDeadlineEndsStuckExchanges(t *testing.T) {
	b, unstick := stuckBackend(t)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /stuck HTTP/1.1\r\nHost: x\r\n\r\n")
	recv(t, b.got, "the backend to get the request")
	err := closeWithin(t, "Shutdown", func() error {
		ctx, cancel := context.WithTimeout(context.Background(), shortTimeout)
		defer cancel()
		return h.srv.Shutdown(ctx)
	}, unstick)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("Shutdown returned %v, want the context's error", err)
	}
	c.expectClosed()
}

// Close ends an open tunnel even when the backend keeps its side open.
func TestCloseEndsTunnels(t *testing.T) {
	release := make(chan struct{})
	var once sync.Once
	b := startBackend(t, func(rc *rawConn) {
		if _, err := rc.readRequest(); err != nil {
			return
		}
		rc.write("HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: x-test\r\n\r\n")
		io.Copy(io.Discard, rc.br) // until the engine ends its side
		<-release                  // but keep ours open
	})
	unstick := func() {
		once.Do(func() { close(release) })
		b.close()
	}
	t.Cleanup(unstick)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /tunnel HTTP/1.1\r\nHost: x\r\nConnection: upgrade\r\nUpgrade: x-test\r\n\r\n")
	if r := c.read("GET"); r.StatusCode != 101 {
		t.Fatalf("got %d, want 101", r.StatusCode)
	}
	closeWithin(t, "Close", h.srv.Close, unstick)
	c.expectClosed()
}

// A panic in the policy's Route answers 500, and the server goes on.
func TestPanicInRouteAnswers500(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	p.panicOn = "/panic"
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /panic HTTP/1.1\r\nHost: x\r\n\r\nGET /after HTTP/1.1\r\nHost: x\r\n\r\n")
	c.expectRefused("GET", 500)
	for range 3 {
		c := h.dial()
		c.send("GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /ok" {
			t.Errorf("after the panic: %d %q", r.StatusCode, r.body)
		}
	}
	for _, r := range b.requests() {
		if r.target() != "/ok" {
			t.Errorf("backend got %s", r.line)
		}
	}
}
