package health

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"runtime"
	"slices"
	"sync/atomic"
	"testing"
	"time"
)

// testDeadline bounds every wait in a test.
const testDeadline = 10 * time.Second

type transition struct {
	name   string
	up     bool
	reason string
}

// harness runs a Checker for one test and records its notifications.
type harness struct {
	t           *testing.T
	ctx         context.Context
	c           *Checker
	changes     chan []string
	transitions chan transition
}

// newHarness returns a Checker wired to the harness; run starts it.
func newHarness(t *testing.T, cfg Config, targets []Target, opts Options) *harness {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	t.Cleanup(cancel)
	h := &harness{
		t:           t,
		ctx:         ctx,
		changes:     make(chan []string, 1000),
		transitions: make(chan transition, 1000),
	}
	opts.Logger = slog.New(slog.NewTextHandler(t.Output(), nil))
	var first atomic.Bool
	first.Store(true)
	opts.OnChange = func(healthy []string) {
		if first.Swap(false) {
			select {
			case <-h.c.Ready():
				t.Error("Ready fired before OnChange had the first healthy set")
			default:
			}
		}
		select {
		case h.changes <- healthy:
		default:
			t.Error("too many healthy-set changes")
		}
	}
	opts.OnTransition = func(name string, up bool, reason string) {
		select {
		case h.transitions <- transition{name, up, reason}:
		default:
			t.Error("too many transitions")
		}
	}
	c, err := New(cfg, targets, opts)
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	h.c = c
	return h
}

// run starts the Checker; the test's cleanup stops it and waits for Run.
func (h *harness) run() {
	ctx, cancel := context.WithCancel(h.ctx)
	done := make(chan error, 1)
	go func() { done <- h.c.Run(ctx) }()
	h.t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			h.t.Errorf("Run: %v", err)
		}
	})
}

// start runs a new Checker and waits for its first round.
func startChecker(t *testing.T, cfg Config, targets []Target) *harness {
	t.Helper()
	h := newHarness(t, cfg, targets, Options{})
	h.run()
	h.waitReady()
	return h
}

func (h *harness) waitReady() {
	h.t.Helper()
	select {
	case <-h.c.Ready():
	case <-h.ctx.Done():
		h.t.Fatal("Ready never fired")
	}
}

// waitFor polls cond, for state that no event announces.
func (h *harness) waitFor(what string, cond func() bool) {
	h.t.Helper()
	tick := time.NewTicker(time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-h.ctx.Done():
			h.t.Fatalf("waited in vain for %s", what)
		}
	}
}

func (h *harness) nextChange() []string {
	h.t.Helper()
	select {
	case healthy := <-h.changes:
		return healthy
	case <-h.ctx.Done():
		h.t.Fatal("no healthy-set change")
		return nil
	}
}

func (h *harness) nextTransition() transition {
	h.t.Helper()
	select {
	case tr := <-h.transitions:
		return tr
	case <-h.ctx.Done():
		h.t.Fatal("no transition")
		return transition{}
	}
}

func (h *harness) wantChange(want ...string) {
	h.t.Helper()
	if got := h.nextChange(); !slices.Equal(got, want) {
		h.t.Fatalf("healthy set changed to %q, want %q", got, want)
	}
}

func (h *harness) wantHealthy(want ...string) {
	h.t.Helper()
	if got := h.c.Healthy(); !slices.Equal(got, want) {
		h.t.Fatalf("Healthy() = %q, want %q", got, want)
	}
}

// wantQuiet fails if a notification is waiting.
func (h *harness) wantQuiet() {
	h.t.Helper()
	select {
	case tr := <-h.transitions:
		h.t.Fatalf("unexpected transition %+v", tr)
	case healthy := <-h.changes:
		h.t.Fatalf("unexpected healthy-set change to %q", healthy)
	default:
	}
}

func (h *harness) status(name string) TargetStatus {
	h.t.Helper()
	for _, s := range h.c.Status() {
		if s.Name == name {
			return s
		}
	}
	h.t.Fatalf("no status for %s", name)
	return TargetStatus{}
}

// tcpBackend is a listener that accepts and closes connections, counting
// them.
type tcpBackend struct {
	ln    net.Listener
	conns chan struct{}
}

func newTCPBackend(t *testing.T, addr string) (*tcpBackend, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	b := &tcpBackend{ln: ln, conns: make(chan struct{}, 10000)}
	go b.serve()
	t.Cleanup(func() { ln.Close() })
	return b, nil
}

func (b *tcpBackend) serve() {
	for {
		conn, err := b.ln.Accept()
		if err != nil {
			return
		}
		conn.Close()
		select {
		case b.conns <- struct{}{}:
		default:
		}
	}
}

// waitConns waits until the backend has accepted n connections.
func (b *tcpBackend) waitConns(h *harness, n int) {
	h.t.Helper()
	for range n {
		select {
		case <-b.conns:
		case <-h.ctx.Done():
			h.t.Fatalf("backend never accepted %d connections", n)
		}
	}
}

func (b *tcpBackend) target(name string) Target {
	return Target{Name: name, URL: httpURL(b.ln.Addr().String())}
}

// httpBackend is a test server that counts the requests it receives and
// tells of each on hits.
type httpBackend struct {
	srv      *httptest.Server
	requests atomic.Int64
	hits     chan int64
}

// newHTTPBackend serves handler, given the 1-based number of each request.
func newHTTPBackend(t *testing.T, handler func(n int64, w http.ResponseWriter, r *http.Request)) *httpBackend {
	b := &httpBackend{hits: make(chan int64, 10000)}
	b.srv = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		n := b.requests.Add(1)
		handler(n, w, r)
		select {
		case b.hits <- n:
		default:
		}
	}))
	t.Cleanup(b.srv.Close)
	return b
}

func statusHandler(code int) func(int64, http.ResponseWriter, *http.Request) {
	return func(_ int64, w http.ResponseWriter, _ *http.Request) { w.WriteHeader(code) }
}

func (b *httpBackend) target(name string) Target {
	return Target{Name: name, URL: httpURL(b.srv.Listener.Addr().String())}
}

// waitRequests waits until the backend has answered at least n requests.
func (b *httpBackend) waitRequests(h *harness, n int64) {
	h.t.Helper()
	for {
		select {
		case got := <-b.hits:
			if got >= n {
				return
			}
		case <-h.ctx.Done():
			h.t.Fatalf("backend answered %d requests, waited for %d", b.requests.Load(), n)
		}
	}
}

func httpURL(addr string) *url.URL {
	return &url.URL{Scheme: "http", Host: addr}
}

// closedTarget names a local port nothing listens on.
func closedTarget(t *testing.T, name string) Target {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return Target{Name: name, URL: httpURL(addr)}
}

var errTest = errors.New("connection reset by peer")

// waitGoroutines waits until no more goroutines run than before, and dumps
// them all if that never happens.
func waitGoroutines(t *testing.T, before int) {
	t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines, %d before:\n%s", runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(5 * time.Millisecond)
	}
}
