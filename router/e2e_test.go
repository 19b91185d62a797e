package router_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"math/rand/v2"
	"net"
	"net/http"
	"net/http/httptest"
	"net/http/httptrace"
	"strings"
	"sync"
	"testing"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/router"
)

// received is what a test backend saw of one request.
type received struct {
	backend       string
	key           string // X-Test-Key header, sent by the test for bookkeeping
	sha           string
	length        int64
	contentLength int64
	chunked       bool
	expect        string
	method, path  string
	err           error
}

// backendSet is a group of real HTTP backends on 127.0.0.1 that record
// every request they receive.
type backendSet struct {
	// arrivals hears of every request as it arrives; the channel it
	// carries delivers what the backend received once the body is read.
	arrivals chan chan received
	mu       sync.Mutex
	got      []received
	servers  []*httptest.Server
	backends []router.Backend
}

func startBackends(t testing.TB, n int) *backendSet {
	t.Helper()
	bs := &backendSet{arrivals: make(chan chan received, 16)}
	for i := range n {
		name := fmt.Sprintf("b%d", i)
		srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			done := make(chan received, 1)
			select {
			case bs.arrivals <- done:
			default:
			}
			h := sha256.New()
			length, err := io.Copy(h, r.Body)
			done <- bs.record(received{
				backend: name, key: r.Header.Get("X-Test-Key"), sha: hex.EncodeToString(h.Sum(nil)), method: r.Method, path: r.URL.Path,
				length: length, contentLength: r.ContentLength, chunked: len(r.TransferEncoding) > 0,
				expect: r.Header.Get("Expect"), err: err,
			})
			w.Header().Set("X-Backend", name)
			fmt.Fprint(w, name)
		}))
		t.Cleanup(srv.Close)
		b, err := router.ParseBackend(srv.URL)
		if err != nil {
			t.Fatal(err)
		}
		bs.servers = append(bs.servers, srv)
		bs.backends = append(bs.backends, b)
	}
	return bs
}

func (bs *backendSet) record(r received) received {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.got = append(bs.got, r)
	return r
}

// reset forgets what the backends received so far.
func (bs *backendSet) reset() {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	bs.got = nil
}

func (bs *backendSet) received() []received {
	bs.mu.Lock()
	defer bs.mu.Unlock()
	return append([]received(nil), bs.got...)
}

// nameOf maps a backend URL to the test name the backend answers with.
func (bs *backendSet) nameOf(b router.Backend) string {
	for i, x := range bs.backends {
		if x.Name == b.Name {
			return fmt.Sprintf("b%d", i)
		}
	}
	return "?"
}

// testConfig is what a test may change of the router and of the engine
// serving it.
type testConfig struct {
	router router.Config
	engine engine.Config
}

type routerOpt func(*testConfig)

func withPeekLimit(n int) routerOpt {
	return func(c *testConfig) { c.router.PeekLimit, c.engine.PeekLimit = n, n }
}

func withPolicy(p router.MissingKeyPolicy) routerOpt {
	return func(c *testConfig) { c.router.MissingKey = p }
}

