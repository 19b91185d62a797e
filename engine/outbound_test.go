package engine_test

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// isForwarded reports a field line the engine writes itself.
func isForwarded(line string) bool {
	name, _, _ := strings.Cut(line, ":")
	return strings.HasPrefix(strings.ToLower(name), "x-forwarded-")
}

// The backend hears X-Forwarded-* as peekroute sets them, no hop-by-hop
// field, and every other field as the client sent it, in order, with the
// case of its name kept.
func TestForwardedFields(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	tests := []struct {
		name     string
		fields   string // the client's, after the request line
		kept     []string
		xff, xfh string
		te       []string
	}{
		{
			name: "one prior hop, hop-by-hop fields, a spoofed proto and host",
			fields: "Host: example.test\r\nX-Forwarded-For: 203.0.113.7\r\nx-forwarded-proto: https\r\nX-Forwarded-Host: evil.test\r\n" +
				"Connection: keep-alive, X-Hop\r\nKeep-Alive: timeout=5\r\nProxy-Connection: keep-alive\r\nX-Hop: secret\r\n" +
				"content-type: text/plain\r\nX-Custom-Case: A\r\naccept: */*\r\nForwarded: for=198.51.100.1\r\nContent-Length: 2\r\n",
			kept: []string{"Host: example.test", "content-type: text/plain", "X-Custom-Case: A", "accept: */*",
				"Forwarded: for=198.51.100.1", "Content-Length: 2"},
			xff: "203.0.113.7, 127.0.0.1", xfh: "example.test",
		},
		{
			name: "several prior hops in several fields",
			fields: "X-Forwarded-For: 192.0.2.1, 192.0.2.2\r\nHost: example.test\r\nx-forwarded-for: 192.0.2.3\r\n" +
				"Proxy-Authorization: Basic eA==\r\nTE: trailers, deflate\r\nUpgrade: h2c\r\nX-Last: z\r\nContent-Length: 2\r\n",
			kept: []string{"Host: example.test", "X-Last: z", "Content-Length: 2"},
			xff:  "192.0.2.1, 192.0.2.2, 192.0.2.3, 127.0.0.1", xfh: "example.test",
			te: []string{"trailers"},
		},
		{
			name:   "none sent",
			fields: "Host: a.example:8080\r\nContent-Length: 2\r\n",
			kept:   []string{"Host: a.example:8080", "Content-Length: 2"},
			xff:    "127.0.0.1", xfh: "a.example:8080",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := h.dial()
			c.send("POST /p?q=1 HTTP/1.1\r\n" + tt.fields + "\r\nhi")
			if r := c.read("POST"); r.StatusCode != 200 {
				t.Fatalf("got %d %q", r.StatusCode, r.body)
			}
			r := recv(t, b.got, "the backend to get the request")
			if r.line != "POST /p?q=1 HTTP/1.1" || string(r.body) != "hi" {
				t.Errorf("backend got %q with body %q", r.line, r.body)
			}
			var others []string
			for _, f := range r.fields {
				if !isForwarded(f) && !strings.HasPrefix(f, "TE:") {
					others = append(others, f)
				}
			}
			if !slices.Equal(others, tt.kept) {
				t.Errorf("backend fields other than X-Forwarded-* and TE:\n got %q\nwant %q", others, tt.kept)
			}
			for name, want := range map[string][]string{
				"X-Forwarded-For":   {tt.xff},
				"X-Forwarded-Host":  {tt.xfh},
				"X-Forwarded-Proto": {"http"},
				"TE":                tt.te,
			} {
				if got := r.field(name); !slices.Equal(got, want) {
					t.Errorf("backend %s: %q, want %q", name, got, want)
				}
			}
		})
	}
}

// Hop-by-hop fields of a response are not passed on; the rest are.
func TestResponseHopByHopFieldsRemoved(t *testing.T) {
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		return rc.write("HTTP/1.1 200 OK\r\nConnection: keep-alive, X-Secret\r\nX-Secret: s\r\nKeep-Alive: timeout=5\r\n" +
			"Proxy-Authenticate: Basic\r\nX-Keep: k\r\nContent-Length: 2\r\n\r\nok")
	}))
	h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
	c := h.dial()
	for range 2 {
		c.send("GET / HTTP/1.1\r\nHost: x\r\n\r\n")
		r := c.read("GET")
		if r.StatusCode != 200 || r.body != "ok" || r.Header.Get("X-Keep") != "k" {
			t.Errorf("got %d %q %v", r.StatusCode, r.body, r.Header)
		}
		for _, name := range []string{"Connection", "X-Secret", "Keep-Alive", "Proxy-Authenticate"} {
			if v := r.Header.Values(name); len(v) > 0 {
				t.Errorf("client got hop-by-hop %s: %q", name, v)
			}
		}
	}
}

