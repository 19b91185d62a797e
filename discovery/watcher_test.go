package discovery

import (
	"context"
	"log/slog"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// harness runs a Watcher against a test server and collects what it reports.
type harness struct {
	server  *testServer
	watcher *Watcher
	changes chan []Backend
	logs    *logSink
	// ticks paces a watcher started with manual pacing.
	ticks chan time.Time
	stop  func()
}

// startWatcher runs a Watcher resolving every few milliseconds.
func startWatcher(t *testing.T, s *testServer, target string, emptyAfter int) *harness {
	t.Helper()
	return runWatcher(t, s, target, emptyAfter, false)
}

// startPacedWatcher runs a Watcher that resolves once at start and then
// once per step.
func startPacedWatcher(t *testing.T, s *testServer, target string, emptyAfter int) *harness {
	t.Helper()
	return runWatcher(t, s, target, emptyAfter, true)
}

func runWatcher(t *testing.T, s *testServer, target string, emptyAfter int, paced bool) *harness {
	t.Helper()
	h := &harness{server: s, changes: make(chan []Backend, 16), logs: newLogSink()}
	cfg := DefaultConfig()
	cfg.Target, cfg.Server = target, s.addr
	cfg.Interval, cfg.Timeout = 5*time.Millisecond, time.Second
	cfg.EmptyAfter = emptyAfter
	w, err := New(cfg, Options{
		Logger:   slog.New(h.logs),
		OnChange: func(b []Backend) { h.changes <- b },
	})
	if err != nil {
		t.Fatal(err)
	}
	if paced {
		h.ticks = make(chan time.Time)
		w.ticks = h.ticks
	}
	h.watcher = w
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- w.Run(ctx) }()
	h.stop = sync.OnceFunc(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("Run: %v", err)
			}
		case <-time.After(testWait):
			t.Error("Run did not return after its context ended")
		}
	})
	t.Cleanup(h.stop)
	return h
}

// step starts one more resolution of a paced watcher, once the previous
// one has finished.
func (h *harness) step(t *testing.T) {
	t.Helper()
	select {
	case h.ticks <- time.Time{}:
	case <-time.After(testWait):
		t.Fatal("the watcher did not come back for its next resolution")
	}
}

// next waits for the next reported set.
func (h *harness) next(t *testing.T) []Backend {
	t.Helper()
	select {
	case b := <-h.changes:
		return b
	case <-time.After(testWait):
		t.Fatal("no change reported")
		return nil
	}
}

func (h *harness) expect(t *testing.T, want ...Backend) {
	t.Helper()
	if want == nil {
		want = []Backend{}
	}
	if got := h.next(t); !slices.Equal(got, want) || got == nil {
		t.Fatalf("reported %v, want %v", got, want)
	}
}

// expectNoChange checks that nothing has been reported so far.
func (h *harness) expectNoChange(t *testing.T) {
	t.Helper()
	select {
	case b := <-h.changes:
		t.Fatalf("unexpected change to %v", b)
	default:
	}
}

func TestWatcherFollowsRecords(t *testing.T) {
	s := startServer(t)
	s.zone.set(t, "web.test. 60 IN A 10.0.0.2", "web.test. 60 IN A 10.0.0.1")
	h := startWatcher(t, s, "web.test:8080", 3)
	h.expect(t, Backend{"http://10.0.0.1:8080", 1}, Backend{"http://10.0.0.2:8080", 1})
	select {
	case <-h.watcher.Ready():
	case <-time.After(testWait):
		t.Fatal("not ready after the first set was reported")
	}

	s.zone.set(t, "web.test. 60 IN A 10.0.0.1", "web.test. 60 IN A 10.0.0.2", "web.test. 60 IN AAAA fd00::3")
	h.expect(t, Backend{"http://10.0.0.1:8080", 1}, Backend{"http://10.0.0.2:8080", 1}, Backend{"http://[fd00::3]:8080", 1})

	s.zone.set(t, "web.test. 60 IN AAAA fd00::3", "web.test. 60 IN A 10.0.0.2")
	h.expect(t, Backend{"http://10.0.0.2:8080", 1}, Backend{"http://[fd00::3]:8080", 1})
	if got := h.watcher.Backends(); len(got) != 2 {
		t.Fatalf("Backends() = %v", got)
	}
}

func TestWatcherReportsOnlyChanges(t *testing.T) {
	s := startServer(t)
	var lines []string
	for _, a := range []string{"10.0.0.1", "10.0.0.2", "10.0.0.3", "10.0.0.4"} {
		lines = append(lines, "web.test. 60 IN A "+a)
	}
	s.zone.set(t, lines...)
	h := startWatcher(t, s, "web.test:80", 3)
	h.next(t)
	// The server shuffles every answer; many resolutions later nothing
	// more has been reported.
	waitQueries(t, s, 20)
	h.expectNoChange(t)
}

// waitQueries waits until the server has answered n more queries; each
// Watcher resolution of a host asks two.
func waitQueries(t *testing.T, s *testServer, n int) {
	t.Helper()
	deadline := time.After(testWait)
	for range n {
		select {
		case <-s.zone.queried:
		case <-deadline:
			t.Fatalf("the server was not asked %d times", n)
		}
	}
}