// startRouter serves a router over backends on a loopback port through the
// engine, until the test ends, and returns the router and the base URL.
func startRouter(t testing.TB, backends []router.Backend, opts ...routerOpt) (*router.Router, string) {
	t.Helper()
	cfg := testConfig{
		router: router.Config{
			Backends:  backends,
			Ring:      hashring.DefaultConfig(),
			Key:       sources("xml:sessionId"),
			PeekLimit: 64 << 10,
			Logger:    discardLogger(),
		},
		engine: engine.Config{MaxIdlePerBackend: 16, Logger: testLogger()},
	}
	for _, o := range opts {
		o(&cfg)
	}
	rt, err := router.New(cfg.router)
	if err != nil {
		t.Fatal(err)
	}
	cfg.engine.Policy = rt
	if cfg.engine.PeekLimit == 0 {
		cfg.engine.PeekLimit = cfg.router.PeekLimit
	}
	srv, err := engine.New(cfg.engine)
	if err != nil {
		t.Fatal(err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	served := make(chan struct{})
	go func() {
		defer close(served)
		srv.Serve(ln)
	}()
	t.Cleanup(func() {
		srv.Close()
		<-served
	})
	return rt, "http://" + ln.Addr().String()
}

// envelope is a SOAP 1.1 request whose sessionId element sits after pad
// bytes of filler and before tail bytes of filler.
func envelope(key string, pad, tail int) []byte {
	var b bytes.Buffer
	b.WriteString(`<?xml version="1.0"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body><req>`)
	filler(&b, pad)
	b.WriteString("<sessionId>" + key + "</sessionId>")
	filler(&b, tail)
	b.WriteString(`</req></soap:Body></soap:Envelope>`)
	return b.Bytes()
}

// filler writes about n bytes of elements with varied text.
func filler(b *bytes.Buffer, n int) {
	r := rand.New(rand.NewPCG(uint64(n), 7))
	for start := b.Len(); b.Len()-start < n; {
		fmt.Fprintf(b, "<item n=\"%d\">%x</item>", r.IntN(1000), r.Uint64())
	}
}

func sha(b []byte) string {
	s := sha256.Sum256(b)
	return hex.EncodeToString(s[:])
}

type response struct {
	status  int
	backend string
	body    string
	header  http.Header
}

func post(t *testing.T, url string, body io.Reader, length int64, key string, hdr ...string) response {
	t.Helper()
	req, err := http.NewRequest(http.MethodPost, url+"/ussd", body)
	if err != nil {
		t.Fatal(err)
	}
	req.ContentLength = length
	req.Header.Set("Content-Type", "text/xml; charset=utf-8")
	req.Header.Set("SOAPAction", `"ussd"`)
	req.Header.Set("X-Test-Key", key)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	got, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return response{status: resp.StatusCode, backend: resp.Header.Get("X-Backend"), body: string(got), header: resp.Header}
}

func postBytes(t *testing.T, url string, body []byte, key string, hdr ...string) response {
	t.Helper()
	return post(t, url, bytes.NewReader(body), int64(len(body)), key, hdr...)
}

func TestStickyAcrossKeys(t *testing.T) {
	bs := startBackends(t, 3)
	_, url := startRouter(t, bs.backends)
	owner := map[string]string{}
	for i := range 1000 {
		key := fmt.Sprintf("session-%03d", i%100)
		resp := postBytes(t, url, envelope(key, 64, 64), key)
		if resp.status != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, resp.status, resp.body)
		}
		if prev, ok := owner[key]; ok && prev != resp.backend {
			t.Fatalf("key %s went to %s and to %s", key, prev, resp.backend)
		}
		owner[key] = resp.backend
	}
	got := bs.received()
	if len(got) != 1000 {
		t.Fatalf("backends received %d requests, want 1000", len(got))
	}
	used := map[string]int{}
	for _, r := range got {
		if owner[r.key] != r.backend {
			t.Errorf("backend %s received key %s owned by %s", r.backend, r.key, owner[r.key])
		}
		used[r.backend]++
	}
	if len(used) != 3 {
		t.Errorf("backends used: %v, want all three", used)
	}
}

func TestBodiesArriveByteForByte(t *testing.T) {
	bs := startBackends(t, 3)
	rt, url := startRouter(t, bs.backends)
	for _, size := range []int{1 << 10, 1 << 20, 16 << 20} {
		t.Run(fmt.Sprint(size), func(t *testing.T) {
			key := fmt.Sprintf("size-%d", size)
			body := envelope(key, 32, size)
			resp := postBytes(t, url, body, key)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			r := lastFor(t, bs, key)
			if r.sha != sha(body) || r.length != int64(len(body)) {
				t.Errorf("backend got %d bytes sha %s, sent %d bytes sha %s", r.length, r.sha, len(body), sha(body))
			}
			if r.contentLength != int64(len(body)) || r.chunked {
				t.Errorf("backend saw Content-Length %d chunked %v, want %d not chunked", r.contentLength, r.chunked, len(body))
			}
			_, want, _ := rt.Owner([]byte(key))
			if r.backend != bs.nameOf(want) {
				t.Errorf("key %s reached %s, its owner is %s", key, r.backend, bs.nameOf(want))
			}
		})
	}
}

func lastFor(t *testing.T, bs *backendSet, key string) received {
	t.Helper()
	got := bs.received()
	for i := len(got) - 1; i >= 0; i-- {
		if got[i].key == key {
			return got[i]
		}
	}
	t.Fatalf("no backend received key %s", key)
	return received{}
}

