package router_test

import (
	"bufio"
	"bytes"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/peekroute/peekroute/router"
)

// withDirect makes the router forward with a direct forwarder built from
// cfg, whose idle connections are closed when the test ends.
func withDirect(t testing.TB, cfg router.TransportConfig) routerOpt {
	f := router.NewDirectForwarder(cfg).(*router.DirectForwarder)
	t.Cleanup(f.CloseIdleConnections)
	return func(c *router.Config) { c.Forwarder = f }
}

func directDefaults(t testing.TB) routerOpt {
	return withDirect(t, router.TransportConfig{MaxIdleConnsPerHost: 16})
}

// A chunked body that arrives slowly reaches the backend piece by piece,
// not once the client has finished.
func TestDirectSlowChunkedBodyProgresses(t *testing.T) {
	firstPiece := make(chan string, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		buf := make([]byte, 4096)
		n, _ := io.ReadAtLeast(r.Body, buf, len("<sessionId>slow</sessionId>"))
		firstPiece <- string(buf[:n])
		io.Copy(io.Discard, r.Body)
	}))
	defer backend.Close()
	b, _ := router.ParseBackend(backend.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		req, _ := http.NewRequest(http.MethodPost, url, pr)
		resp, err := http.DefaultClient.Do(req)
		if err == nil {
			resp.Body.Close()
		}
		done <- err
	}()
	io.WriteString(pw, "<sessionId>slow</sessionId>")
	select {
	case got := <-firstPiece:
		if !strings.Contains(got, "slow") {
			t.Errorf("backend first read %q", got)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the first piece of a streamed body never reached the backend")
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
}

// A streamed response reaches the client as the backend sends it.
func TestDirectStreamedResponseIsFlushed(t *testing.T) {
	next := make(chan struct{})
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "first\n")
		http.NewResponseController(w).Flush()
		<-next
		io.WriteString(w, "second\n")
	}))
	defer backend.Close()
	b, _ := router.ParseBackend(backend.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	resp, err := http.Post(url, "text/plain", strings.NewReader("<sessionId>s</sessionId>"))
	if err != nil {
		close(next)
		t.Fatal(err)
	}
	defer resp.Body.Close()
	line, err := bufio.NewReader(resp.Body).ReadString('\n')
	close(next)
	if err != nil || line != "first\n" {
		t.Fatalf("first line %q, %v", line, err)
	}
}

func TestDirectHeaders(t *testing.T) {
	type seen struct {
		host, uri string
		header    http.Header
	}
	got := make(chan seen, 1)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		got <- seen{r.Host, r.RequestURI, r.Header.Clone()}
		w.Header().Set("Connection", "X-Resp-Hop")
		w.Header().Set("X-Resp-Hop", "dropped")
		w.Header().Set("Keep-Alive", "timeout=5")
		w.Header().Set("X-Resp-Kept", "yes")
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	b, _ := router.ParseBackend(backend.URL + "/base")
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	body := "<sessionId>h</sessionId>"
	raw := "POST /svc/ussd?a=1&b=2 HTTP/1.1\r\nHost: front.example:8443\r\n" +
		"Connection: keep-alive, X-Hop\r\nX-Hop: dropped\r\nKeep-Alive: timeout=5\r\n" +
		"Proxy-Authorization: Basic x\r\nTe: trailers, deflate\r\nX-Forwarded-For: 10.9.9.9\r\n" +
		"X-Forwarded-Host: spoofed\r\nX-Forwarded-Proto: https\r\nX-Kept: a\r\nX-Kept: b\r\n" +
		"Content-Type: text/xml\r\n" + fmt.Sprintf("Content-Length: %d\r\n\r\n%s", len(body), body)

	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	io.WriteString(conn, raw)
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	s := <-got
	if s.host != "front.example:8443" {
		t.Errorf("backend saw Host %q, want the client's", s.host)
	}
	if s.uri != "/base/svc/ussd?a=1&b=2" {
		t.Errorf("backend saw request-target %q", s.uri)
	}
	for _, h := range []string{"Connection", "X-Hop", "Keep-Alive", "Proxy-Authorization"} {
		if v, ok := s.header[h]; ok {
			t.Errorf("hop-by-hop %s reached the backend: %q", h, v)
		}
	}
	want := map[string]string{
		"Te": "trailers", "X-Forwarded-For": "10.9.9.9, 127.0.0.1", "X-Forwarded-Host": "front.example:8443",
		"X-Forwarded-Proto": "http", "X-Kept": "a,b", "Content-Type": "text/xml",
	}
	for h, v := range want {
		if got := strings.Join(s.header[h], ","); got != v {
			t.Errorf("backend saw %s %q, want %q", h, got, v)
		}
	}
	if resp.Header.Get("X-Resp-Hop") != "" || resp.Header.Get("Keep-Alive") != "" || resp.Header.Get("X-Resp-Kept") != "yes" {
		t.Errorf("response header %v: want hop-by-hop fields dropped and the rest kept", resp.Header)
	}
}