// A target's path prefix goes before every path, and a request-target in
// absolute form is sent in origin form.
func TestPathPrefixAndAbsoluteForm(t *testing.T) {
	b := startBackend(t, nil)
	target := b.target("b")
	target.PathPrefix = "/base"
	h := startEngine(t, engine.Config{Policy: newPolicy(target)})
	c := h.dial()
	for _, tt := range []struct{ sent, want string }{
		{"/p?q=1", "/base/p?q=1"},
		{"/", "/base/"},
		{"http://example.test/p/q?r", "/base/p/q?r"},
		{"http://example.test", "/base/"},
		{"http://example.test?x=1", "/base/?x=1"},
	} {
		c.send("GET " + tt.sent + " HTTP/1.1\r\nHost: example.test\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Errorf("%s: got %d %q", tt.sent, r.StatusCode, r.body)
			continue
		}
		if r := recv(t, b.got, "the backend to get the request"); r.target() != tt.want {
			t.Errorf("%s reached the backend as %s, want %s", tt.sent, r.target(), tt.want)
		}
	}
}

// testCert returns the certificate httptest serves (for example.com and
// 127.0.0.1) and a pool that trusts it.
func testCert(t *testing.T) ([]tls.Certificate, *x509.CertPool) {
	ts := httptest.NewUnstartedServer(http.NotFoundHandler())
	ts.StartTLS()
	defer ts.Close()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	return ts.TLS.Certificates, pool
}

// A TLS target is reached over TLS, verified by name, and its connection
// is pooled like any other.
func TestTLSBackend(t *testing.T) {
	var conns atomic.Int32
	ts := httptest.NewUnstartedServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		fmt.Fprintf(w, "tls=%v proto=%s body=%d", r.TLS != nil, r.Header.Get("X-Forwarded-Proto"), len(body))
	}))
	ts.Config.ConnState = func(_ net.Conn, s http.ConnState) {
		if s == http.StateNew {
			conns.Add(1)
		}
	}
	ts.StartTLS()
	pool := x509.NewCertPool()
	pool.AddCert(ts.Certificate())
	good := &engine.Target{Name: "tls", Addr: ts.Listener.Addr().String(), TLS: true, ServerName: "example.com"}
	wrong := &engine.Target{Name: "wrong-name", Addr: good.Addr, TLS: true, ServerName: "other.example"}
	p := newPolicy(good)
	p.choose = func(x *engine.Exchange) *engine.Target {
		if string(x.Req.Target) == "/wrong" {
			return wrong
		}
		return good
	}
	h := startEngine(t, engine.Config{Policy: p, BackendTLS: &tls.Config{RootCAs: pool}})
	t.Cleanup(ts.Close) // before the engine closes: its pooled connection is idle

	c := h.dial()
	big := strings.Repeat("b", 300<<10)
	for i, req := range []string{
		"GET /1 HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello",
		"POST /3 HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big,
	} {
		c.send(req)
		want := []string{"tls=true proto=http body=0", "tls=true proto=http body=5", fmt.Sprintf("tls=true proto=http body=%d", len(big))}[i]
		if r := c.read("GET"); r.StatusCode != 200 || r.body != want {
			t.Errorf("request %d: %d %q, want 200 %q", i, r.StatusCode, r.body, want)
		}
		p.waitDone(t)
	}
	if n := conns.Load(); n != 1 {
		t.Errorf("TLS backend saw %d connections for 3 requests, want 1", n)
	}
	c.send("GET /wrong HTTP/1.1\r\nHost: x\r\n\r\n")
	if r := c.read("GET"); r.StatusCode != 502 {
		t.Errorf("a backend whose certificate does not match its name: %d, want 502", r.StatusCode)
	}
	if f := p.failures(); len(f) != 1 || f[0].target != "wrong-name" {
		t.Errorf("BackendFailed calls %v, want one for wrong-name", f)
	}
}