func TestKeyDeepInBody(t *testing.T) {
	bs := startBackends(t, 3)
	rt, url := startRouter(t, bs.backends)
	// The owners of these keys must differ for the test to show the
	// deep key, not a default, decided the route.
	keys := []string{"deep-1", "deep-2", "deep-3", "deep-4", "deep-5", "deep-6"}
	owners := map[string]bool{}
	for _, key := range keys {
		body := envelope(key, 20<<10, 1<<10)
		if bytes.Index(body, []byte(key)) < 20<<10 {
			t.Fatal("filler too short")
		}
		resp := postBytes(t, url, body, key)
		_, want, _ := rt.Owner([]byte(key))
		if resp.status != http.StatusOK || resp.backend != bs.nameOf(want) {
			t.Errorf("key %s: status %d backend %s, want 200 from %s", key, resp.status, resp.backend, bs.nameOf(want))
		}
		owners[resp.backend] = true
		if r := lastFor(t, bs, key); r.sha != sha(body) {
			t.Errorf("key %s: body changed on the way", key)
		}
	}
	if len(owners) < 2 {
		t.Errorf("all keys went to %v; cannot tell routing by key from a default", owners)
	}
}

func TestKeyPastPeekLimit(t *testing.T) {
	const limit = 4 << 10
	t.Run("spread", func(t *testing.T) {
		bs := startBackends(t, 3)
		_, url := startRouter(t, bs.backends, withPeekLimit(limit))
		used := map[string]bool{}
		for i := range 60 {
			key := fmt.Sprintf("far-%d", i)
			body := envelope(key, 2*limit, 100)
			resp := postBytes(t, url, body, key)
			if resp.status != http.StatusOK {
				t.Fatalf("status %d: %s", resp.status, resp.body)
			}
			used[resp.backend] = true
			if r := lastFor(t, bs, key); r.sha != sha(body) {
				t.Fatalf("key %s: body changed on the way", key)
			}
		}
		if len(used) != 3 {
			t.Errorf("keyless requests reached %v, want them spread over all three", used)
		}
	})
	t.Run("reject", func(t *testing.T) {
		bs := startBackends(t, 3)
		_, url := startRouter(t, bs.backends, withPeekLimit(limit), withPolicy(router.Reject))
		resp := postBytes(t, url, envelope("far", 2*limit, 100), "far")
		if resp.status != http.StatusBadRequest {
			t.Errorf("status %d, want 400", resp.status)
		}
		if !strings.Contains(resp.body, "<soap:Fault>") || !strings.Contains(resp.body, "soap:Client") {
			t.Errorf("want a SOAP 1.1 client fault, got %q", resp.body)
		}
		if n := len(bs.received()); n != 0 {
			t.Errorf("backends received %d requests, want none", n)
		}
	})
}

// chunkedReader hides its length so the client sends the body chunked,
// in pieces of at most n bytes.
type chunkedReader struct {
	r io.Reader
	n int
}

func (c *chunkedReader) Read(p []byte) (int, error) {
	if len(p) > c.n {
		p = p[:c.n]
	}
	return c.r.Read(p)
}

func TestChunkedBodyStaysStreamed(t *testing.T) {
	bs := startBackends(t, 3)
	rt, url := startRouter(t, bs.backends)
	for _, size := range []int{100, 200 << 10} {
		key := fmt.Sprintf("chunked-%d", size)
		body := envelope(key, 1000, size)
		resp := post(t, url, &chunkedReader{r: bytes.NewReader(body), n: 777}, -1, key)
		if resp.status != http.StatusOK {
			t.Fatalf("status %d: %s", resp.status, resp.body)
		}
		r := lastFor(t, bs, key)
		if !r.chunked || r.contentLength != -1 {
			t.Errorf("size %d: backend saw chunked=%v Content-Length=%d, want a chunked body", size, r.chunked, r.contentLength)
		}
		if r.sha != sha(body) {
			t.Errorf("size %d: body changed on the way", size)
		}
		_, want, _ := rt.Owner([]byte(key))
		if r.backend != bs.nameOf(want) {
			t.Errorf("size %d: reached %s, owner %s", size, r.backend, bs.nameOf(want))
		}
	}
}

func TestExpectContinue(t *testing.T) {
	t.Run("key in the body", func(t *testing.T) { testExpectContinue(t, "xml:sessionId", false) })
	t.Run("key in a header", func(t *testing.T) { testExpectContinue(t, "header:X-Test-Key", true) })
}

