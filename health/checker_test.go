package health

import (
	"context"
	"io"
	"log"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// checkTimeout is generous: a TLS handshake on a loaded machine under the
// race detector can take a good part of a second. Tests of timeouts set
// their own.
const checkTimeout = 10 * time.Second

// fastConfig checks often enough for a test to see many rounds quickly.
func fastConfig(path string) Config {
	return Config{Path: path, Interval: 10 * time.Millisecond, Timeout: checkTimeout, Rise: 2, Fall: 3}
}

// slowConfig never checks again within a test after the first round.
func slowConfig(path string) Config {
	return Config{Path: path, Interval: time.Hour, Timeout: checkTimeout, Rise: 2, Fall: 3}
}

func wantTransition(t *testing.T, got transition, name string, up bool, reason string) {
	t.Helper()
	if got.name != name || got.up != up || !strings.Contains(got.reason, reason) {
		t.Fatalf("transition %+v, want %s up=%v with reason containing %q", got, name, up, reason)
	}
}

func TestTCPCheckDownAndUpAgain(t *testing.T) {
	b, err := newTCPBackend(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := b.ln.Addr().String()
	h := startChecker(t, fastConfig(""), []Target{b.target("b")})
	h.wantChange("b")
	h.wantHealthy("b")

	b.ln.Close()
	wantTransition(t, h.nextTransition(), "b", false, "3 consecutive failures")
	h.wantChange()
	h.wantHealthy()

	b, err = newTCPBackend(t, addr)
	if err != nil {
		t.Skipf("cannot listen on %s again (TestHTTPCheckDownAndUpAgain covers this): %v", addr, err)
	}
	wantTransition(t, h.nextTransition(), "b", true, "2 consecutive successes")
	h.wantChange("b")
	h.wantHealthy("b")
	b.waitConns(h, 2)
	h.wantQuiet()
}

func TestHTTPCheckDownAndUpAgain(t *testing.T) {
	var failing atomic.Bool
	b := newHTTPBackend(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
		if failing.Load() {
			w.WriteHeader(http.StatusServiceUnavailable)
		}
	})
	h := startChecker(t, fastConfig("/health"), []Target{b.target("b")})
	h.wantChange("b")

	failing.Store(true)
	wantTransition(t, h.nextTransition(), "b", false, "3 consecutive failures: http check: GET")
	h.wantChange()
	if s := h.status("b"); s.Up || !strings.Contains(s.LastError, "503") {
		t.Errorf("status while down: %+v", s)
	}

	failing.Store(false)
	wantTransition(t, h.nextTransition(), "b", true, "2 consecutive successes")
	h.wantChange("b")
	h.wantQuiet()
}

func TestHTTPCheckStatus(t *testing.T) {
	tests := []struct {
		name    string
		handler func(w http.ResponseWriter, r *http.Request)
		up      bool
		lastErr string
	}{
		{"200", func(w http.ResponseWriter, _ *http.Request) {}, true, ""},
		{"204", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNoContent) }, true, ""},
		{"302 is not followed", func(w http.ResponseWriter, r *http.Request) {
			http.Redirect(w, r, "/broken", http.StatusFound)
		}, true, ""},
		{"404", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusNotFound) }, false, "404 Not Found"},
		{"500", func(w http.ResponseWriter, _ *http.Request) { w.WriteHeader(http.StatusInternalServerError) }, false, "500 Internal Server Error"},
		{"timeout", func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }, false, "deadline exceeded"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var paths []string
			b := newHTTPBackend(t, func(_ int64, w http.ResponseWriter, r *http.Request) {
				mu.Lock()
				paths = append(paths, r.URL.Path)
				mu.Unlock()
				if r.URL.Path == "/broken" {
					w.WriteHeader(http.StatusInternalServerError)
					return
				}
				tt.handler(w, r)
			})
			cfg := slowConfig("/health")
			if tt.name == "timeout" {
				cfg.Timeout = 100 * time.Millisecond
			}
			h := startChecker(t, cfg, []Target{b.target("b")})
			s := h.status("b")
			if !s.Checked || s.Up != tt.up || !strings.Contains(s.LastError, tt.lastErr) {
				t.Fatalf("status %+v, want up=%v with last error containing %q", s, tt.up, tt.lastErr)
			}
			mu.Lock()
			defer mu.Unlock()
			if len(paths) != 1 || paths[0] != "/health" {
				t.Errorf("server saw requests for %q, want one for /health", paths)
			}
		})
	}
}

// recordingTransport wraps a transport and records what happened to each
// response body.
type recordingTransport struct {
	next                  http.RoundTripper
	read                  atomic.Int64
	eof, closed, closeReq atomic.Bool
}

