package main

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"
)

// gated is a backend handler that records every request it gets (by its
// X-Seq field), the most it ever served at once, and can hold requests
// until released.
type gated struct {
	name     string
	mu       sync.Mutex
	inFlight int
	most     int
	seen     []string
	hold     chan struct{} // while open, requests wait for it to close
	arrived  chan string   // hears of every arrival, when set
}

func newGated(name string) *gated { return &gated{name: name} }

func (g *gated) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	io.Copy(io.Discard, r.Body)
	g.mu.Lock()
	g.inFlight++
	g.most = max(g.most, g.inFlight)
	g.seen = append(g.seen, r.Header.Get("X-Seq"))
	hold, arrived := g.hold, g.arrived
	g.mu.Unlock()
	if arrived != nil {
		arrived <- r.Header.Get("X-Seq")
	}
	if hold != nil {
		<-hold
	} else {
		time.Sleep(2 * time.Millisecond) // a service that takes a moment
	}
	g.mu.Lock()
	g.inFlight--
	g.mu.Unlock()
	w.Header().Set("X-Backend", g.name)
	fmt.Fprint(w, g.name)
}

func (g *gated) holdRequests() (release func()) {
	g.mu.Lock()
	defer g.mu.Unlock()
	ch := make(chan struct{})
	g.hold = ch
	var once sync.Once
	return func() {
		once.Do(func() {
			g.mu.Lock()
			g.hold = nil
			g.mu.Unlock()
			close(ch)
		})
	}
}

func (g *gated) record() (most int, seen []string) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.most, slices.Clone(g.seen)
}

// post sends one SOAP request with key and sequence tag and reports the
// status, the answering backend and Retry-After.
func post(url, key, seq string) (status int, backend, retryAfter string, err error) {
	req, _ := http.NewRequest(http.MethodPost, url+"/ussd", strings.NewReader("<Envelope><Body><sessionId>"+key+"</sessionId></Body></Envelope>"))
	req.Header.Set("Content-Type", "text/xml")
	req.Header.Set("X-Seq", seq)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, "", "", err
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.StatusCode, resp.Header.Get("X-Backend"), resp.Header.Get("Retry-After"), nil
}

// waitGauge polls /metrics until the gauge name{backend} equals want.
func waitGauge(t *testing.T, admin, name, backend string, want float64) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s{backend=%q} = %v", name, backend, want), func() error {
		if got := counter(scrape(t, admin), name, map[string]string{"backend": backend}); got != want {
			return fmt.Errorf("%v", got)
		}
		return nil
	})
}

func queueEnv(urls []string, extra ...string) []string {
	return append([]string{"PEEKROUTE_BACKENDS=" + strings.Join(urls, ","),
		"PEEKROUTE_HEALTH_INTERVAL=20ms", "PEEKROUTE_HEALTH_TIMEOUT=200ms", "PEEKROUTE_HEALTH_RISE=1", "PEEKROUTE_HEALTH_FALL=2"}, extra...)
}

// oneHeld is peekroute in front of one gated backend that serves one
// request at a time, with a request for key "k" held at the backend: the
// next requests for "k" queue.
type oneHeld struct {
	inst    *instance
	g       *gated
	backend string   // the backend's name in metrics labels
	release func()   // lets the backend answer
	first   chan int // the held request's status, once answered
}

// holdOne starts peekroute with env on top of queueEnv and
// BACKEND_MAX_ACTIVE=1, and holds a request tagged seq at the backend.
func holdOne(t *testing.T, seq string, env ...string) *oneHeld {
	t.Helper()
	ev := newEvents()
	g := newGated("b0")
	b := newBackend(t, "b0", g)
	inst := startInstance(t, ev, queueEnv([]string{b.url()}, append([]string{"PEEKROUTE_BACKEND_MAX_ACTIVE=1"}, env...)...)...)
	ev.waitFor(t, "ring rebuilt", "healthy", 1)
	h := &oneHeld{inst: inst, g: g, backend: b.url(), release: g.holdRequests(), first: make(chan int, 1)}
	t.Cleanup(h.release)
	g.arrived = make(chan string, 16)
	go func() { s, _, _, _ := post(inst.url, "k", seq); h.first <- s }()
	<-g.arrived
	return h
}

