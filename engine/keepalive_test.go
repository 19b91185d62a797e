package engine_test

import (
	"fmt"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// Requests sent one after another on one client connection all travel on
// one pooled backend connection.
func TestKeepAliveReusesOneBackendConnection(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	const n = 8
	for i := range n {
		if i%2 == 0 {
			c.send(fmt.Sprintf("GET /r%d HTTP/1.1\r\nHost: x\r\n\r\n", i))
		} else {
			c.send(fmt.Sprintf("POST /r%d HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\n\r\nhello", i))
		}
		r := c.read("GET")
		if r.StatusCode != 200 || r.body != fmt.Sprintf("ok /r%d", i) {
			t.Fatalf("request %d: %d %q", i, r.StatusCode, r.body)
		}
		if r.Close {
			t.Fatalf("request %d: the engine closes a keep-alive connection", i)
		}
	}
	if got := b.acceptedConns(); got != 1 {
		t.Errorf("backend accepted %d connections for %d requests on one client connection, want 1", got, n)
	}
	if got := len(b.requests()); got != n {
		t.Errorf("backend read %d requests, want %d", got, n)
	}
	for range n { // the pool has the connection back before Done
		p.waitDone(t)
	}
	if idle := h.srv.IdleConns("b"); idle != 1 {
		t.Errorf("IdleConns = %d after the exchanges, want 1", idle)
	}
}

// Several requests written at once are answered in order, each with its
// own response.
func TestPipelinedRequestsAnsweredInOrder(t *testing.T) {
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		body := r.target() + ":" + string(r.body)
		return rc.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /one HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /two HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabc" +
		"POST /three HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n2\r\nde\r\n0\r\n\r\n" +
		"GET /four HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /five HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\n\r\nwxyz")
	want := []string{"/one:", "/two:abc", "/three:2\r\nde\r\n0\r\n\r\n", "/four:", "/five:wxyz"}
	for i, w := range want {
		r := c.read("GET")
		if r.StatusCode != 200 || r.body != w {
			t.Errorf("response %d: %d %q, want 200 %q", i, r.StatusCode, r.body, w)
		}
	}
	if got := b.acceptedConns(); got != 1 {
		t.Errorf("backend accepted %d connections, want 1", got)
	}
}

// An HTTP/1.0 client gets its connection closed unless it asks for
// keep-alive; the backend hears HTTP/1.0 with Connection: keep-alive.
func TestHTTP10Client(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})

	checkBackendSaw := func(t *testing.T, r *rawRequest) {
		t.Helper()
		if !strings.HasSuffix(r.line, " HTTP/1.0") {
			t.Errorf("backend request line %q, want HTTP/1.0", r.line)
		}
		if conn := r.field("Connection"); len(conn) != 1 || !strings.EqualFold(conn[0], "keep-alive") {
			t.Errorf("backend Connection fields %q, want one keep-alive", conn)
		}
		if ka := r.field("Keep-Alive"); len(ka) != 0 {
			t.Errorf("backend got the client's hop-by-hop Keep-Alive %q", ka)
		}
	}

	t.Run("without keep-alive the connection closes", func(t *testing.T) {
		c := h.dial()
		c.send("GET /plain HTTP/1.0\r\nHost: x\r\n\r\n")
		r := c.read("GET")
		if r.StatusCode != 200 || r.body != "ok /plain" {
			t.Errorf("got %d %q", r.StatusCode, r.body)
		}
		if strings.EqualFold(r.Header.Get("Connection"), "keep-alive") {
			t.Error("response says keep-alive to a client that did not ask for it")
		}
		c.expectClosed()
		checkBackendSaw(t, recv(t, b.got, "the backend to get the request"))
	})

	t.Run("with keep-alive the connection stays open", func(t *testing.T) {
		c := h.dial()
		for i := range 3 {
			c.send(fmt.Sprintf("GET /ka%d HTTP/1.0\r\nHost: x\r\nConnection: keep-alive\r\nKeep-Alive: timeout=5\r\n\r\n", i))
			r := c.read("GET")
			if r.StatusCode != 200 || r.body != fmt.Sprintf("ok /ka%d", i) {
				t.Errorf("request %d: %d %q", i, r.StatusCode, r.body)
			}
			if got := r.Header.Get("Connection"); !strings.EqualFold(got, "keep-alive") {
				t.Errorf("request %d: response Connection %q, want keep-alive", i, got)
			}
			checkBackendSaw(t, recv(t, b.got, "the backend to get the request"))
		}
		// Without keep-alive, the last one closes it.
		c.send("GET /last HTTP/1.0\r\nHost: x\r\n\r\n")
		if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /last" {
			t.Errorf("last request: %d %q", r.StatusCode, r.body)
		}
		recv(t, b.got, "the backend to get the last request")
		c.expectClosed()
	})

	if got := b.acceptedConns(); got != 1 {
		t.Errorf("backend accepted %d connections, want 1: HTTP/1.0 clients use the pool too", got)
	}
}