func (rt *recordingTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	rt.closeReq.Store(req.Close)
	resp, err := rt.next.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	resp.Body = &recordingBody{ReadCloser: resp.Body, rt: rt}
	return resp, nil
}

type recordingBody struct {
	io.ReadCloser
	rt *recordingTransport
}

func (b *recordingBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.rt.read.Add(int64(n))
	if err == io.EOF {
		b.rt.eof.Store(true)
	}
	return n, err
}

func (b *recordingBody) Close() error {
	b.rt.closed.Store(true)
	return b.ReadCloser.Close()
}

func TestHTTPCheckDrainsBody(t *testing.T) {
	const size = 10000
	for _, code := range []int{http.StatusOK, http.StatusInternalServerError} {
		t.Run(http.StatusText(code), func(t *testing.T) {
			b := newHTTPBackend(t, func(_ int64, w http.ResponseWriter, _ *http.Request) {
				w.WriteHeader(code)
				w.Write([]byte(strings.Repeat("x", size)))
			})
			rt := &recordingTransport{next: http.DefaultTransport}
			h := newHarness(t, slowConfig("/health"), []Target{b.target("b")}, Options{Transport: rt})
			h.run()
			h.waitReady()
			if rt.read.Load() != size || !rt.eof.Load() || !rt.closed.Load() {
				t.Errorf("read %d of %d bytes, EOF %v, closed %v", rt.read.Load(), size, rt.eof.Load(), rt.closed.Load())
			}
			if !rt.closeReq.Load() {
				t.Error("check request does not ask to close its connection")
			}
		})
	}
}

func TestHTTPSCheck(t *testing.T) {
	srv := httptest.NewUnstartedServer(http.HandlerFunc(func(http.ResponseWriter, *http.Request) {}))
	srv.Config.ErrorLog = log.New(io.Discard, "", 0) // failed handshakes are expected
	srv.StartTLS()
	t.Cleanup(srv.Close)
	tg := Target{Name: "b", URL: mustURL(t, srv.URL)}
	tests := []struct {
		name      string
		path      string
		transport http.RoundTripper
		up        bool
		lastErr   string
	}{
		{"trusted CA", "/health", srv.Client().Transport, true, ""},
		{"unknown CA", "/health", nil, false, "certificate"},
		{"tcp check ignores TLS", "", nil, true, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			h := newHarness(t, slowConfig(tt.path), []Target{tg}, Options{Transport: tt.transport})
			h.run()
			h.waitReady()
			s := h.status("b")
			if s.Up != tt.up || !strings.Contains(s.LastError, tt.lastErr) {
				t.Fatalf("status %+v, want up=%v with last error containing %q", s, tt.up, tt.lastErr)
			}
		})
	}
}

func TestFlappingNeverChangesState(t *testing.T) {
	const checks = 20
	tests := []struct {
		name       string
		rise, fall int
		firstOK    bool
	}{
		{"starts up, rise 2 fall 2", 2, 2, true},
		{"starts down, rise 2 fall 2", 2, 2, false},
		{"starts up, rise 2 fall 3", 2, 3, true},
		{"starts down, rise 3 fall 3", 3, 3, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := newHTTPBackend(t, func(n int64, w http.ResponseWriter, _ *http.Request) {
				if (n%2 == 1) != tt.firstOK {
					w.WriteHeader(http.StatusInternalServerError)
				}
			})
			cfg := fastConfig("/health")
			cfg.Interval = 5 * time.Millisecond
			cfg.Rise, cfg.Fall = tt.rise, tt.fall
			h := startChecker(t, cfg, []Target{b.target("b")})
			first := h.status("b")
			if first.Up != tt.firstOK {
				t.Fatalf("first check decided %+v", first)
			}
			h.nextChange()
			// The server answering check n+2 means check n+1 has been
			// recorded: the first one and then checks more.
			b.waitRequests(h, checks+2)
			s := h.status("b")
			if s.Up != tt.firstOK || !s.Since.Equal(first.Since) {
				t.Fatalf("after %d alternating checks: %+v, first %+v", checks, s, first)
			}
			h.wantQuiet()
		})
	}
}

