package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// events is a slog.Handler that passes every record's message and
// attributes to a channel, so tests wait on what peekroute reports.
type events struct {
	ch chan slog.Record
}

func newEvents() *events { return &events{ch: make(chan slog.Record, 1024)} }

func (e *events) Enabled(context.Context, slog.Level) bool { return true }
func (e *events) Handle(_ context.Context, r slog.Record) error {
	select {
	case e.ch <- r.Clone():
	default:
	}
	return nil
}
func (e *events) WithAttrs([]slog.Attr) slog.Handler { return e }
func (e *events) WithGroup(string) slog.Handler      { return e }

// waitFor returns the next record with message msg whose attribute attr
// (if given) equals value, failing the test after a generous deadline.
func (e *events) waitFor(t *testing.T, msg, attr string, value int64) slog.Record {
	t.Helper()
	deadline := time.After(20 * time.Second)
	for {
		select {
		case r := <-e.ch:
			if r.Message == msg && (attr == "" || attrInt(r, attr) == value) {
				return r
			}
		case <-deadline:
			t.Fatalf("no %q event with %s=%d", msg, attr, value)
		}
	}
}

// count drains the records seen so far and counts those with message msg.
func (e *events) count(msg string) int {
	n := 0
	for {
		select {
		case r := <-e.ch:
			if r.Message == msg {
				n++
			}
		default:
			return n
		}
	}
}

func attrInt(r slog.Record, key string) int64 {
	var v int64 = -1
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.Int64()
			return false
		}
		return true
	})
	return v
}

// backend is a real HTTP backend on a fixed loopback address that can be
// stopped and started again on the same address.
type backend struct {
	name    string
	addr    string
	handler http.Handler
	mu      sync.Mutex
	srv     *http.Server
}

func newBackend(t *testing.T, name string, h http.Handler) *backend {
	t.Helper()
	if h == nil {
		h = nameHandler(name)
	}
	b := &backend{name: name, handler: h}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	b.addr = ln.Addr().String()
	b.serve(ln)
	t.Cleanup(b.stop)
	return b
}

func nameHandler(name string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		w.Header().Set("X-Backend", name)
		fmt.Fprint(w, name)
	})
}

func (b *backend) serve(ln net.Listener) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.srv = &http.Server{Handler: b.handler}
	go b.srv.Serve(ln)
}

func (b *backend) url() string { return "http://" + b.addr }

func (b *backend) stop() {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.srv != nil {
		b.srv.Close()
		b.srv = nil
	}
}

func (b *backend) start(t *testing.T) {
	t.Helper()
	ln, err := net.Listen("tcp", b.addr)
	if err != nil {
		t.Fatalf("restarting %s on %s: %v", b.name, b.addr, err)
	}
	b.serve(ln)
}

// instance is peekroute served in-process on loopback.
type instance struct {
	url, admin string
	stop       func() error
}

func startInstance(t *testing.T, h slog.Handler, env ...string) *instance {
	t.Helper()
	env = append([]string{"PEEKROUTE_KEY=xml:sessionId", "PEEKROUTE_SHUTDOWN_DELAY=0s"}, env...)
	cfg, err := loadConfig(env)
	if err != nil {
		t.Fatal(err)
	}
	var ls listeners
	if ls.client, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	if ls.admin, err = net.Listen("tcp", "127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- serve(ctx, cfg, slog.New(h), ls) }()
	var once sync.Once
	var result error
	stop := func() error {
		once.Do(func() { cancel(); result = <-done })
		return result
	}
	t.Cleanup(func() { stop() })
	return &instance{url: "http://" + ls.client.Addr().String(), admin: "http://" + ls.admin.Addr().String(), stop: stop}
}

func soapRequest(t *testing.T, url, key string) (status int, backend string) {
	t.Helper()
	resp, err := http.Post(url+"/ussd", "text/xml", strings.NewReader("<Envelope><Body><sessionId>"+key+"</sessionId></Body></Envelope>"))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Backend")
}

func get(t *testing.T, url string) (int, string) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, strings.TrimSpace(string(body))
}

// waitStatus polls url until it answers status, within a deadline.
func waitStatus(t *testing.T, url string, status int) string {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		got, body := get(t, url)
		if got == status {
			return body
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s answered %d %q, want %d", url, got, body, status)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func ownersOf(t *testing.T, url string, keys []string) map[string]string {
	t.Helper()
	owners := make(map[string]string, len(keys))
	for _, k := range keys {
		status, b := soapRequest(t, url, k)
		if status != http.StatusOK {
			t.Fatalf("key %s: status %d", k, status)
		}
		owners[k] = b
	}
	return owners
}

// A backend that stops leaves the ring within about FALL x INTERVAL, taking
// only its own keys with it, and gets exactly those keys back after RISE
// good checks once it returns.
func TestRingFollowsHealth(t *testing.T) {
	ev := newEvents()
	bs := []*backend{newBackend(t, "b0", nil), newBackend(t, "b1", nil), newBackend(t, "b2", nil)}
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+bs[0].url()+","+bs[1].url()+","+bs[2].url(),
		"PEEKROUTE_HEALTH_INTERVAL=20ms", "PEEKROUTE_HEALTH_TIMEOUT=200ms", "PEEKROUTE_HEALTH_RISE=2", "PEEKROUTE_HEALTH_FALL=3")
	ev.waitFor(t, "ring rebuilt", "healthy", 3)
	waitStatus(t, inst.admin+"/readyz", http.StatusOK)

	keys := make([]string, 100)
	for i := range keys {
		keys[i] = fmt.Sprintf("conv-%d", i)
	}
	before := ownersOf(t, inst.url, keys)

	bs[1].stop()
	stopped := time.Now()
	ev.waitFor(t, "ring rebuilt", "healthy", 2)
	t.Logf("b1 left the ring %v after it stopped", time.Since(stopped))
	during := ownersOf(t, inst.url, keys)
	for _, k := range keys {
		switch {
		case before[k] == "b1" && during[k] == "b1":
			t.Errorf("key %s still reaches the stopped backend", k)
		case before[k] != "b1" && during[k] != before[k]:
			t.Errorf("key %s of %s moved to %s", k, before[k], during[k])
		}
	}

	bs[1].start(t)
	ev.waitFor(t, "ring rebuilt", "healthy", 3)
	after := ownersOf(t, inst.url, keys)
	for _, k := range keys {
		if after[k] != before[k] {
			t.Errorf("key %s: owner %s before, %s after the backend returned", k, before[k], after[k])
		}
	}
}

