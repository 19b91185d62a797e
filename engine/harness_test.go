package engine_test

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peekroute/peekroute/engine"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// waitLimit bounds every wait on an event, so that a test that finds the
// engine stuck fails instead of hanging.
const waitLimit = 5 * time.Second

// recv waits for one value from ch, failing the test when none comes.
func recv[T any](t testing.TB, ch <-chan T, what string) T {
	t.Helper()
	select {
	case v := <-ch:
		return v
	case <-time.After(waitLimit):
		t.Fatalf("timed out waiting for %s", what)
		panic("unreachable")
	}
}

// testLogger discards the engine's logs unless ENGINE_TEST_LOG is set.
func testLogger() *slog.Logger {
	if os.Getenv("ENGINE_TEST_LOG") != "" {
		return slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// ---- the policy ----

// failure is one BackendFailed call.
type failure struct {
	target string
	err    error
}

// ended is what Done heard of one exchange, copied out of the Exchange the
// engine reuses.
type ended struct {
	method, target string // of the request; "" when no head was parsed
	status         int
	err            error
	bytesIn        int64
	bytesOut       int64
	backend        string // the Target tried last; "" for none
	retried, tls   bool
}

// peeked is what a peeking Route read through Exchange.Body.
type peeked struct {
	content []byte
	err     error
}

// testPolicy routes every request to target (or to what choose picks),
// optionally after reading the body, and records what the engine tells it.
type testPolicy struct {
	target  *engine.Target
	choose  func(x *engine.Exchange) *engine.Target // when set, overrides target
	peek    bool                                    // read the body through x.Body before routing
	panicOn string                                  // a request-target whose Route panics
	retryTo *engine.Target                          // what Retry offers; nil: no retry

	routes chan string // the request-target of every Route call
	peeks  chan peeked
	done   chan ended

	mu      sync.Mutex
	failed  []failure
	retries int
	dones   []ended
}

func newPolicy(target *engine.Target) *testPolicy {
	return &testPolicy{
		target: target,
		routes: make(chan string, 256),
		peeks:  make(chan peeked, 256),
		done:   make(chan ended, 256),
	}
}

func (p *testPolicy) Route(x *engine.Exchange) (*engine.Target, error) {
	target := string(x.Req.Target)
	select {
	case p.routes <- target:
	default:
	}
	if p.panicOn != "" && target == p.panicOn {
		panic("test policy panics on " + target)
	}
	if p.peek {
		content, err := io.ReadAll(x.Body())
		if errors.Is(err, engine.ErrPeekLimit) {
			err = nil
		}
		select {
		case p.peeks <- peeked{content, err}:
		default:
		}
		if err != nil {
			return nil, err
		}
	}
	if p.choose != nil {
		return p.choose(x), nil
	}
	return p.target, nil
}

func (p *testPolicy) Retry(x *engine.Exchange, failed *engine.Target) *engine.Target {
	p.mu.Lock()
	p.retries++
	p.mu.Unlock()
	return p.retryTo
}

// Reroute keeps a queued exchange where it was routed.
func (p *testPolicy) Reroute(x *engine.Exchange, current *engine.Target) *engine.Target {
	return current
}

func (p *testPolicy) BackendFailed(t *engine.Target, err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.failed = append(p.failed, failure{t.Name, err})
}

func (p *testPolicy) Done(x *engine.Exchange) {
	e := ended{status: x.Status, err: x.Err, bytesIn: x.BytesIn, bytesOut: x.BytesOut, retried: x.Retried, tls: x.TLS}
	if x.Req != nil {
		e.method, e.target = string(x.Req.Method), string(x.Req.Target)
	}
	if x.Target != nil {
		e.backend = x.Target.Name
	}
	p.mu.Lock()
	p.dones = append(p.dones, e)
	p.mu.Unlock()
	select {
	case p.done <- e:
	default:
	}
}

func (p *testPolicy) failures() []failure {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]failure(nil), p.failed...)
}

func (p *testPolicy) endedAll() []ended {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]ended(nil), p.dones...)
}

// waitDone waits for the next exchange to end.
func (p *testPolicy) waitDone(t testing.TB) ended {
	t.Helper()
	return recv(t, p.done, "the policy to hear Done")
}