func TestDirectHeadAnd204(t *testing.T) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/head":
			w.Header().Set("Content-Length", "5")
			w.Header().Set("X-Head", "1")
			if r.Method != http.MethodHead {
				io.WriteString(w, "hello")
			}
		case "/nocontent":
			w.WriteHeader(http.StatusNoContent)
		case "/notmodified":
			w.WriteHeader(http.StatusNotModified)
		}
	}))
	defer backend.Close()
	b, _ := router.ParseBackend(backend.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	for range 3 { // also over a reused connection
		resp, err := http.Head(url + "/head")
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != 200 || resp.ContentLength != 5 || resp.Header.Get("X-Head") != "1" {
			t.Errorf("HEAD: %d length %d header %v", resp.StatusCode, resp.ContentLength, resp.Header)
		}
		for _, p := range []string{"/nocontent", "/notmodified"} {
			resp, err = http.Get(url + p)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != map[string]int{"/nocontent": 204, "/notmodified": 304}[p] || len(body) != 0 {
				t.Errorf("%s: status %d body %q", p, resp.StatusCode, body)
			}
		}
		resp, err = http.Get(url + "/head")
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(body) != "hello" {
			t.Errorf("GET after HEAD: %q", body)
		}
	}
}

// countingBackend answers every request and counts requests and the
// connections they came on.
type countingBackend struct {
	srv            *httptest.Server
	conns, handled atomic.Int64
}

func startCountingBackend(t testing.TB) *countingBackend {
	cb := &countingBackend{}
	cb.srv = httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		cb.handled.Add(1)
		io.WriteString(w, "ok")
	}))
	cb.srv.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			cb.conns.Add(1)
		}
	}
	cb.srv.Start()
	t.Cleanup(cb.srv.Close)
	return cb
}

func TestDirectReusesConnections(t *testing.T) {
	cb := startCountingBackend(t)
	b, _ := router.ParseBackend(cb.srv.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	const n = 200
	var wg sync.WaitGroup
	for w := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range n / 4 {
				body := envelope(fmt.Sprintf("reuse-%d-%d", w, i), 10, 100)
				resp, err := http.Post(url, "text/xml", bytes.NewReader(body))
				if err != nil {
					t.Error(err)
					return
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 {
					t.Errorf("status %d", resp.StatusCode)
				}
			}
		}()
	}
	wg.Wait()
	if got := cb.handled.Load(); got != n {
		t.Errorf("backend handled %d requests, want %d", got, n)
	}
	if got := cb.conns.Load(); got > 8 {
		t.Errorf("backend saw %d connections for %d requests; want them reused", got, n)
	}
}