// Requests on a TLS client connection reach the backend with
// X-Forwarded-Proto: https.
func TestTLSClients(t *testing.T) {
	certs, pool := testCert(t)
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngineOn(t, engine.Config{Policy: p}, func(ln net.Listener) net.Listener {
		return tls.NewListener(ln, &tls.Config{Certificates: certs})
	})
	tc, err := tls.Dial("tcp", h.addr, &tls.Config{RootCAs: pool, ServerName: "example.com"})
	if err != nil {
		t.Fatal(err)
	}
	c := newClient(t, tc)
	big := strings.Repeat("t", 200<<10)
	for i, req := range []string{
		"GET /a HTTP/1.1\r\nHost: x\r\nX-Forwarded-Proto: http\r\n\r\n",
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: " + fmt.Sprint(len(big)) + "\r\n\r\n" + big,
	} {
		c.send(req)
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("request %d: %d %q", i, r.StatusCode, r.body)
		}
		r := recv(t, b.got, "the backend to get the request")
		if got := r.field("X-Forwarded-Proto"); !slices.Equal(got, []string{"https"}) {
			t.Errorf("request %d: backend X-Forwarded-Proto %q, want https", i, got)
		}
		if i == 1 && string(r.body) != big {
			t.Errorf("backend got %d body bytes, want %d", len(r.body), len(big))
		}
		if e := p.waitDone(t); !e.tls {
			t.Errorf("request %d: Exchange.TLS false on a TLS client connection", i)
		}
	}
}

// A pooled backend connection that the backend closed while it was idle
// is not used: the next request goes on a new one and succeeds.
func TestStaleIdleBackendConnectionNotUsed(t *testing.T) {
	t.Run("backend closes idle connections", func(t *testing.T) {
		closed := make(chan int, 8)
		b := startBackend(t, func(rc *rawConn) {
			r, err := rc.readRequest()
			if err != nil {
				return
			}
			answerOK(rc, r) // keep-alive as far as the engine knows
			rc.Close()
			closed <- rc.idx
		})
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		for i := range 3 {
			c.send(fmt.Sprintf("GET /%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
			if r := c.read("GET"); r.StatusCode != 200 {
				t.Errorf("request %d: %d %q", i, r.StatusCode, r.body)
			}
			p.waitDone(t) // the connection is back in the pool
			recv(t, closed, "the backend to close the connection")
		}
		if n := b.acceptedConns(); n != 3 {
			t.Errorf("backend accepted %d connections, want 3", n)
		}
		h.close()
		p.expectNoFailures(t)
	})

	t.Run("backend restarts", func(t *testing.T) {
		b1 := startBackend(t, nil)
		addr := b1.addr
		p := newPolicy(b1.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("GET /before HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 {
			t.Fatalf("got %d", r.StatusCode)
		}
		p.waitDone(t)
		b1.close()
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("restarting the backend on %s: %v", addr, err)
		}
		b2 := startBackendOn(t, ln, serveRequests(func(rc *rawConn, r *rawRequest) bool {
			return rc.write("HTTP/1.1 200 OK\r\nContent-Length: 9\r\n\r\nrestarted")
		}))
		c.send("GET /after HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "restarted" {
			t.Errorf("after the restart: %d %q, want 200 from the new backend", r.StatusCode, r.body)
		}
		if n := b2.acceptedConns(); n != 1 {
			t.Errorf("restarted backend accepted %d connections, want 1", n)
		}
		h.close()
		p.expectNoFailures(t)
	})
}

// deadAddr returns a loopback address nothing listens on.
func deadAddr(t *testing.T) string {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	return addr
}

// A backend that cannot be reached is blamed, and the request goes to
// Retry's target when nothing of it was sent and its body is in hand.
func TestRetryAfterAFailedDial(t *testing.T) {
	b := startBackend(t, nil)
	dead := &engine.Target{Name: "dead", Addr: deadAddr(t)}

	t.Run("whole request retried", func(t *testing.T) {
		p := newPolicy(dead)
		p.retryTo = b.target("b")
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "ok /r" {
			t.Errorf("got %d %q, want 200 from the retry target", r.StatusCode, r.body)
		}
		if e := p.waitDone(t); !e.retried || e.backend != "b" {
			t.Errorf("Done heard retried=%v backend=%q, want a retry on b", e.retried, e.backend)
		}
		if f := p.failures(); len(f) != 1 || f[0].target != "dead" {
			t.Errorf("BackendFailed calls %v, want one for dead", f)
		}
	})

	t.Run("no retry target", func(t *testing.T) {
		p := newPolicy(dead)
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("GET /r HTTP/1.1\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 502 {
			t.Errorf("got %d, want 502", r.StatusCode)
		}
		if f := p.failures(); len(f) != 1 {
			t.Errorf("BackendFailed calls %v, want one", f)
		}
	})

	t.Run("body not in hand is not retried", func(t *testing.T) {
		p := newPolicy(dead)
		p.retryTo = b.target("b")
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("POST /r HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nstart")
		c.expectRefused("POST", 502)
		h.close()
		p.mu.Lock()
		retries := p.retries
		p.mu.Unlock()
		if retries != 0 {
			t.Errorf("Retry was asked %d times for a request whose body was not in hand", retries)
		}
	})
}