// expectNoFailures checks that no backend was blamed; call it once the
// engine is closed, so that no call is still to come.
func (p *testPolicy) expectNoFailures(t testing.TB) {
	t.Helper()
	for _, f := range p.failures() {
		t.Errorf("BackendFailed(%s, %v) was called; want no backend blamed", f.target, f.err)
	}
}

// ---- the engine ----

// harness is an engine serving on a loopback port until the test ends.
type harness struct {
	t      testing.TB
	srv    *engine.Server
	addr   string
	served chan error
	once   sync.Once
}

func startEngine(t testing.TB, cfg engine.Config) *harness {
	return startEngineOn(t, cfg, nil)
}

// startEngineOn serves cfg on a loopback listener, wrapped by wrap when set.
func startEngineOn(t testing.TB, cfg engine.Config, wrap func(net.Listener) net.Listener) *harness {
	t.Helper()
	if cfg.Logger == nil {
		cfg.Logger = testLogger()
	}
	srv, err := engine.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, srv: srv, addr: ln.Addr().String(), served: make(chan error, 1)}
	var l net.Listener = ln
	if wrap != nil {
		l = wrap(ln)
	}
	go func() { h.served <- srv.Serve(l) }()
	t.Cleanup(h.close)
	return h
}

// close closes the server and waits for Serve to return; once it has, no
// policy call is still to come.
func (h *harness) close() {
	h.once.Do(func() {
		closed := make(chan struct{})
		go func() {
			h.srv.Close()
			close(closed)
		}()
		select {
		case <-closed:
		case <-time.After(waitLimit):
			h.t.Errorf("engine: Close did not return within %v", waitLimit)
			return
		}
		select {
		case err := <-h.served:
			if !errors.Is(err, engine.ErrServerClosed) {
				h.t.Errorf("Serve returned %v, want ErrServerClosed", err)
			}
		case <-time.After(waitLimit):
			h.t.Errorf("Serve did not return after Close")
		}
	})
}

// ---- raw clients ----

// client is a raw TCP client connection to the engine.
type client struct {
	t  testing.TB
	nc net.Conn
	br *bufio.Reader
}

func (h *harness) dial() *client {
	h.t.Helper()
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		h.t.Fatal(err)
	}
	return newClient(h.t, nc)
}

func newClient(t testing.TB, nc net.Conn) *client {
	nc.SetDeadline(time.Now().Add(2 * waitLimit))
	t.Cleanup(func() { nc.Close() })
	return &client{t: t, nc: nc, br: bufio.NewReader(nc)}
}

func (c *client) send(s string) {
	c.t.Helper()
	if _, err := io.WriteString(c.nc, s); err != nil {
		c.t.Fatalf("client write: %v", err)
	}
}

// response is a response read by a client, its body read whole.
type response struct {
	*http.Response
	body string
}

// read reads one response to a request with the given method.
func (c *client) read(method string) response {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Fatalf("client: reading a response: %v", err)
	}
	return r
}

func (c *client) tryRead(method string) (response, error) {
	resp, err := http.ReadResponse(c.br, &http.Request{Method: method})
	if err != nil {
		return response{Response: &http.Response{}}, err // no status: fields read as zero
	}
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return response{Response: resp, body: string(body)}, fmt.Errorf("reading the body: %w", err)
	}
	return response{Response: resp, body: string(body)}, nil
}

// readExactly reads exactly n bytes.
func (c *client) readExactly(n int) string {
	c.t.Helper()
	b := make([]byte, n)
	if k, err := io.ReadFull(c.br, b); err != nil {
		c.t.Fatalf("client: read %d of %d bytes: %v (got %q)", k, n, err, b[:k])
	}
	return string(b)
}

// expectClosed checks that the engine closed the connection: the next
// read ends the stream instead of returning bytes or waiting.
func (c *client) expectClosed() {
	c.t.Helper()
	b, err := c.br.ReadByte()
	switch {
	case err == nil:
		rest, _ := c.br.Peek(c.br.Buffered())
		c.t.Errorf("connection still open: read %q", append([]byte{b}, rest...))
	case errors.Is(err, io.EOF), errors.Is(err, syscall.ECONNRESET):
	default:
		c.t.Errorf("connection not closed: %v", err)
	}
}