// Under 200 concurrent requests over 20 keys, no backend ever serves more
// than its limit at once, and every request is answered 200 exactly once.
func TestQueueBoundsConcurrency(t *testing.T) {
	ev := newEvents()
	gs := []*gated{newGated("b0"), newGated("b1"), newGated("b2")}
	var urls []string
	for _, g := range gs {
		urls = append(urls, newBackend(t, g.name, g).url())
	}
	inst := startInstance(t, ev, queueEnv(urls, "PEEKROUTE_BACKEND_MAX_ACTIVE=2", "PEEKROUTE_QUEUE_TIMEOUT=30s")...)
	ev.waitFor(t, "ring rebuilt", "healthy", 3)

	var wg sync.WaitGroup
	statuses := make([]int, 200)
	for i := range statuses {
		wg.Add(1)
		go func() {
			defer wg.Done()
			statuses[i], _, _, _ = post(inst.url, fmt.Sprintf("conv-%d", i%20), fmt.Sprint(i))
		}()
	}
	wg.Wait()
	var seen []string
	for _, g := range gs {
		most, s := g.record()
		if most > 2 {
			t.Errorf("%s served %d requests at once; the limit is 2", g.name, most)
		}
		seen = append(seen, s...)
	}
	for i, s := range statuses {
		if s != http.StatusOK {
			t.Errorf("request %d: status %d", i, s)
		}
	}
	slices.Sort(seen)
	if len(seen) != 200 || len(slices.Compact(seen)) != 200 {
		t.Errorf("backends saw %d requests, %d distinct; want each of 200 once", len(seen), len(slices.Compact(slices.Clone(seen))))
	}
}

// Requests for one key reach its busy backend in the order peekroute
// accepted them.
func TestQueueKeepsArrivalOrder(t *testing.T) {
	h := holdOne(t, "0", "PEEKROUTE_QUEUE_TIMEOUT=30s")
	inst, g := h.inst, h.g
	results := make(chan int, 10)
	for i := 1; i <= 10; i++ {
		go func() { s, _, _, _ := post(inst.url, "k", fmt.Sprint(i)); results <- s }()
		waitGauge(t, inst.admin, "peekroute_backend_queued", h.backend, float64(i))
	}
	h.release()
	if s := <-h.first; s != http.StatusOK {
		t.Errorf("first request: %d", s)
	}
	for range 10 {
		if s := <-results; s != http.StatusOK {
			t.Errorf("queued request: %d", s)
		}
	}
	_, seen := g.record()
	want := []string{"0", "1", "2", "3", "4", "5", "6", "7", "8", "9", "10"}
	if !slices.Equal(seen, want) {
		t.Errorf("backend saw %v, want the order of arrival %v", seen, want)
	}
}

// A full queue and a queue timeout both answer 503 with Retry-After, and
// those requests never reach the backend; the others are answered.
func TestQueueFullAndTimeout(t *testing.T) {
	h := holdOne(t, "held", "PEEKROUTE_BACKEND_MAX_QUEUE=2", "PEEKROUTE_QUEUE_TIMEOUT=400ms")
	inst, g := h.inst, h.g
	before := scrape(t, inst.admin)
	type answer struct {
		status     int
		retryAfter string
	}
	waiting := make(chan answer, 2)
	for i := range 2 {
		go func() {
			s, _, ra, _ := post(inst.url, "k", fmt.Sprint("waits-", i))
			waiting <- answer{s, ra}
		}()
		waitGauge(t, inst.admin, "peekroute_backend_queued", h.backend, float64(i+1))
	}
	status, _, retryAfter, err := post(inst.url, "k", "over")
	if err != nil || status != http.StatusServiceUnavailable || retryAfter == "" {
		t.Errorf("request over a full queue: %d, Retry-After %q, %v; want 503 with Retry-After", status, retryAfter, err)
	}
	for range 2 {
		if a := <-waiting; a.status != http.StatusServiceUnavailable || a.retryAfter == "" {
			t.Errorf("request that waited too long: %d, Retry-After %q; want 503 with Retry-After", a.status, a.retryAfter)
		}
	}
	h.release()
	if s := <-h.first; s != http.StatusOK {
		t.Errorf("held request: %d", s)
	}
	if s, _, _, _ := post(inst.url, "k", "after"); s != http.StatusOK {
		t.Errorf("request after the burst: %d", s)
	}
	if _, seen := g.record(); !slices.Equal(seen, []string{"held", "after"}) {
		t.Errorf("backend saw %v; refused requests must never reach it", seen)
	}
	after := scrape(t, inst.admin)
	for reason, want := range map[string]float64{"full": 1, "timeout": 2} {
		labels := map[string]string{"backend": h.backend, "reason": reason}
		if got := counter(after, "peekroute_queue_refused_total", labels) - counter(before, "peekroute_queue_refused_total", labels); got != want {
			t.Errorf("queue_refused_total{reason=%s} rose by %v, want %v", reason, got, want)
		}
	}
}

