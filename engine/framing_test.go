package engine_test

import (
	"fmt"
	"io"
	"net"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// A chunked request body reaches the backend as the client framed it:
// chunk extensions and trailers included, byte for byte.
func TestChunkedRequestRelayedByteForByte(t *testing.T) {
	const head = "POST /up HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nTrailer: X-Trailer, X-Other\r\n\r\n"
	const first = "5;ext=1\r\nhello\r\n"
	const rest = "6;a=b;c=\"q r\"\r\n world\r\n0;last\r\nX-Trailer: t1\r\nX-Other: t2\r\n\r\n"
	const body = first + rest

	check := func(t *testing.T, r *rawRequest) {
		t.Helper()
		if string(r.body) != body {
			t.Errorf("backend got body %q, want %q", r.body, body)
		}
		if te := r.field("Transfer-Encoding"); len(te) != 1 || te[0] != "chunked" {
			t.Errorf("backend Transfer-Encoding %q, want one chunked", te)
		}
		if cl := r.field("Content-Length"); len(cl) != 0 {
			t.Errorf("backend got Content-Length %q on a chunked body", cl)
		}
		if tr := r.field("Trailer"); len(tr) != 1 || tr[0] != "X-Trailer, X-Other" {
			t.Errorf("backend Trailer %q, want the client's", tr)
		}
	}

	t.Run("whole in the first read", func(t *testing.T) {
		b := startBackend(t, nil)
		h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
		c := h.dial()
		c.send(head + body)
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "ok /up" {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
		check(t, recv(t, b.got, "the backend to get the request"))
	})

	t.Run("policy peeks into it", func(t *testing.T) {
		b := startBackend(t, nil)
		p := newPolicy(b.target("b"))
		p.peek = true
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send(head + body)
		if r := c.read("POST"); r.StatusCode != 200 {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
		if pk := recv(t, p.peeks, "the policy to peek"); string(pk.content) != "hello world" || pk.err != nil {
			t.Errorf("policy read %q, %v; want the content %q", pk.content, pk.err, "hello world")
		}
		check(t, recv(t, b.got, "the backend to get the request"))
	})

	t.Run("streamed after the head", func(t *testing.T) {
		heads := make(chan *rawRequest, 1)
		b := startBackend(t, func(rc *rawConn) {
			r, err := rc.readHead()
			if err != nil {
				return
			}
			heads <- r
			if rc.readBody(r) != nil {
				return
			}
			rc.b.got <- r
			answerOK(rc, r)
			rc.drainToEOF()
		})
		h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
		c := h.dial()
		c.send(head + first)
		recv(t, heads, "the backend to get the head before the body ends")
		for i := 0; i < len(rest); i += 7 { // in pieces that split every framing element somewhere
			c.send(rest[i:min(i+7, len(rest))])
		}
		if r := c.read("POST"); r.StatusCode != 200 {
			t.Fatalf("got %d %q", r.StatusCode, r.body)
		}
		check(t, recv(t, b.got, "the backend to get the body"))
	})
}

// A chunked response reaches the client byte for byte, trailers included,
// and the connection goes on after it.
func TestChunkedResponseRelayedByteForByte(t *testing.T) {
	var big strings.Builder
	for i := 0; big.Len() < 300<<10; i++ {
		data := strings.Repeat(string(rune('a'+i%26)), 1+i%4000)
		fmt.Fprintf(&big, "%x;n=%d\r\n%s\r\n", len(data), i, data)
	}
	big.WriteString("0\r\nX-Checksum: 42\r\nX-More: yes\r\n\r\n")
	answers := map[string]string{
		"/small": "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Sum\r\n\r\n" +
			"4;name=v\r\nabcd\r\n3\r\nefg\r\n0\r\nX-Sum: 7\r\n\r\n",
		"/big":   "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTrailer: X-Checksum, X-More\r\n\r\n" + big.String(),
		"/after": "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nafter",
	}
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		return rc.write(answers[r.target()])
	}))
	h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
	c := h.dial()
	for _, path := range []string{"/small", "/big", "/after"} {
		c.send("GET " + path + " HTTP/1.1\r\nHost: x\r\n\r\n")
		want := answers[path]
		if got := c.readExactly(len(want)); got != want {
			if len(got) > 200 {
				i := 0
				for i < len(got) && got[i] == want[i] {
					i++
				}
				t.Errorf("%s: client got different bytes from offset %d: %q, want %q", path, i, got[i:min(i+80, len(got))], want[i:min(i+80, len(want))])
			} else {
				t.Errorf("%s: client got %q, want %q", path, got, want)
			}
		}
	}
	if got := b.acceptedConns(); got != 1 {
		t.Errorf("backend accepted %d connections, want 1", got)
	}
}