// expectRefused checks a response the engine wrote itself to end a
// connection: the status, Connection: close, then the end of the stream.
func (c *client) expectRefused(method string, status int) response {
	c.t.Helper()
	r, err := c.tryRead(method)
	if err != nil {
		c.t.Errorf("want a %d response, reading it: %v", status, err)
		return r
	}
	if r.StatusCode != status {
		c.t.Errorf("status %d (%q), want %d", r.StatusCode, r.body, status)
	}
	if !r.Close { // ReadResponse takes Connection: close out of the header into Close
		c.t.Errorf("response lacks Connection: close (header %v)", r.Header)
	}
	c.expectClosed()
	return r
}

// ---- raw backends ----

// rawBackend is a backend on a loopback port that records every byte it
// reads and answers with exact bytes.
type rawBackend struct {
	t     testing.TB
	ln    net.Listener
	addr  string
	serve func(rc *rawConn) // runs once per accepted connection

	accepted chan int         // the index of every accepted connection
	got      chan *rawRequest // every request read by serveRequests

	wg     sync.WaitGroup
	mu     sync.Mutex
	conns  []*rawConn
	reqs   []*rawRequest
	closed bool
}

// rawConn is one connection a rawBackend accepted.
type rawConn struct {
	net.Conn
	b   *rawBackend
	idx int
	br  *bufio.Reader

	mu  sync.Mutex
	raw []byte // every byte read, in order
}

// rawRequest is one request as a backend received it.
type rawRequest struct {
	conn   int      // which backend connection it came on
	head   string   // as received, blank line included
	line   string   // the request line without CRLF
	fields []string // field lines as received, without CRLF
	body   []byte   // as received, chunked framing and trailers included
}

func (r *rawRequest) method() string { m, _, _ := strings.Cut(r.line, " "); return m }

func (r *rawRequest) target() string {
	parts := strings.Split(r.line, " ")
	if len(parts) < 2 {
		return ""
	}
	return parts[1]
}

// field returns the values of the fields called name, in order.
func (r *rawRequest) field(name string) []string {
	var vs []string
	for _, f := range r.fields {
		n, v, ok := strings.Cut(f, ":")
		if ok && strings.EqualFold(n, name) {
			vs = append(vs, strings.Trim(v, " \t"))
		}
	}
	return vs
}

// startBackend starts a raw backend; serve nil answers every request with
// answerOK.
func startBackend(t testing.TB, serve func(rc *rawConn)) *rawBackend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	return startBackendOn(t, ln, serve)
}

func startBackendOn(t testing.TB, ln net.Listener, serve func(rc *rawConn)) *rawBackend {
	if serve == nil {
		serve = serveRequests(answerOK)
	}
	b := &rawBackend{t: t, ln: ln, addr: ln.Addr().String(), serve: serve,
		accepted: make(chan int, 256), got: make(chan *rawRequest, 256)}
	b.wg.Add(1)
	go b.acceptLoop()
	t.Cleanup(b.close)
	return b
}

func (b *rawBackend) acceptLoop() {
	defer b.wg.Done()
	for {
		nc, err := b.ln.Accept()
		if err != nil {
			return
		}
		b.mu.Lock()
		if b.closed {
			b.mu.Unlock()
			nc.Close()
			return
		}
		rc := &rawConn{Conn: nc, b: b, idx: len(b.conns)}
		rc.br = bufio.NewReader(readerFunc(rc.readRaw))
		b.conns = append(b.conns, rc)
		b.wg.Add(1)
		b.mu.Unlock()
		b.accepted <- rc.idx
		go func() {
			defer b.wg.Done()
			defer rc.Close()
			b.serve(rc)
		}()
	}
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

func (rc *rawConn) readRaw(p []byte) (int, error) {
	n, err := rc.Conn.Read(p)
	rc.mu.Lock()
	rc.raw = append(rc.raw, p[:n]...)
	rc.mu.Unlock()
	return n, err
}

// rawBytes returns every byte the connection has read so far.
func (rc *rawConn) rawBytes() []byte {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	return append([]byte(nil), rc.raw...)
}

func (b *rawBackend) target(name string) *engine.Target {
	return &engine.Target{Name: name, Addr: b.addr}
}

// acceptedConns returns how many connections the backend accepted.
func (b *rawBackend) acceptedConns() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.conns)
}

func (b *rawBackend) connections() []*rawConn {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*rawConn(nil), b.conns...)
}

func (b *rawBackend) requests() []*rawRequest {
	b.mu.Lock()
	defer b.mu.Unlock()
	return append([]*rawRequest(nil), b.reqs...)
}