func TestReadyAfterFirstRound(t *testing.T) {
	up := newHTTPBackend(t, statusHandler(http.StatusOK))
	arrived, release := make(chan struct{}), make(chan struct{})
	var once sync.Once
	slow := newHTTPBackend(t, func(_ int64, _ http.ResponseWriter, r *http.Request) {
		once.Do(func() { close(arrived) })
		select {
		case <-release:
		case <-r.Context().Done():
		}
	})
	cfg := slowConfig("/health")
	cfg.Timeout = testDeadline
	targets := []Target{slow.target("b"), up.target("a"), closedTarget(t, "c")}
	h := newHarness(t, cfg, targets, Options{})
	h.run()

	select {
	case <-arrived:
	case <-h.ctx.Done():
		t.Fatal("slow backend never checked")
	}
	select {
	case <-h.c.Ready():
		t.Fatal("Ready fired while a first check was still running")
	default:
	}
	h.wantQuiet()

	close(release)
	h.waitReady()
	select {
	case got := <-h.changes:
		if strings.Join(got, ",") != "a,b" {
			t.Fatalf("first healthy set %q, want [a b]", got)
		}
	default:
		t.Fatal("Ready fired before OnChange had the first healthy set")
	}
	h.wantHealthy("a", "b")
	for _, s := range h.c.Status() {
		if !s.Checked {
			t.Errorf("%s not checked at Ready", s.Name)
		}
	}
	if s := h.status("c"); s.Up || !strings.Contains(s.LastError, "connection refused") {
		t.Errorf("closed port: %+v", s)
	}
	h.wantQuiet()
}

func TestTargetsAddedBeforeReadyJoinFirstRound(t *testing.T) {
	releaseA, releaseX := make(chan struct{}), make(chan struct{})
	arrivedX := make(chan struct{}, 1)
	blocking := func(arrived chan struct{}, release chan struct{}) func(int64, http.ResponseWriter, *http.Request) {
		return func(_ int64, _ http.ResponseWriter, r *http.Request) {
			if arrived != nil {
				arrived <- struct{}{}
			}
			select {
			case <-release:
			case <-r.Context().Done():
			}
		}
	}
	a := newHTTPBackend(t, blocking(nil, releaseA))
	x := newHTTPBackend(t, blocking(arrivedX, releaseX))
	cfg := slowConfig("/health")
	cfg.Timeout = testDeadline
	h := newHarness(t, cfg, []Target{a.target("a")}, Options{})
	h.run()
	if err := h.c.SetTargets([]Target{a.target("a"), x.target("x")}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-arrivedX:
	case <-h.ctx.Done():
		t.Fatal("added target never checked")
	}
	// a's result comes in while x is still being checked.
	close(releaseA)
	h.waitFor("a checked", func() bool { return h.status("a").Checked })
	close(releaseX)
	h.waitReady()
	h.wantChange("a", "x")
}

func TestReadyWithoutTargets(t *testing.T) {
	h := startChecker(t, slowConfig(""), nil)
	h.wantChange()
	h.wantHealthy()
}