// HEAD, 204 and 304 responses carry no body, and the connection goes on
// with the next response right after them.
func TestNoBodyResponsesKeepTheConnection(t *testing.T) {
	answers := map[string]string{
		"/head":  "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: 1234\r\n\r\n",
		"/204":   "HTTP/1.1 204 No Content\r\nX-R: 204\r\n\r\n",
		"/304":   "HTTP/1.1 304 Not Modified\r\nETag: \"v1\"\r\nContent-Length: 99\r\n\r\n",
		"/after": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter",
	}
	requests := []string{
		"HEAD /head HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /204 HTTP/1.1\r\nHost: x\r\n\r\n",
		"GET /304 HTTP/1.1\r\nHost: x\r\nIf-None-Match: \"v1\"\r\n\r\n",
		"GET /after HTTP/1.1\r\nHost: x\r\n\r\n",
	}
	order := []string{"/head", "/204", "/304", "/after"}
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		return rc.write(answers[r.target()])
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})

	t.Run("one by one", func(t *testing.T) {
		c := h.dial()
		for i, req := range requests {
			c.send(req)
			want := answers[order[i]]
			if got := c.readExactly(len(want)); got != want {
				t.Errorf("%s: client got %q, want %q", order[i], got, want)
			}
			p.waitDone(t) // the backend connection is back in the pool
		}
	})
	t.Run("pipelined", func(t *testing.T) {
		c := h.dial()
		c.send(strings.Join(requests, ""))
		var want string
		for _, path := range order {
			want += answers[path]
		}
		if got := c.readExactly(len(want)); got != want {
			t.Errorf("client got %q, want %q", got, want)
		}
	})
	if got := b.acceptedConns(); got != 1 {
		t.Errorf("backend accepted %d connections, want 1: bodiless responses leave it reusable", got)
	}
}

// Bytes a backend sends past the end of its response — a body on a HEAD
// answer or a 204, more than its Content-Length — are not passed on as
// part of the next response, and the connection they came on is dropped.
func TestStrayBackendBytesAreNotRelayed(t *testing.T) {
	const next = "HTTP/1.1 200 OK\r\nContent-Length: 4\r\n\r\nnext"
	tests := []struct {
		name, request, answer, want string
	}{
		{"body on a HEAD answer", "HEAD /stray HTTP/1.1\r\nHost: x\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n" + next,
			"HTTP/1.1 200 OK\r\nContent-Length: 23\r\n\r\n"},
		{"body on a 204", "GET /stray HTTP/1.1\r\nHost: x\r\n\r\n",
			"HTTP/1.1 204 No Content\r\n\r\n" + next,
			"HTTP/1.1 204 No Content\r\n\r\n"},
		{"more than Content-Length", "GET /stray HTTP/1.1\r\nHost: x\r\n\r\n",
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok" + next,
			"HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
				if r.target() == "/stray" {
					return rc.write(tt.answer)
				}
				return rc.write("HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nfresh")
			}))
			p := newPolicy(b.target("b"))
			h := startEngine(t, engine.Config{Policy: p})
			c := h.dial()
			c.send(tt.request)
			if got := c.readExactly(len(tt.want)); got != tt.want {
				t.Errorf("client got %q, want %q", got, tt.want)
			}
			p.waitDone(t)
			c.send("GET /fresh HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.StatusCode != 200 || r.body != "fresh" {
				t.Errorf("next request got %d %q, want the backend's answer to it", r.StatusCode, r.body)
			}
			if n := b.acceptedConns(); n != 2 {
				t.Errorf("backend accepted %d connections, want 2: the one with stray bytes is dropped", n)
			}
		})
	}
}