// close stops the backend at once: the listener and every connection.
func (b *rawBackend) close() {
	b.mu.Lock()
	b.closed = true
	conns := append([]*rawConn(nil), b.conns...)
	b.mu.Unlock()
	b.ln.Close()
	for _, rc := range conns {
		rc.Close()
	}
	b.wg.Wait()
}

// drain stops accepting and waits for every connection's handler to end
// by itself (the engine closing its side), so that rawBytes is final.
func (b *rawBackend) drain() {
	b.t.Helper()
	b.mu.Lock()
	b.closed = true
	b.mu.Unlock()
	b.ln.Close()
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(waitLimit):
		b.t.Errorf("backend connections still open %v after the engine closed", waitLimit)
		b.close()
	}
}

// readHead reads one request head.
func (rc *rawConn) readHead() (*rawRequest, error) {
	r := &rawRequest{conn: rc.idx}
	var head strings.Builder
	for first := true; ; first = false {
		line, err := rc.br.ReadString('\n')
		head.WriteString(line)
		if err != nil {
			r.head = head.String()
			return r, err
		}
		line = strings.TrimSuffix(strings.TrimSuffix(line, "\n"), "\r")
		switch {
		case first:
			r.line = line
		case line == "":
			r.head = head.String()
			return r, nil
		default:
			r.fields = append(r.fields, line)
		}
	}
}

// readBody reads the body r's head announces, as it comes on the wire.
func (rc *rawConn) readBody(r *rawRequest) error {
	if te := r.field("Transfer-Encoding"); len(te) > 0 {
		return rc.readChunked(r)
	}
	cl := r.field("Content-Length")
	if len(cl) == 0 {
		return nil
	}
	n, err := strconv.ParseInt(cl[0], 10, 64)
	if err != nil {
		return err
	}
	r.body = make([]byte, n)
	k, err := io.ReadFull(rc.br, r.body)
	r.body = r.body[:k]
	return err
}

func (rc *rawConn) readChunked(r *rawRequest) error {
	var body []byte
	defer func() { r.body = body }()
	for {
		line, err := rc.br.ReadString('\n')
		body = append(body, line...)
		if err != nil {
			return err
		}
		size := strings.TrimRight(line, "\r\n")
		if i := strings.IndexByte(size, ';'); i >= 0 {
			size = size[:i]
		}
		n, err := strconv.ParseUint(size, 16, 63)
		if err != nil {
			return fmt.Errorf("chunk size %q: %w", size, err)
		}
		if n == 0 {
			break
		}
		data := make([]byte, n+2)
		k, err := io.ReadFull(rc.br, data)
		body = append(body, data[:k]...)
		if err != nil {
			return err
		}
	}
	for { // trailer section
		line, err := rc.br.ReadString('\n')
		body = append(body, line...)
		if err != nil {
			return err
		}
		if line == "\r\n" {
			return nil
		}
	}
}

// readRequest reads one whole request and records it.
func (rc *rawConn) readRequest() (*rawRequest, error) {
	r, err := rc.readHead()
	if err == nil {
		err = rc.readBody(r)
	}
	if err != nil {
		return r, err
	}
	rc.b.mu.Lock()
	rc.b.reqs = append(rc.b.reqs, r)
	rc.b.mu.Unlock()
	select {
	case rc.b.got <- r:
	default: // a test that waits on got reads it long before it fills
	}
	return r, nil
}

// serveRequests answers requests on a connection one after another with
// answer, until the engine closes it or answer reports false; then it
// reads on until the engine closes it, so that every byte is recorded.
func serveRequests(answer func(rc *rawConn, r *rawRequest) bool) func(rc *rawConn) {
	return func(rc *rawConn) {
		for {
			r, err := rc.readRequest()
			if err != nil {
				return
			}
			if !answer(rc, r) {
				return
			}
		}
	}
}

// answerOK answers 200 with the body "ok <target>".
func answerOK(rc *rawConn, r *rawRequest) bool {
	body := "ok " + r.target()
	_, err := fmt.Fprintf(rc, "HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	return err == nil
}

// write writes s to the connection, reporting whether it could.
func (rc *rawConn) write(s string) bool {
	_, err := io.WriteString(rc, s)
	return err == nil
}

// drainToEOF reads until the engine closes the connection.
func (rc *rawConn) drainToEOF() {
	io.Copy(io.Discard, rc.br)
}
