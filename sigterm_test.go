package main

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// built is the peekroute binary the tests run, built once.
var built struct {
	once sync.Once
	dir  string
	path string
	err  error
}

// buildBinary builds peekroute once per test run.
func buildBinary(t *testing.T) string {
	t.Helper()
	built.once.Do(func() {
		if built.dir, built.err = os.MkdirTemp("", "peekroute-test"); built.err != nil {
			return
		}
		built.path = filepath.Join(built.dir, "peekroute")
		out, err := exec.Command("go", "build", "-o", built.path, ".").CombinedOutput()
		if err != nil {
			built.err = fmt.Errorf("go build: %v\n%s", err, out)
		}
	})
	if built.err != nil {
		t.Fatal(built.err)
	}
	return built.path
}

func TestMain(m *testing.M) {
	code := m.Run()
	if built.dir != "" {
		os.RemoveAll(built.dir)
	}
	os.Exit(code)
}

// startBinary runs the binary with env and returns its client and admin
// addresses, read from its "peekroute listening" log line.
func startBinary(t *testing.T, bin string, env ...string) (cmd *exec.Cmd, addr, admin string) {
	t.Helper()
	cmd = exec.Command(bin)
	cmd.Env = append(os.Environ(), env...)
	stderr, err := cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if cmd.ProcessState == nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
	})
	var seen []string
	lines := bufio.NewScanner(stderr)
	for lines.Scan() {
		seen = append(seen, lines.Text())
		var rec struct{ Msg, Addr, Admin string }
		if json.Unmarshal(lines.Bytes(), &rec) == nil && rec.Msg == "peekroute listening" {
			go io.Copy(io.Discard, stderr)
			return cmd, rec.Addr, rec.Admin
		}
	}
	t.Fatalf("peekroute exited before listening:\n%s", strings.Join(seen, "\n"))
	return nil, "", ""
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
	deadline := time.Now().Add(20 * time.Second)
	for {
		conn, err := net.Dial("tcp", addr)
		if err != nil {
			return
		}
		conn.Close()
		if time.Now().After(deadline) {
			t.Fatalf("%s still accepts connections", addr)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
