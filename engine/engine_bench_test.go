package engine_test

import (
	"bytes"
	"fmt"
	"io"
	"net"
	"strings"
	"sync"
	"testing"

	"github.com/peekroute/peekroute/engine"
)

// BenchmarkEngine measures the engine alone over loopback: one keep-alive
// client connection sends a SOAP POST, rendered once, through the engine
// to a keep-alive backend that answers a fixed small response. The client
// and the backend reuse their buffers and allocate nothing per request, so
// allocs/op and B/op are the engine's own (and the policy's, which
// allocates nothing either). ns/op is one round trip through the engine,
// client and backend included.
//
// route=fixed routes without reading the body; route=peek reads the first
// KiB of the body through Exchange.Body first, as a key-routing policy
// does. 1 KiB bodies arrive whole with the head; 64 KiB bodies are
// streamed to the backend after the head.
func BenchmarkEngine(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		for _, peek := range []bool{false, true} {
			route := "fixed"
			if peek {
				route = "peek"
			}
			b.Run(fmt.Sprintf("body=%dKiB/route=%s", size>>10, route), func(b *testing.B) {
				benchEngine(b, size, peek)
			})
		}
	}
}

// benchResponse is what the backend answers every request with; the
// engine passes it on unchanged.
const benchResponse = "HTTP/1.1 200 OK\r\nContent-Type: text/xml; charset=utf-8\r\nContent-Length: 2\r\n\r\nok"

// soapRequest renders a SOAP 1.1 POST whose body is exactly size bytes.
func soapRequest(size int) []byte {
	const open = `<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soap:Body><ussd><sessionId>bench-session-1</sessionId><msisdn>+15550000000</msisdn><text>`
	const end = `</text></ussd></soap:Body></soap:Envelope>`
	body := open + strings.Repeat("x", size-len(open)-len(end)) + end
	return []byte(fmt.Sprintf("POST /ussd HTTP/1.1\r\nHost: bench.test\r\nContent-Type: text/xml; charset=utf-8\r\n"+
		"SOAPAction: \"urn:ussd\"\r\nContent-Length: %d\r\n\r\n%s", len(body), body))
}

// benchPolicy routes to one target, reading the start of the body when
// peek is set, without allocating. It serves one client connection at a
// time (its buffer is shared).
type benchPolicy struct {
	target *engine.Target
	peek   bool
	buf    [1 << 10]byte
}

func (p *benchPolicy) Route(x *engine.Exchange) (*engine.Target, error) {
	if p.peek {
		r := x.Body()
		for n := 0; n < len(p.buf); {
			k, err := r.Read(p.buf[n:])
			n += k
			if err != nil {
				break
			}
		}
	}
	return p.target, nil
}

func (p *benchPolicy) Retry(*engine.Exchange, *engine.Target) *engine.Target { return nil }
func (p *benchPolicy) Reroute(_ *engine.Exchange, t *engine.Target) *engine.Target {
	return t
}
func (p *benchPolicy) BackendFailed(*engine.Target, error) {}
func (p *benchPolicy) Done(*engine.Exchange)               {}

// benchBackend answers every request on every connection with
// benchResponse, reading each request whole into one buffer per
// connection: it allocates nothing per request.
type benchBackend struct {
	ln    net.Listener
	wg    sync.WaitGroup
	mu    sync.Mutex
	conns []net.Conn
}

func startBenchBackend(b *testing.B) *benchBackend {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	bb := &benchBackend{ln: ln}
	bb.wg.Add(1)
	go func() {
		defer bb.wg.Done()
		for {
			nc, err := ln.Accept()
			if err != nil {
				return
			}
			bb.mu.Lock()
			bb.conns = append(bb.conns, nc)
			bb.mu.Unlock()
			bb.wg.Add(1)
			go func() {
				defer bb.wg.Done()
				defer nc.Close()
				serveBench(nc)
			}()
		}
	}()
	b.Cleanup(func() {
		ln.Close()
		bb.mu.Lock()
		for _, nc := range bb.conns {
			nc.Close()
		}
		bb.mu.Unlock()
		bb.wg.Wait()
	})
	return bb
}

var (
	headEnd     = []byte("\r\n\r\n")
	lengthField = []byte("\r\nContent-Length: ")
)

func serveBench(nc net.Conn) {
	buf := make([]byte, 256<<10)
	resp := []byte(benchResponse)
	r, w := 0, 0
	for {
		if r == w {
			r, w = 0, 0
		} else if r > 0 {
			w = copy(buf, buf[r:w])
			r = 0
		}
		end := -1
		for end < 0 {
			if i := bytes.Index(buf[r:w], headEnd); i >= 0 {
				end = r + i + len(headEnd)
				break
			}
			n, err := nc.Read(buf[w:])
			if err != nil {
				return
			}
			w += n
		}
		length := 0
		if i := bytes.Index(buf[r:end], lengthField); i >= 0 {
			for _, c := range buf[r+i+len(lengthField) : end] {
				if c < '0' || c > '9' {
					break
				}
				length = 10*length + int(c-'0')
			}
		}
		need := end + length
		if need > len(buf) {
			return
		}
		for w < need {
			n, err := nc.Read(buf[w:])
			if err != nil {
				return
			}
			w += n
		}
		r = need
		if _, err := nc.Write(resp); err != nil {
			return
		}
	}
}

func benchEngine(b *testing.B, size int, peek bool) {
	bb := startBenchBackend(b)
	p := &benchPolicy{target: &engine.Target{Name: "bench", Addr: bb.ln.Addr().String()}, peek: peek}
	h := startEngine(b, engine.Config{Policy: p, Logger: testLogger()})
	nc, err := net.Dial("tcp", h.addr)
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { nc.Close() })
	req := soapRequest(size)
	got := make([]byte, len(benchResponse))
	roundTrip := func() {
		if _, err := nc.Write(req); err != nil {
			b.Fatalf("client write: %v", err)
		}
		if _, err := io.ReadFull(nc, got); err != nil {
			b.Fatalf("client read: %v", err)
		}
	}
	for range 20 { // warm the pools, the backend connection included
		roundTrip()
	}
	if string(got) != benchResponse {
		b.Fatalf("client got %q, want %q", got, benchResponse)
	}
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		roundTrip()
	}
	b.StopTimer()
	if string(got) != benchResponse {
		b.Fatalf("client got %q, want %q", got, benchResponse)
	}
}
