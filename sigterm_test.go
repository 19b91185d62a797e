package main

import (
	"errors"
	"io"
	"net"
	"net/http"
	"os"
	"strings"
	"syscall"
	"testing"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// SIGTERM: readiness turns 503 at once, the request in flight completes,
// new connections are refused after the delay, and the exit status is 0.
func TestSIGTERMDrainsInFlightRequests(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs the binary")
	}
	arrived := make(chan struct{})
	release := make(chan struct{})
	slow := newBackend(t, "slow", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == http.MethodPost {
			close(arrived)
			<-release
		}
		io.WriteString(w, "done")
	}))
	cmd, addr, admin := startBinary(t, buildBinary(t),
		"PEEKROUTE_BACKENDS="+slow.url(), "PEEKROUTE_KEY=xml:sessionId",
		"PEEKROUTE_LISTEN_ADDR=127.0.0.1:0", "PEEKROUTE_ADMIN_ADDR=127.0.0.1:0",
		"PEEKROUTE_HEALTH_INTERVAL=50ms", "PEEKROUTE_SHUTDOWN_DELAY=300ms", "PEEKROUTE_SHUTDOWN_TIMEOUT=20s")
	waitStatus(t, "http://"+admin+"/readyz", http.StatusOK)

	type result struct {
		status int
		body   string
		err    error
	}
	inFlight := make(chan result, 1)
	go func() {
		resp, err := http.Post("http://"+addr+"/slow", "text/xml", strings.NewReader("<sessionId>s-1</sessionId>"))
		if err != nil {
			inFlight <- result{err: err}
			return
		}
		defer resp.Body.Close()
		body, err := io.ReadAll(resp.Body)
		inFlight <- result{resp.StatusCode, string(body), err}
	}()
	<-arrived

	if err := cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	waitStatus(t, "http://"+admin+"/readyz", http.StatusServiceUnavailable)
	waitRefused(t, addr)

	close(release)
	if r := <-inFlight; r.err != nil || r.status != http.StatusOK || r.body != "done" {
		t.Errorf("request in flight: %d %q %v, want 200 done", r.status, r.body, r.err)
	}
	if err := cmd.Wait(); err != nil {
		t.Errorf("exit: %v, want status 0", err)
	}
}

// waitRefused waits until connections to addr are refused.
func waitRefused(t *testing.T, addr string) {
	t.Helper()
	eventually(t, addr+" to refuse connections", func() error {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return nil
		}
		conn.Close()
		return errors.New("accepts connections")
	})
}