// Interim responses: 103 reaches an HTTP/1.1 client before the final
// response; a backend's 100 Continue reaches the client, and then the body
// flows.
func TestInterimResponses(t *testing.T) {
	const hints = "HTTP/1.1 103 Early Hints\r\nLink: </style.css>; rel=preload\r\n\r\n"
	const final = "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\nok"

	t.Run("103 Early Hints", func(t *testing.T) {
		b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
			return rc.write(hints + final)
		}))
		h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
		c := h.dial()
		for i := range 2 {
			c.send("GET /hints HTTP/1.1\r\nHost: x\r\n\r\n")
			if got := c.readExactly(len(hints + final)); got != hints+final {
				t.Errorf("request %d: client got %q, want %q", i, got, hints+final)
			}
		}
		if got := b.acceptedConns(); got != 1 {
			t.Errorf("backend accepted %d connections, want 1", got)
		}
	})

	t.Run("103 is not sent to an HTTP/1.0 client", func(t *testing.T) {
		b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
			return rc.write(hints + final)
		}))
		h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
		c := h.dial()
		c.send("GET /hints HTTP/1.0\r\nHost: x\r\n\r\n")
		r := c.read("GET")
		if r.StatusCode != 200 || r.body != "ok" {
			t.Errorf("HTTP/1.0 client got %d %q first, want the final 200", r.StatusCode, r.body)
		}
		c.expectClosed()
	})

	t.Run("backend's 100 Continue when the policy does not read the body", func(t *testing.T) {
		b := startBackend(t, func(rc *rawConn) {
			r, err := rc.readHead()
			if err != nil {
				return
			}
			if got := r.field("Expect"); len(got) != 1 || got[0] != "100-continue" {
				body := fmt.Sprintf("backend saw Expect %q", got)
				rc.write(fmt.Sprintf("HTTP/1.1 417 Expectation Failed\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
				return
			}
			if !rc.write("HTTP/1.1 100 Continue\r\n\r\n") || rc.readBody(r) != nil {
				return
			}
			body := "got:" + string(r.body)
			rc.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
			rc.drainToEOF()
		})
		h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
		c := h.dial()
		c.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		const cont = "HTTP/1.1 100 Continue\r\n\r\n"
		if got := c.readExactly(len(cont)); got != cont {
			t.Fatalf("client got %q before sending the body, want %q", got, cont)
		}
		c.send("hello")
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "got:hello" {
			t.Errorf("got %d %q, want 200 got:hello", r.StatusCode, r.body)
		}
	})

	t.Run("engine's own 100 Continue when the policy reads the body", func(t *testing.T) {
		b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
			body := fmt.Sprintf("expect=%q body=%s", r.field("Expect"), r.body)
			return rc.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
		}))
		p := newPolicy(b.target("b"))
		p.peek = true
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("POST /e HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n\r\n")
		const cont = "HTTP/1.1 100 Continue\r\n\r\n"
		if got := c.readExactly(len(cont)); got != cont {
			t.Fatalf("client got %q before sending the body, want %q", got, cont)
		}
		c.send("hello")
		// The backend is not asked to continue again: exactly one 100.
		if r := c.read("POST"); r.StatusCode != 200 || r.body != "expect=[] body=hello" {
			t.Errorf("got %d %q, want 200 with no Expect at the backend", r.StatusCode, r.body)
		}
	})
}