// A client that leaves while queued frees its place at once, and its
// request never reaches the backend.
func TestQueueClientGone(t *testing.T) {
	h := holdOne(t, "held", "PEEKROUTE_QUEUE_TIMEOUT=30s")
	inst, g := h.inst, h.g

	conn, err := net.Dial("tcp", strings.TrimPrefix(inst.url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	body := "<Envelope><Body><sessionId>k</sessionId></Body></Envelope>"
	fmt.Fprintf(conn, "POST /ussd HTTP/1.1\r\nHost: x\r\nX-Seq: gone\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	waitGauge(t, inst.admin, "peekroute_backend_queued", h.backend, 1)
	conn.Close()
	waitGauge(t, inst.admin, "peekroute_backend_queued", h.backend, 0)
	if n := counter(scrape(t, inst.admin), "peekroute_queue_refused_total", map[string]string{"backend": h.backend, "reason": "client_gone"}); n != 1 {
		t.Errorf("queue_refused_total{reason=client_gone} = %v, want 1", n)
	}
	// The next request takes the freed place and is served first.
	next := make(chan int, 1)
	go func() { s, _, _, _ := post(inst.url, "k", "next"); next <- s }()
	waitGauge(t, inst.admin, "peekroute_backend_queued", h.backend, 1)
	h.release()
	if s := <-h.first; s != http.StatusOK {
		t.Errorf("held request: %d", s)
	}
	if s := <-next; s != http.StatusOK {
		t.Errorf("next request: %d", s)
	}
	if _, seen := g.record(); !slices.Equal(seen, []string{"held", "next"}) {
		t.Errorf("backend saw %v; the request of the client that left must never reach it", seen)
	}
}

// Requests waiting for a backend that leaves the ring follow their keys to
// their new owners: each answered once, none lost.
func TestQueueFollowsKeysWhenBackendLeaves(t *testing.T) {
	ev := newEvents()
	gs := []*gated{newGated("b0"), newGated("b1"), newGated("b2")}
	var bs []*backend
	var urls []string
	for _, g := range gs {
		b := newBackend(t, g.name, g)
		bs, urls = append(bs, b), append(urls, b.url())
	}
	inst := startInstance(t, ev, queueEnv(urls, "PEEKROUTE_BACKEND_MAX_ACTIVE=1", "PEEKROUTE_QUEUE_TIMEOUT=30s")...)
	ev.waitFor(t, "ring rebuilt", "healthy", 3)

	// Keys owned by b1, and their owners once b1 has left.
	owners := expectedOwners(t, bs)
	var keys []string
	for i := 0; len(keys) < 51; i++ {
		if k := fmt.Sprintf("conv-%d", i); func() bool { all, _ := owners(k); return all == "b1" }() {
			keys = append(keys, k)
		}
	}
	release := gs[1].holdRequests()
	defer release()
	gs[1].arrived = make(chan string, 64)
	held := make(chan int, 1)
	go func() { s, _, _, _ := post(inst.url, keys[0], "held"); held <- s }()
	<-gs[1].arrived

	type answer struct {
		key, backend string
		status       int
	}
	answers := make(chan answer, 50)
	for i, k := range keys[1:] {
		go func() {
			s, be, _, _ := post(inst.url, k, k)
			answers <- answer{k, be, s}
		}()
		waitGauge(t, inst.admin, "peekroute_backend_queued", urls[1], float64(i+1))
	}
	bs[1].stop() // its held request is cut; the checks take it out of the ring
	release()
	<-held
	for range 50 {
		a := <-answers
		if _, want := owners(a.key); a.status != http.StatusOK || a.backend != want {
			t.Errorf("key %s: status %d from %s, want 200 from its new owner %s", a.key, a.status, a.backend, want)
		}
	}
	_, seen0 := gs[0].record()
	_, seen2 := gs[2].record()
	seen := append(seen0, seen2...)
	slices.Sort(seen)
	if len(seen) != 50 || len(slices.Compact(seen)) != 50 {
		t.Errorf("the new owners saw %d requests (%d distinct), want each of the 50 once", len(seen), len(slices.Compact(slices.Clone(seen))))
	}
}
