package router_test

import (
	"bufio"
	"bytes"
	"fmt"
	"net"
	"strconv"
	"testing"

	"github.com/peekroute/peekroute/router"
)

// rawBackend answers every request on every connection with a fixed small
// response, reading requests by their Content-Length without allocating:
// what a benchmark measures through it is peekroute's cost.
func rawBackend(tb testing.TB) router.Backend {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { ln.Close() })
	resp := []byte("HTTP/1.1 200 OK\r\nContent-Type: text/xml\r\nContent-Length: 2\r\n\r\nok")
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			tb.Cleanup(func() { c.Close() })
			go func() {
				br := bufio.NewReaderSize(c, 64<<10)
				for {
					n, err := readRequest(br)
					if err != nil {
						return
					}
					if _, err := br.Discard(n); err != nil {
						return
					}
					if _, err := c.Write(resp); err != nil {
						return
					}
				}
			}()
		}
	}()
	b, err := router.ParseBackend("http://" + ln.Addr().String())
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

// readRequest reads a request head from br and returns its Content-Length.
func readRequest(br *bufio.Reader) (int, error) {
	n := 0
	for {
		line, err := br.ReadSlice('\n')
		if err != nil {
			return 0, err
		}
		if len(line) <= 2 {
			return n, nil
		}
		if v, ok := bytes.CutPrefix(line, []byte("Content-Length: ")); ok {
			n, _ = strconv.Atoi(string(bytes.TrimSpace(v)))
		}
	}
}

// BenchmarkRouted measures one routed exchange over loopback: a keep-alive
// client sends a SOAP request, the router peeks its key, the engine
// forwards it to the key's owner and relays the answer. allocs/op counts
// the whole process, client and backend included, which allocate nothing
// per request here.
func BenchmarkRouted(b *testing.B) {
	for _, size := range []int{1 << 10, 64 << 10} {
		b.Run(fmt.Sprintf("%dKiB", size>>10), func(b *testing.B) { benchmarkRouted(b, size) })
	}
	// The limiter's cost when it does not bind: every exchange takes and
	// gives back a slot.
	b.Run("1KiB-limited", func(b *testing.B) {
		benchmarkRouted(b, 1<<10, func(c *testConfig) { c.engine.MaxActive, c.engine.MaxQueue = 1000, 1024 })
	})
}

func benchmarkRouted(b *testing.B, size int, opts ...routerOpt) {
	backends := []router.Backend{rawBackend(b), rawBackend(b), rawBackend(b)}
	_, url := startRouter(b, backends, opts...)
	conn, err := net.Dial("tcp", url[len("http://"):])
	if err != nil {
		b.Fatal(err)
	}
	defer conn.Close()
	body := envelope("ussd-1001", 64, size)
	req := fmt.Appendf(nil, "POST /ussd HTTP/1.1\r\nHost: soap\r\nContent-Type: text/xml; charset=utf-8\r\n"+
		"SOAPAction: \"ussd\"\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	br := bufio.NewReaderSize(conn, 4<<10)
	b.SetBytes(int64(len(req)))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := conn.Write(req); err != nil {
			b.Fatal(err)
		}
		if err := readResponse(br); err != nil {
			b.Fatal(err)
		}
	}
}

// readResponse reads one response with a Content-Length.
func readResponse(br *bufio.Reader) error {
	n, err := readRequest(br) // the same head shape: a line, fields, a blank line
	if err != nil {
		return err
	}
	_, err = br.Discard(n)
	return err
}