var closeDelimitedHeads = []struct{ name, head string }{
	{"HTTP/1.0", "HTTP/1.0 200 OK\r\nContent-Type: text/plain\r\n\r\n"},
	{"HTTP/1.1 Connection: close", "HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nConnection: close\r\n\r\n"},
}

// closeDelimited has a backend answer with head and a 1 MiB body that
// ends when it closes, checks what the client got, and returns what Done
// heard.
func closeDelimited(t *testing.T, head string) ended {
	body := strings.Repeat("0123456789abcdef", 64<<10) // more than one read
	b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
		rc.write(head + body)
		return false // and close
	}))
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	c := h.dial()
	c.send("GET /stream HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("GET")
	if r.StatusCode != 200 || r.body != body {
		t.Errorf("got %d and %d body bytes, want 200 and %d", r.StatusCode, len(r.body), len(body))
	}
	if !r.Close {
		t.Errorf("response lacks Connection: close (header %v)", r.Header)
	}
	c.expectClosed()
	e := p.waitDone(t)
	if e.status != 200 || e.bytesOut != int64(len(body)) {
		t.Errorf("Done heard status %d, %d bytes out; want 200, %d bytes", e.status, e.bytesOut, len(body))
	}
	h.close()
	p.expectNoFailures(t)
	return e
}

// A response delimited by the backend closing reaches the client whole,
// and the client connection then closes.
func TestCloseDelimitedResponse(t *testing.T) {
	for _, tt := range closeDelimitedHeads {
		t.Run(tt.name, func(t *testing.T) { closeDelimited(t, tt.head) })
	}
}

// A close-delimited response that arrived whole is not reported as cut
// short.
func TestCloseDelimitedResponseEndsWithoutError(t *testing.T) {
	for _, tt := range closeDelimitedHeads {
		t.Run(tt.name, func(t *testing.T) {
			if e := closeDelimited(t, tt.head); e.err != nil {
				t.Errorf("Done heard err %v for a response relayed whole", e.err)
			}
		})
	}
}

// A response whose framing is ambiguous or malformed gets 502; the policy
// blames the backend, and the connection it came on is not used again.
func TestMalformedBackendResponses(t *testing.T) {
	tests := []struct{ name, answer string }{
		{"Content-Length and Transfer-Encoding", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"two different Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 2\r\nContent-Length: 5\r\n\r\nhello"},
		{"two equal Content-Lengths", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\nhello"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 2\n\nok"},
		{"bare LF in one field", "HTTP/1.1 200 OK\r\nX-A: b\nContent-Length: 2\r\n\r\nok"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX-A: b\r\n c\r\nContent-Length: 2\r\n\r\nok"},
		{"head over MaxHeaderBytes", "HTTP/1.1 200 OK\r\nX-Big: " + strings.Repeat("a", 1<<20) + "\r\nContent-Length: 2\r\n\r\nok"},
		{"not HTTP", "SSH-2.0-OpenSSH_9.6\r\n\r\n"},
		{"chunked body on 204", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n"},
		{"unknown transfer coding", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\n\r\nxx"},
		{"101 to a request that asked for no upgrade", "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBackend(t, serveRequests(func(rc *rawConn, r *rawRequest) bool {
				if r.target() == "/bad" {
					rc.write(tt.answer)
					// Stay open, reading: only the engine may end it.
					return true
				}
				return answerOK(rc, r)
			}))
			p := newPolicy(b.target("b"))
			h := startEngine(t, engine.Config{Policy: p})
			c := h.dial()
			c.send("GET /bad HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.StatusCode != 502 {
				t.Errorf("client got %d %q, want 502", r.StatusCode, r.body)
			}
			if e := p.waitDone(t); e.status != 502 || e.err == nil {
				t.Errorf("Done heard status %d err %v, want 502 with the reason", e.status, e.err)
			}
			if f := p.failures(); len(f) != 1 || f[0].target != "b" {
				t.Errorf("BackendFailed calls %v, want one for b", f)
			}
			// The client connection goes on; the backend connection does not.
			c.send("GET /good HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /good" {
				t.Errorf("next request: %d %q", r.StatusCode, r.body)
			}
			var good *rawRequest
			for good == nil || good.target() != "/good" {
				good = recv(t, b.got, "the backend to get /good")
			}
			if good.conn == 0 {
				t.Error("the next request reused the connection that carried the malformed response")
			}
		})
	}
}