// A connection the backend closed while it sat idle is not used: the next
// request still succeeds, and is handled exactly once.
func TestDirectStaleIdleConnection(t *testing.T) {
	cb := startCountingBackend(t)
	b, _ := router.ParseBackend(cb.srv.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	for i := range 5 {
		resp := postBytes(t, url, envelope("stale", 10, 10), "stale")
		if resp.status != http.StatusOK {
			t.Fatalf("request %d: status %d: %s", i, resp.status, resp.body)
		}
		if got := cb.handled.Load(); got != int64(i+1) {
			t.Fatalf("after request %d the backend handled %d", i, got)
		}
		cb.srv.CloseClientConnections()
		time.Sleep(20 * time.Millisecond) // let the close reach the router
	}
	if got := cb.conns.Load(); got != 5 {
		t.Errorf("backend saw %d connections, want one per request", got)
	}
}

// A backend that refuses keep-alive gets a new connection every time.
func TestDirectBackendWithoutKeepAlive(t *testing.T) {
	cb := startCountingBackend(t)
	cb.srv.Config.SetKeepAlivesEnabled(false)
	b, _ := router.ParseBackend(cb.srv.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	for i := range 10 {
		if resp := postBytes(t, url, envelope("nka", 10, 10), "nka"); resp.status != http.StatusOK {
			t.Fatalf("request %d: status %d", i, resp.status)
		}
	}
	if h, c := cb.handled.Load(), cb.conns.Load(); h != 10 || c != 10 {
		t.Errorf("backend handled %d requests on %d connections, want 10 on 10", h, c)
	}
}

func TestDirectRefusesUpgrade(t *testing.T) {
	cb := startCountingBackend(t)
	b, _ := router.ParseBackend(cb.srv.URL)
	_, url := startRouter(t, []router.Backend{b}, directDefaults(t))
	status, _ := rawRequest(t, url, "GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n")
	if status != http.StatusBadGateway {
		t.Errorf("upgrade: status %d, want 502", status)
	}
	if n := cb.handled.Load(); n != 0 {
		t.Errorf("backend handled %d requests, want none", n)
	}
}

func TestDirectTLSBackend(t *testing.T) {
	var proto atomic.Value
	backend := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		proto.Store(r.Proto)
		io.WriteString(w, "secure")
	}))
	defer backend.Close()
	roots := x509.NewCertPool()
	roots.AddCert(backend.Certificate())
	b, _ := router.ParseBackend(backend.URL)
	_, url := startRouter(t, []router.Backend{b}, withDirect(t, router.TransportConfig{TLS: &tls.Config{RootCAs: roots}}))
	for range 3 {
		if resp := postBytes(t, url, envelope("tls", 10, 10), "tls"); resp.status != 200 || resp.body != "secure" {
			t.Fatalf("status %d body %q", resp.status, resp.body)
		}
	}
	if p := proto.Load(); p != "HTTP/1.1" {
		t.Errorf("backend saw %v", p)
	}
	// Without the backend's root the handshake fails: nothing was sent.
	_, url = startRouter(t, []router.Backend{b}, withDirect(t, router.TransportConfig{}))
	if resp := postBytes(t, url, envelope("tls", 10, 10), "tls"); resp.status != http.StatusBadGateway {
		t.Errorf("untrusted backend: status %d, want 502", resp.status)
	}
}

// BenchmarkForwarders compares the forwarders end to end on loopback:
// client, router and backend all in this process, so allocs/op counts all
// three.
func BenchmarkForwarders(b *testing.B) {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		io.WriteString(w, "ok")
	}))
	defer backend.Close()
	be, _ := router.ParseBackend(backend.URL)
	cfg := router.TransportConfig{MaxIdleConnsPerHost: 64}
	forwarders := []struct {
		name string
		make func() (router.Forwarder, func())
	}{
		{"proxy", func() (router.Forwarder, func()) {
			tr := router.NewTransport(cfg)
			return router.NewProxyForwarder(tr), tr.CloseIdleConnections
		}},
		{"direct", func() (router.Forwarder, func()) {
			f := router.NewDirectForwarder(cfg).(*router.DirectForwarder)
			return f, f.CloseIdleConnections
		}},
	}
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, fw := range forwarders {
			b.Run(fmt.Sprintf("%s/%dKiB", fw.name, size>>10), func(b *testing.B) {
				f, closeIdle := fw.make()
				defer closeIdle()
				_, url := startRouter(b, []router.Backend{be}, func(c *router.Config) { c.Forwarder = f })
				client := &http.Client{Transport: &http.Transport{MaxIdleConnsPerHost: 4}}
				defer client.CloseIdleConnections()
				body := envelope("bench-1", 64, size)
				b.SetBytes(int64(len(body)))
				b.ReportAllocs()
				for b.Loop() {
					resp, err := client.Post(url, "text/xml", bytes.NewReader(body))
					if err != nil {
						b.Fatal(err)
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						b.Fatalf("status %d", resp.StatusCode)
					}
				}
			})
		}
	}
}