// testExpectContinue sends a body only after 100 Continue. When the key is
// in a header the body is not peeked, and the backend is asked for the
// 100 Continue itself.
func testExpectContinue(t *testing.T, spec string, backendAsked bool) {
	bs := startBackends(t, 3)
	_, url := startRouter(t, bs.backends, withKey(spec))
	body := envelope("expect-1", 100, 10<<10)
	var got100 bool
	trace := &httptrace.ClientTrace{Got100Continue: func() { got100 = true }}
	req, err := http.NewRequestWithContext(httptrace.WithClientTrace(context.Background(), trace),
		http.MethodPost, url+"/ussd", bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	req.Header.Set("Expect", "100-continue")
	req.Header.Set("X-Test-Key", "expect-1")
	client := &http.Client{Transport: &http.Transport{ExpectContinueTimeout: 10e9}}
	defer client.CloseIdleConnections()
	resp, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("status %d", resp.StatusCode)
	}
	if !got100 {
		t.Error("client never got 100 Continue")
	}
	r := lastFor(t, bs, "expect-1")
	if r.sha != sha(body) {
		t.Error("body changed on the way")
	}
	if asked := r.expect != ""; asked != backendAsked {
		t.Errorf("backend saw Expect %q; want it asked: %v", r.expect, backendAsked)
	}
}

func TestRouterErrors(t *testing.T) {
	soap11 := []string{"Content-Type", "text/xml", "SOAPAction", `"x"`}
	soap12 := []string{"Content-Type", "application/soap+xml; charset=utf-8", "SOAPAction", ""}
	plain := []string{"Content-Type", "application/octet-stream", "SOAPAction", ""}

	dead := deadBackend(t)
	tests := []struct {
		name     string
		backends []router.Backend
		healthy  []string // nil: leave every backend in the ring
		hdr      []string
		status   int
		want     []string
	}{
		{"no backend, SOAP 1.1", []router.Backend{dead}, []string{}, soap11, 503,
			[]string{`xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"`, "<faultcode>soap:Server</faultcode>", "no backend available"}},
		{"no backend, SOAP 1.2", []router.Backend{dead}, []string{}, soap12, 503,
			[]string{`xmlns:env="http://www.w3.org/2003/05/soap-envelope"`, "<env:Value>env:Receiver</env:Value>", "no backend available"}},
		{"no backend, plain", []router.Backend{dead}, []string{}, plain, 503,
			[]string{"peekroute: no backend available"}},
		{"backend down, SOAP 1.1", []router.Backend{dead}, nil, soap11, 502,
			[]string{"<faultcode>soap:Server</faultcode>", "backend failed"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt, url := startRouter(t, tt.backends)
			if tt.healthy != nil {
				if err := rt.SetHealthy(tt.healthy); err != nil {
					t.Fatal(err)
				}
			}
			resp := postBytes(t, url, envelope("k", 10, 10), "k", tt.hdr...)
			if resp.status != tt.status {
				t.Errorf("status %d, want %d", resp.status, tt.status)
			}
			for _, w := range tt.want {
				if !strings.Contains(resp.body, w) {
					t.Errorf("body %q lacks %q", resp.body, w)
				}
			}
		})
	}
}

// deadBackend returns a backend on a loopback port nothing listens on.
func deadBackend(t *testing.T) router.Backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	b, err := router.ParseBackend("http://" + addr)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Many connections peeking deep into their bodies at once: each request's
// head grows its buffer while the other connections recycle theirs, and
// every backend still gets each request's own head and body.
func TestDeepKeysConcurrently(t *testing.T) {
	bs := startBackends(t, 3)
	_, url := startRouter(t, bs.backends)
	client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 16}}
	defer client.CloseIdleConnections()
	var wg sync.WaitGroup
	want := sync.Map{}
	for c := range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range 30 {
				key := fmt.Sprintf("deep-%d-%d", c, i)
				body := envelope(key, 20<<10, 44<<10)
				want.Store(key, sha(body))
				req, _ := http.NewRequest(http.MethodPost, url+"/ussd/"+key, bytes.NewReader(body))
				req.Header.Set("X-Test-Key", key)
				resp, err := client.Do(req)
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != http.StatusOK {
					t.Errorf("%s: status %d", key, resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	got := bs.received()
	if len(got) != 16*30 {
		t.Fatalf("backends received %d requests, want %d", len(got), 16*30)
	}
	for _, r := range got {
		w, _ := want.Load(r.key)
		if r.path != "/ussd/"+r.key || r.sha != w {
			t.Errorf("%s: backend got path %q and a body that differs: %v", r.key, r.path, r.sha != w)
		}
	}
}