// A backend that answers before it has read a large body (an early 413)
// has its answer passed on, not replaced by a 502, and is not blamed; the
// client connection closes after it.
func TestEarlyAnswerToLargeBody(t *testing.T) {
	const declared = 8 << 20
	head := fmt.Sprintf("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", declared)
	part := strings.Repeat("p", 16<<10)

	// early answers after reading the first 1 KiB of the body, then closes
	// its side and reads on, as a careful server does.
	early := func(answer string) func(rc *rawConn) {
		return func(rc *rawConn) {
			r, err := rc.readHead()
			if err != nil {
				return
			}
			rc.b.got <- r
			first := make([]byte, 1<<10)
			if _, err := io.ReadFull(rc.br, first); err != nil {
				return
			}
			rc.write(answer)
			rc.Conn.(*net.TCPConn).CloseWrite()
			rc.drainToEOF()
		}
	}
	const tooBig = "HTTP/1.1 413 Content Too Large\r\nContent-Type: text/plain\r\nContent-Length: 8\r\nConnection: close\r\n\r\ntoo big\n"

	check := func(t *testing.T, c *client, p *testPolicy, b *rawBackend, h *harness, wantBody string) {
		t.Helper()
		r, err := c.tryRead("POST")
		if err != nil {
			t.Fatalf("client did not get the early answer: %v", err)
		}
		if r.StatusCode != 413 || r.body != wantBody {
			t.Errorf("client got %d with %d body bytes, want 413 with %d", r.StatusCode, len(r.body), len(wantBody))
		}
		if !r.Close {
			t.Errorf("early answer lacks Connection: close (header %v)", r.Header)
		}
		c.expectClosed()
		if e := p.waitDone(t); e.status != 413 {
			t.Errorf("Done heard status %d, want 413", e.status)
		}
		h.close()
		b.drain()
		p.expectNoFailures(t)
		for _, rc := range b.connections() {
			if n := len(rc.rawBytes()); n >= declared {
				t.Errorf("backend read %d bytes, want the body cut short", n)
			}
		}
	}

	t.Run("client waits for the answer", func(t *testing.T) {
		b := startBackend(t, early(tooBig))
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send(head + part)
		check(t, c, p, b, h, "too big\n")
	})

	t.Run("client keeps sending", func(t *testing.T) {
		b := startBackend(t, early(tooBig))
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send(head)
		stop := make(chan struct{})
		sent := make(chan struct{})
		go func() { // a client that sends a piece at a time until told to stop or refused
			defer close(sent)
			// It never sends the last piece: a body that arrived whole
			// before the answer would make the answer a late one.
			for total := 0; total+len(part) < declared; total += len(part) {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := io.WriteString(c.nc, part); err != nil {
					return
				}
			}
		}()
		defer func() { close(stop); <-sent }()
		check(t, c, p, b, h, "too big\n")
	})

	t.Run("answer with a large body", func(t *testing.T) {
		page := strings.Repeat("<p>too big</p>\n", 20<<10) // 300 KiB: relayed while the body still streams
		b := startBackend(t, early(fmt.Sprintf("HTTP/1.1 413 Content Too Large\r\nContent-Length: %d\r\n\r\n%s", len(page), page)))
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send(head + part)
		check(t, c, p, b, h, page)
	})
}

