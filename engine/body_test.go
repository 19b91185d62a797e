package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"strings"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// chunk frames data as chunks of at most n bytes, with an extension on
// every chunk, then a last chunk and a trailer.
func chunk(data string, n int) string {
	var b strings.Builder
	for i := 0; i < len(data); i += n {
		piece := data[i:min(i+n, len(data))]
		fmt.Fprintf(&b, "%x;i=%d\r\n%s\r\n", len(piece), i, piece)
	}
	b.WriteString("0\r\nX-End: yes\r\n\r\n")
	return b.String()
}

// A body larger than what a peeking policy may read reaches the backend
// byte for byte: the peeked start, then the rest streamed.
func TestPeekedBodyReachesTheBackendWhole(t *testing.T) {
	const peekLimit = 4 << 10
	content := strings.Repeat("<item>peek</item>", 12<<10) // about 200 KiB
	tests := []struct{ name, head, body string }{
		{"length", fmt.Sprintf("Content-Length: %d\r\n", len(content)), content},
		{"chunked", "Transfer-Encoding: chunked\r\n", chunk(content, 3000)},
		{"chunked in small chunks", "Transfer-Encoding: chunked\r\n", chunk(content, 100)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := startBackend(t, nil)
			p := newPolicy(b.target("b"))
			p.peek = true
			h := startEngine(t, engine.Config{Policy: p, PeekLimit: peekLimit})
			c := h.dial()
			c.send("POST /big HTTP/1.1\r\nHost: x\r\n" + tt.head + "\r\n" + tt.body)
			if r := c.read("POST"); r.StatusCode != 200 {
				t.Fatalf("got %d %q", r.StatusCode, r.body)
			}
			pk := recv(t, p.peeks, "the policy to peek")
			if pk.err != nil || len(pk.content) < peekLimit/2 || !strings.HasPrefix(content, string(pk.content)) {
				t.Errorf("policy read %d bytes (%v); want a prefix of the content of at least %d bytes", len(pk.content), pk.err, peekLimit/2)
			}
			r := recv(t, b.got, "the backend to get the request")
			if string(r.body) != tt.body {
				t.Errorf("backend got %d body bytes, want the %d sent, unchanged", len(r.body), len(tt.body))
			}
			// And the connection goes on.
			c.send("GET /next HTTP/1.1\r\nHost: x\r\n\r\n")
			if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /next" {
				t.Errorf("next request: %d %q", r.StatusCode, r.body)
			}
		})
	}
}

// A backend may stream its response while the request body still streams;
// both directions arrive whole.
func TestFullDuplexStreaming(t *testing.T) {
	const size = 1 << 20
	b := startBackend(t, func(rc *rawConn) {
		for {
			if _, err := rc.readHead(); err != nil {
				return
			}
			if !rc.write(fmt.Sprintf("HTTP/1.1 200 OK\r\nContent-Length: %d\r\n\r\n", size)) {
				return
			}
			if _, err := io.CopyN(rc, rc.br, size); err != nil { // echo the body as it comes
				return
			}
		}
	})
	p := newPolicy(b.target("b"))
	h := startEngine(t, engine.Config{Policy: p})
	body := bytes.Repeat([]byte("0123456789abcdef"), size/16)
	for i := range 3 {
		c := h.dial()
		c.send(fmt.Sprintf("POST /duplex HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n", size))
		written := make(chan error, 1)
		go func() {
			var err error
			for off := 0; off < size && err == nil; off += 16 << 10 {
				_, err = c.nc.Write(body[off : off+16<<10])
			}
			written <- err
		}()
		r, err := c.tryRead("POST")
		if err := <-written; err != nil {
			t.Errorf("round %d: client write: %v", i, err)
		}
		if err != nil || r.StatusCode != 200 || r.body != string(body) {
			t.Errorf("round %d: status %d, %d body bytes, err %v; want 200 and the echo of %d bytes", i, r.StatusCode, len(r.body), err, size)
		}
		if e := p.waitDone(t); e.status != 200 || e.bytesIn < size || e.bytesOut != size {
			t.Errorf("round %d: Done heard %d, %d bytes in, %d out", i, e.status, e.bytesIn, e.bytesOut)
		}
	}
	h.close()
	p.expectNoFailures(t)
}