func TestReportFailureMarksDownAtFall(t *testing.T) {
	b, err := newTCPBackend(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	h := startChecker(t, slowConfig(""), []Target{b.target("b")})
	h.wantChange("b")

	for i := 1; i < 3; i++ {
		h.c.ReportFailure("b", errTest)
		h.wantHealthy("b")
		if s := h.status("b"); s.Failures != i {
			t.Fatalf("after %d reports: %+v", i, s)
		}
	}
	h.c.ReportFailure("b", errTest)
	h.wantHealthy()
	wantTransition(t, h.nextTransition(), "b", false, "3 consecutive failures: request failed: "+errTest.Error())
	h.wantChange()
	if s := h.status("b"); s.Up || !strings.Contains(s.LastError, errTest.Error()) {
		t.Errorf("status after going down: %+v", s)
	}
	h.wantQuiet()
}

func TestReportFailureIgnored(t *testing.T) {
	b, err := newTCPBackend(t, "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	cfg := slowConfig("")
	cfg.Fall = 1
	h := newHarness(t, cfg, []Target{b.target("b")}, Options{})
	h.c.ReportFailure("b", errTest) // before Run
	h.run()
	h.waitReady()
	h.wantChange("b")

	h.c.ReportFailure("nobody", errTest)
	h.c.ReportFailure("", errTest)
	h.wantHealthy("b")
	if s := h.status("b"); s.Failures != 0 || s.LastError != "" {
		t.Fatalf("status after ignored reports: %+v", s)
	}
	// With Fall 1 a report that counts flips the target at once; being
	// the next notification proves the ignored ones made none.
	h.c.ReportFailure("b", errTest)
	wantTransition(t, h.nextTransition(), "b", false, "1 consecutive failures")
	h.wantChange()
}

func TestSetTargets(t *testing.T) {
	a := newHTTPBackend(t, statusHandler(http.StatusOK))
	b := newHTTPBackend(t, statusHandler(http.StatusOK))
	d := closedTarget(t, "d")
	h := startChecker(t, fastConfig("/health"), []Target{a.target("a"), d})
	h.wantChange("a")

	// Adding b: its first check decides it up.
	if err := h.c.SetTargets([]Target{a.target("a"), d, b.target("b")}); err != nil {
		t.Fatal(err)
	}
	h.wantChange("a", "b")
	bAdded := h.status("b")

	// Invalid lists change nothing.
	if err := h.c.SetTargets([]Target{a.target("a"), a.target("a")}); err == nil {
		t.Fatal("SetTargets accepted a name twice")
	}
	h.wantHealthy("a", "b")

	// Removing d (down) changes nothing; removing a does, at once.
	if err := h.c.SetTargets([]Target{a.target("a"), b.target("b")}); err != nil {
		t.Fatal(err)
	}
	if err := h.c.SetTargets([]Target{b.target("b")}); err != nil {
		t.Fatal(err)
	}
	h.wantHealthy("b")
	h.wantChange("b")

	// a is no longer checked while b goes on being checked.
	aRequests := a.requests.Load()
	b.waitRequests(h, b.requests.Load()+3)
	if n := a.requests.Load(); n > aRequests+1 {
		t.Errorf("removed target checked %d more times", n-aRequests)
	}
	// b kept its state and counters through every call.
	if s := h.status("b"); !s.Since.Equal(bAdded.Since) || s.Successes < bAdded.Successes {
		t.Errorf("b after SetTargets: %+v, when added: %+v", s, bAdded)
	}

	// Re-adding a checks it again from scratch.
	if err := h.c.SetTargets([]Target{b.target("b"), a.target("a")}); err != nil {
		t.Fatal(err)
	}
	h.wantChange("a", "b")

	// b under the same name but another URL is a new target.
	movedB := d
	movedB.Name = "b"
	if err := h.c.SetTargets([]Target{a.target("a"), movedB}); err != nil {
		t.Fatal(err)
	}
	h.wantChange("a")
	if len(h.c.Status()) != 2 {
		t.Errorf("status lists %d targets, want 2", len(h.c.Status()))
	}
	h.wantQuiet()
}

func TestRunStopsEveryGoroutine(t *testing.T) {
	a := newHTTPBackend(t, statusHandler(http.StatusOK))
	b := newHTTPBackend(t, statusHandler(http.StatusOK))
	before := runtime.NumGoroutine()

	c, err := New(fastConfig("/health"), []Target{a.target("a"), closedTarget(t, "c")}, Options{
		Logger: slog.New(slog.NewTextHandler(t.Output(), nil)),
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), testDeadline)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- c.Run(runCtx) }()
	select {
	case <-c.Ready():
	case <-ctx.Done():
		t.Fatal("Ready never fired")
	}
	if err := c.SetTargets([]Target{a.target("a"), b.target("b")}); err != nil {
		t.Fatal(err)
	}
	h := &harness{t: t, ctx: ctx}
	b.waitRequests(h, 3)

	stop()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run: %v", err)
		}
	case <-ctx.Done():
		t.Fatal("Run did not return after cancel")
	}
	// Run returns only once its own goroutines have ended; the transport's
	// and the servers' wind down on their own.
	buf := make([]byte, 1<<20)
	if stacks := string(buf[:runtime.Stack(buf, true)]); strings.Contains(stacks, "health.(*Checker).") {
		t.Fatalf("checker goroutines still running after Run returned:\n%s", stacks)
	}
	if err := c.Run(ctx); err == nil {
		t.Error("a second Run did not fail")
	}
	for range 3 {
		c.ReportFailure("a", errTest)
	}
	if s := c.Status()[0]; s.Name != "a" || !s.Up || s.Failures != 0 {
		t.Errorf("reports after Run returned changed %+v", s)
	}
	waitGoroutines(t, before)
}

func TestNewRejectsBadInput(t *testing.T) {
	good := Target{Name: "a", URL: mustURL(t, "http://a:1")}
	if _, err := New(Config{}, nil, Options{}); err == nil {
		t.Error("New accepted a zero Config")
	}
	if _, err := New(DefaultConfig(), []Target{good, good}, Options{}); err == nil {
		t.Error("New accepted a name twice")
	}
	// New copies the URLs it is given.
	c, err := New(DefaultConfig(), []Target{good}, Options{})
	if err != nil {
		t.Fatal(err)
	}
	good.URL.Host = "elsewhere:1"
	if got := c.Status()[0].URL; got != "http://a:1" {
		t.Errorf("status URL %q after the caller changed its URL", got)
	}
}