func TestWatcherKeepsLastSetOnFailure(t *testing.T) {
	tests := []struct {
		name   string
		break_ func(*testServer)
	}{
		{"servfail", func(s *testServer) { s.zone.setRcode(dns.RcodeServerFailure) }},
		{"refused", func(s *testServer) { s.zone.setRcode(dns.RcodeRefused) }},
		{"stopped", func(s *testServer) { s.stop() }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			s.zone.set(t, "_http._tcp.web.test. 60 IN SRV 0 5 8080 a.web.test.", "a.web.test. 60 IN A 10.0.0.1")
			h := startWatcher(t, s, "_http._tcp.web.test", 1)
			want := []Backend{{"http://10.0.0.1:8080", 5}}
			h.expect(t, want...)
			tc.break_(s)
			h.logs.waitLog(t, "failed", 5)
			h.expectNoChange(t)
			if got := h.watcher.Backends(); !slices.Equal(got, want) {
				t.Fatalf("Backends() = %v, want %v", got, want)
			}
		})
	}
}

func TestWatcherEmptyAnswers(t *testing.T) {
	s := startServer(t)
	s.zone.set(t, "web.test. 60 IN A 10.0.0.1")
	h := startPacedWatcher(t, s, "web.test:80", 3)
	h.expect(t, Backend{"http://10.0.0.1:80", 1})

	emptyAnswer := func() {
		t.Helper()
		h.step(t)
		h.logs.waitLog(t, "no backends", 1)
	}
	// Two empty answers are not believed; an answer resets the count.
	s.zone.set(t)
	emptyAnswer()
	emptyAnswer()
	s.zone.set(t, "web.test. 60 IN A 10.0.0.1")
	h.step(t)
	h.logs.waitLog(t, "unchanged", 1)
	s.zone.set(t, "web.test. 60 IN TXT nothing")
	emptyAnswer()
	emptyAnswer()
	h.expectNoChange(t)

	// A failure neither confirms nor resets: the third empty answer in a
	// row empties the set.
	s.zone.setRcode(dns.RcodeServerFailure)
	h.step(t)
	h.logs.waitLog(t, "failed", 1)
	h.expectNoChange(t)
	s.zone.setRcode(dns.RcodeSuccess)
	h.step(t)
	h.expect(t)
	if got := h.watcher.Backends(); got == nil || len(got) != 0 {
		t.Fatalf("Backends() = %#v, want an empty set", got)
	}

	s.zone.set(t, "web.test. 60 IN A 10.0.0.2")
	h.step(t)
	h.expect(t, Backend{"http://10.0.0.2:80", 1})
}

func TestWatcherNeverEmptiesWhenEmptyAfterIsZero(t *testing.T) {
	s := startServer(t)
	s.zone.set(t, "web.test. 60 IN A 10.0.0.1")
	h := startWatcher(t, s, "web.test:80", 0)
	h.expect(t, Backend{"http://10.0.0.1:80", 1})
	s.zone.set(t)
	h.logs.waitLog(t, "no backends", 10)
	h.expectNoChange(t)
}

func TestWatcherReadyWaitsForFirstSet(t *testing.T) {
	s := startServer(t)
	h := startWatcher(t, s, "_http._tcp.web.test", 0)
	h.logs.waitLog(t, "no backends", 3)
	select {
	case <-h.watcher.Ready():
		t.Fatal("ready before any backend was found")
	default:
	}
	if got := h.watcher.Backends(); got != nil {
		t.Fatalf("Backends() = %v before the first set", got)
	}
	s.zone.set(t, "_http._tcp.web.test. 60 IN SRV 0 0 8080 a.web.test.", "a.web.test. 60 IN A 10.0.0.1")
	h.expect(t, Backend{"http://10.0.0.1:8080", 1})
	select {
	case <-h.watcher.Ready():
	case <-time.After(testWait):
		t.Fatal("not ready after the first set")
	}
}

func TestWatcherConfirmsEmptyAtStartUp(t *testing.T) {
	s := startServer(t)
	h := startWatcher(t, s, "web.test:80", 2)
	h.expect(t)
	<-h.watcher.Ready()
}

func TestWatcherStopsDuringQuery(t *testing.T) {
	s := startServer(t)
	s.zone.setDrop(true)
	h := startWatcher(t, s, "web.test:80", 3)
	waitQueries(t, s, 1)
	h.stop() // fails the test unless Run returns promptly
}

func TestWatcherRunTwice(t *testing.T) {
	s := startServer(t)
	s.zone.set(t, "web.test. 60 IN A 10.0.0.1")
	h := startWatcher(t, s, "web.test:80", 3)
	h.next(t)
	if err := h.watcher.Run(t.Context()); err == nil {
		t.Fatal("a second Run was accepted")
	}
}

func TestNewRejectsBadConfig(t *testing.T) {
	base := DefaultConfig()
	base.Target, base.Server = "web.test:80", "127.0.0.1:53"
	for name, mutate := range map[string]func(*Config){
		"target":      func(c *Config) { c.Target = "web.test" },
		"interval":    func(c *Config) { c.Interval = 0 },
		"timeout":     func(c *Config) { c.Timeout = -time.Second },
		"empty after": func(c *Config) { c.EmptyAfter = -1 },
		"server":      func(c *Config) { c.Server = "127.0.0.1" },
	} {
		cfg := base
		mutate(&cfg)
		if _, err := New(cfg, Options{}); err == nil {
			t.Errorf("%s: New accepted %+v", name, cfg)
		}
	}
	if _, err := New(base, Options{}); err != nil {
		t.Errorf("New(%+v): %v", base, err)
	}
}
