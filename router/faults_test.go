package router_test

import (
	"bufio"
	"bytes"

	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/peekroute/peekroute/router"
)

func TestMain(m *testing.M) {
	goleak.VerifyTestMain(m)
}

// rawRequest sends raw bytes to addr on a new connection and reads one
// response; with stall, it keeps the connection open after writing.
func rawRequest(t *testing.T, url, raw string) (int, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	if _, err := io.WriteString(conn, raw); err != nil {
		t.Fatal(err)
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		t.Fatalf("reading response: %v", err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(body)
}

func withLimits(peekTimeout time.Duration, maxBody int64) routerOpt {
	return func(c *testConfig) { c.engine.PeekTimeout, c.engine.MaxBody = peekTimeout, maxBody }
}

// Every bad input gets its own status, and the router goes on serving.
func TestBadInput(t *testing.T) {
	bs := startBackends(t, 2)
	_, url := startRouter(t, bs.backends, withPeekLimit(4<<10), withLimits(300*time.Millisecond, 10<<10))
	key := "<sessionId>bad-1</sessionId>"
	big := key + strings.Repeat("x", 20<<10)
	tests := []struct {
		name   string
		raw    string
		status int
	}{
		{"slow client never sends the key", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 1000\r\n\r\n<Envelope>", 408},
		{"declared body too large", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 20000\r\n\r\n" + big[:20000], 413},
		{"streamed body too large within the peek", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", 11<<10, strings.Repeat("y", 11<<10)), 413},
		{"streamed body too large after the key", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n" +
			fmt.Sprintf("%x\r\n%s\r\n0\r\n\r\n", len(big), big), 413},
		{"duplicate Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"Content-Length with Transfer-Encoding", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
		{"Transfer-Encoding with Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
		{"obsolete line folding", "POST / HTTP/1.1\r\nHost: x\r\nX-Long: a\r\n b\r\nContent-Length: 3\r\n\r\nabc", 400},
		{"Transfer-Encoding on HTTP/1.0", "POST / HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 400},
		{"differing Content-Length", "POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd", 400},
		{"invalid chunk size", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n", 400},
		{"unknown transfer coding", "POST / HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n", 501},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := len(bs.completed())
			status, body := rawRequest(t, url, tt.raw)
			if status != tt.status {
				t.Errorf("status %d (%q), want %d", status, body, tt.status)
			}
			if n := len(bs.completed()) - before; n != 0 {
				t.Errorf("%d requests reached a backend whole", n)
			}
			good := envelope("after-"+tt.name, 10, 10)
			if resp := postBytes(t, url, good, "after"); resp.status != http.StatusOK {
				t.Errorf("the next request got %d", resp.status)
			}
		})
	}
}

// completed returns the requests a backend read to the end without error.
func (bs *backendSet) completed() []received {
	var done []received
	for _, r := range bs.received() {
		if r.err == nil {
			done = append(done, r)
		}
	}
	return done
}

// A client that aborts mid-body leaves the backend with an aborted request,
// never a truncated one taken as whole.
func TestClientAbortMidBody(t *testing.T) {
	bs := startBackends(t, 1)
	_, url := startRouter(t, bs.backends, withPeekLimit(1<<10))
	conn, err := net.Dial("tcp", strings.TrimPrefix(url, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	part := "<sessionId>abort-1</sessionId>" + strings.Repeat("z", 8<<10)
	fmt.Fprintf(conn, "POST / HTTP/1.1\r\nHost: x\r\nX-Test-Key: abort-1\r\nContent-Length: 100000\r\n\r\n%s", part)
	r := <-bs.arrivals
	conn.Close()
	got := <-r
	if got.err == nil || got.length >= 100000 {
		t.Errorf("backend read %d bytes, err %v; want an aborted read", got.length, got.err)
	}
	// The router goes on serving the backend.
	if resp := postBytes(t, url, envelope("after-abort", 10, 10), "after-abort"); resp.status != http.StatusOK {
		t.Errorf("next request: status %d", resp.status)
	}
}

func TestBackendFaults(t *testing.T) {
	engineLimits := func(c *testConfig) { c.engine.ResponseTimeout, c.engine.MaxIdlePerBackend = 300*time.Millisecond, 4 }
	release := make(chan struct{})
	defer close(release)
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		switch r.URL.Path {
		case "/slow":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/cut-length", "/cut-chunked":
			if r.URL.Path == "/cut-length" {
				w.Header().Set("Content-Length", "1000")
			}
			w.WriteHeader(http.StatusOK)
			w.Write(bytes.Repeat([]byte("a"), 100))
			http.NewResponseController(w).Flush()
			conn, _, err := http.NewResponseController(w).Hijack()
			if err == nil {
				conn.Close()
			}
		case "/teapot":
			w.Header().Set("X-Custom", "kept")
			w.WriteHeader(http.StatusTeapot)
			io.WriteString(w, "short and stout")
		case "/error":
			http.Error(w, "backend exploded", http.StatusInternalServerError)
		case "/stream":
			for i := range 5 {
				fmt.Fprintf(w, "event %d\n", i)
				http.NewResponseController(w).Flush()
			}
		}
	}))
	defer backend.Close()
	b, _ := router.ParseBackend(backend.URL)
	_, url := startRouter(t, []router.Backend{b}, engineLimits)

	call := func(path string) (*http.Response, []byte, error) {
		resp, err := http.Post(url+path, "text/plain", strings.NewReader("<sessionId>f</sessionId>"))
		if err != nil {
			return nil, nil, err
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		return resp, body, err
	}
	t.Run("slow backend gets 504", func(t *testing.T) {
		resp, _, err := call("/slow")
		if err != nil || resp.StatusCode != http.StatusGatewayTimeout {
			t.Errorf("got %v %v, want 504", resp, err)
		}
	})
	for _, path := range []string{"/cut-length", "/cut-chunked"} {
		t.Run("backend closes mid-response "+path, func(t *testing.T) {
			resp, body, err := call(path)
			if err == nil {
				t.Errorf("client read a whole %d response of %d bytes; want a broken connection", resp.StatusCode, len(body))
			}
		})
	}
	t.Run("responses pass through", func(t *testing.T) {
		resp, body, err := call("/teapot")
		if err != nil || resp.StatusCode != http.StatusTeapot || string(body) != "short and stout" || resp.Header.Get("X-Custom") != "kept" {
			t.Errorf("teapot: %v %q %v", resp, body, err)
		}
		resp, body, err = call("/error")
		if err != nil || resp.StatusCode != 500 || string(body) != "backend exploded\n" {
			t.Errorf("error: %v %q %v", resp, body, err)
		}
		resp, body, err = call("/stream")
		if err != nil || string(body) != "event 0\nevent 1\nevent 2\nevent 3\nevent 4\n" || len(resp.TransferEncoding) == 0 {
			t.Errorf("stream: %v %q %v", resp, body, err)
		}
	})
}