// MaxBody refuses a declared body at once and cuts a streamed one; the
// backend is not blamed.
func TestMaxBody(t *testing.T) {
	const max = 10 << 10
	t.Run("declared", func(t *testing.T) {
		b := startBackend(t, nil)
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p, MaxBody: max})
		c := h.dial()
		c.send(fmt.Sprintf("POST /big HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\nstart", max+1))
		c.expectRefused("POST", 413)
		h.close()
		if n := b.acceptedConns(); n != 0 {
			t.Errorf("backend accepted %d connections", n)
		}
	})
	t.Run("streamed", func(t *testing.T) {
		results := make(chan bodyResult, 1)
		b := startBackend(t, bodyReceiver(results))
		p := newPolicy(b.target("b"))
		h := startEngine(t, engine.Config{Policy: p, MaxBody: max})
		c := h.dial()
		c.send("POST /big HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")
		c.send(chunk(strings.Repeat("z", 3*max), 1000))
		res := recv(t, results, "the backend's read to end")
		if res.err != nil || res.n >= 3*max {
			t.Errorf("backend read %d body bytes then %v; want the body cut short", res.n, res.err)
		}
		c.expectRefused("POST", 413)
		h.close()
		p.expectNoFailures(t)
	})
}

// A policy's refusal is answered with its status; the connection goes on
// when the body was in hand, and a SOAP client gets a SOAP fault.
func TestPolicyRefusal(t *testing.T) {
	b := startBackend(t, nil)
	p := newPolicy(b.target("b"))
	refusal := &engine.StatusError{Status: 403, Msg: "no key <here>"}
	h := startEngine(t, engine.Config{Policy: &refusingPolicy{p, "/refuse", refusal}})
	c := h.dial()
	c.send("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"urn:x\"\r\nContent-Length: 5\r\n\r\nhello" +
		"POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Type: application/soap+xml\r\nContent-Length: 5\r\n\r\nhello" +
		"GET /ok HTTP/1.1\r\nHost: x\r\n\r\n")
	r := c.read("POST")
	if r.StatusCode != 403 || r.Close || !strings.Contains(r.body, "<faultcode>soap:Client</faultcode>") ||
		!strings.Contains(r.body, "no key &lt;here&gt;") || !strings.HasPrefix(r.Header.Get("Content-Type"), "text/xml") {
		t.Errorf("SOAP 1.1 refusal: %d close=%v %q %q", r.StatusCode, r.Close, r.Header.Get("Content-Type"), r.body)
	}
	r = c.read("POST")
	if r.StatusCode != 403 || r.Close || !strings.Contains(r.body, "<env:Value>env:Sender</env:Value>") ||
		!strings.HasPrefix(r.Header.Get("Content-Type"), "application/soap+xml") {
		t.Errorf("SOAP 1.2 refusal: %d close=%v %q %q", r.StatusCode, r.Close, r.Header.Get("Content-Type"), r.body)
	}
	if r := c.read("GET"); r.StatusCode != 200 || r.body != "ok /ok" {
		t.Errorf("request after the refusals: %d %q", r.StatusCode, r.body)
	}
	// A refusal before the body is in hand ends the connection.
	c.send("POST /refuse HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\nstart")
	c.expectRefused("POST", 403)
	h.close()
	p.expectNoFailures(t)
	for _, r := range b.requests() {
		if r.target() != "/ok" {
			t.Errorf("backend got %s", r.line)
		}
	}
}

// refusingPolicy refuses requests to one request-target with err.
type refusingPolicy struct {
	*testPolicy
	target string
	err    error
}

func (p *refusingPolicy) Route(x *engine.Exchange) (*engine.Target, error) {
	if string(x.Req.Target) == p.target {
		return nil, p.err
	}
	return p.testPolicy.Route(x)
}

// A client that asks for Connection: close gets it said and done.
func TestClientConnectionClose(t *testing.T) {
	b := startBackend(t, nil)
	h := startEngine(t, engine.Config{Policy: newPolicy(b.target("b"))})
	c := h.dial()
	c.send("GET /bye HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
	if r := c.read("GET"); r.StatusCode != 200 || !r.Close {
		t.Errorf("got %d close=%v, want 200 with Connection: close", r.StatusCode, r.Close)
	}
	c.expectClosed()
	if r := recv(t, b.got, "the backend to get the request"); len(r.field("Connection")) != 0 {
		t.Errorf("backend got the client's Connection field %q", r.field("Connection"))
	}
}