// An early answer relayed to a client that is still sending its body
// reaches it whole: the engine lingers before closing, as it does after
// its own answers, instead of resetting the connection.
func TestEarlyAnswerReachesAClientStillSending(t *testing.T) {
	page := strings.Repeat("<p>too big</p>\n", 16<<10) // 240 KiB
	b := startBackend(t, func(rc *rawConn) {
		if _, err := rc.readHead(); err != nil {
			return
		}
		read := make(chan struct{})
		go func() { rc.drainToEOF(); close(read) }() // read the body on, as a careful server does
		rc.write(fmt.Sprintf("HTTP/1.1 413 Content Too Large\r\nContent-Length: %d\r\n\r\n%s", len(page), page))
		<-read
	})
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	part := strings.Repeat("p", 64<<10)
	for round := range 10 {
		c := h.dial()
		c.send("POST /upload HTTP/1.1\r\nHost: x\r\nContent-Length: 1073741824\r\n\r\n")
		stop, sent := make(chan struct{}), make(chan struct{})
		go func() { // the client sends on while it reads the answer
			defer close(sent)
			for {
				select {
				case <-stop:
					return
				default:
				}
				if _, err := io.WriteString(c.nc, part); err != nil {
					return
				}
			}
		}()
		r, err := c.tryRead("POST")
		close(stop)
		c.nc.Close()
		<-sent
		e := p.waitDone(t)
		if err != nil || r.StatusCode != 413 || r.body != page {
			t.Fatalf("round %d: client got status %d and %d of %d body bytes (%v); the engine wrote %d",
				round, r.StatusCode, len(r.body), len(page), err, e.bytesOut)
		}
	}
}

// An upgrade becomes a tunnel both ways after 101; a 101 that was not
// asked for is the backend's failure.
func TestUpgrade(t *testing.T) {
	t.Run("websocket tunnel", func(t *testing.T) {
		const switched = "HTTP/1.1 101 Switching Protocols\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n\r\n"
		b := startBackend(t, func(rc *rawConn) {
			r, err := rc.readRequest()
			if err != nil {
				return
			}
			if !rc.write(switched) {
				return
			}
			_ = r
			// Echo until the client ends its side, then end ours.
			io.Copy(rc, rc.br)
			rc.Conn.(*net.TCPConn).CloseWrite()
		})
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p})
		c := h.dial()
		c.send("GET /ws HTTP/1.1\r\nHost: x\r\nConnection: Upgrade\r\nUpgrade: websocket\r\nSec-WebSocket-Version: 13\r\n\r\n")
		if got := c.readExactly(len(switched)); got != switched {
			t.Fatalf("client got %q, want the 101", got)
		}
		r := recv(t, b.got, "the backend to get the upgrade request")
		if conn := r.field("Connection"); len(conn) != 1 || !strings.EqualFold(conn[0], "upgrade") {
			t.Errorf("backend Connection fields %q, want Upgrade", conn)
		}
		if up := r.field("Upgrade"); len(up) != 1 || up[0] != "websocket" {
			t.Errorf("backend Upgrade fields %q, want websocket", up)
		}
		for _, msg := range []string{"ping", strings.Repeat("frame", 20000), "last"} {
			c.send(msg)
			if got := c.readExactly(len(msg)); got != msg {
				t.Errorf("echo of %d bytes came back as %d different bytes", len(msg), len(got))
			}
		}
		c.nc.(*net.TCPConn).CloseWrite()
		c.expectClosed()
		e := p.waitDone(t)
		if e.status != 101 {
			t.Errorf("Done heard status %d, want 101", e.status)
		}
		h.close()
		p.expectNoFailures(t)
	})
}