// A backend whose checks alternate between success and failure never
// reaches RISE or FALL in a row, so the ring never changes.
func TestFlappingBackendDoesNotFlapTheRing(t *testing.T) {
	ev := newEvents()
	checks := make(chan int, 100)
	var mu sync.Mutex
	n := 0
	flappy := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/health" {
			nameHandler("b0").ServeHTTP(w, r)
			return
		}
		mu.Lock()
		n++
		ok := n%2 == 1 // the first check succeeds
		mu.Unlock()
		if !ok {
			w.WriteHeader(http.StatusInternalServerError)
		}
		checks <- n
	})
	b0 := newBackend(t, "b0", flappy)
	b1 := newBackend(t, "b1", nil)
	startInstance(t, ev, "PEEKROUTE_BACKENDS="+b0.url()+","+b1.url(), "PEEKROUTE_HEALTH_PATH=/health",
		"PEEKROUTE_HEALTH_INTERVAL=10ms", "PEEKROUTE_HEALTH_RISE=2", "PEEKROUTE_HEALTH_FALL=2")
	ev.waitFor(t, "ring rebuilt", "healthy", 2)
	deadline := time.After(20 * time.Second)
	for c := 0; c < 20; {
		select {
		case c = <-checks:
		case <-deadline:
			t.Fatalf("only %d health checks arrived", c)
		}
	}
	if n := ev.count("ring rebuilt"); n != 0 {
		t.Errorf("the ring was rebuilt %d times while a backend alternated faster than RISE/FALL", n)
	}
}

// /readyz is 503 until the first round of checks completes, 200 after,
// 503 when every backend is down and while shutting down; /healthz stays
// 200 until the end.
func TestReadiness(t *testing.T) {
	ev := newEvents()
	release := make(chan struct{})
	gated := http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path == "/health" {
			<-release
		}
		nameHandler("b0").ServeHTTP(w, r)
	})
	b0 := newBackend(t, "b0", gated)
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+b0.url(), "PEEKROUTE_HEALTH_PATH=/health",
		"PEEKROUTE_HEALTH_INTERVAL=10ms", "PEEKROUTE_HEALTH_TIMEOUT=5s", "PEEKROUTE_HEALTH_RISE=1", "PEEKROUTE_HEALTH_FALL=1",
		"PEEKROUTE_SHUTDOWN_DELAY=2s")

	if status, body := get(t, inst.admin+"/readyz"); status != http.StatusServiceUnavailable || !strings.Contains(body, "first round") {
		t.Errorf("before the first checks: /readyz %d %q, want 503 naming the first round", status, body)
	}
	close(release)
	waitStatus(t, inst.admin+"/readyz", http.StatusOK)

	b0.stop()
	if body := waitStatus(t, inst.admin+"/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "no backend") {
		t.Errorf("all backends down: /readyz says %q", body)
	}
	if status, _ := get(t, inst.admin+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz %d while backends are down, want 200", status)
	}
	b0.start(t)
	waitStatus(t, inst.admin+"/readyz", http.StatusOK)

	stopped := make(chan error, 1)
	go func() { stopped <- inst.stop() }()
	if body := waitStatus(t, inst.admin+"/readyz", http.StatusServiceUnavailable); !strings.Contains(body, "shutting down") {
		t.Errorf("during shutdown /readyz says %q", body)
	}
	if status, _ := get(t, inst.admin+"/healthz"); status != http.StatusOK {
		t.Errorf("/healthz %d during the shutdown delay, want 200", status)
	}
	if err := <-stopped; err != nil {
		t.Errorf("shutdown: %v", err)
	}
	if _, err := http.Get(inst.admin + "/healthz"); err == nil || !isRefused(err) {
		t.Errorf("/healthz after exit: %v, want connection refused", err)
	}
}

func isRefused(err error) bool {
	var op *net.OpError
	return errors.As(err, &op) && op.Op == "dial"
}

// A request head larger than PEEKROUTE_MAX_HEADER_BYTES gets 431.
func TestHeaderTooLarge(t *testing.T) {
	b0 := newBackend(t, "b0", nil)
	inst := startInstance(t, newEvents(), "PEEKROUTE_BACKENDS="+b0.url(), "PEEKROUTE_MAX_HEADER_BYTES=4096")
	req, _ := http.NewRequest(http.MethodPost, inst.url+"/", strings.NewReader("<sessionId>h</sessionId>"))
	req.Header.Set("X-Big", strings.Repeat("h", 16<<10))
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusRequestHeaderFieldsTooLarge {
		t.Errorf("status %d, want 431", resp.StatusCode)
	}
	if status, _ := soapRequest(t, inst.url, "after"); status != http.StatusOK {
		t.Errorf("the next request got %d", status)
	}
}
