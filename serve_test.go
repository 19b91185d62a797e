package main

import (
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

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
