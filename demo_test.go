package main

import (
	"bufio"
	"context"
	"io"
	"net/http"
	"strings"
	"testing"
	"time"
)

// The demo prints a stickiness table with one row per key, every one
// sticky, the status page's address, then a curl command, and stops
// cleanly when cancelled.
func TestDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	pr, pw := io.Pipe()
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"demo"}, []string{"PEEKROUTE_LISTEN_ADDR=127.0.0.1:0"}, pw, io.Discard)
		pw.Close()
	}()
	var rows, sticky int
	var status string
	backends := map[string]bool{}
	sc := bufio.NewScanner(pr)
	for sc.Scan() {
		line := sc.Text()
		if f := strings.Fields(line); len(f) == 2+demoRepeats && strings.HasPrefix(f[0], "ussd-") {
			rows++
			if f[len(f)-1] == "yes" {
				sticky++
			}
			backends[f[1]] = true
		}
		if url, ok := strings.CutPrefix(line, "Status page: "); ok {
			status = getStatusPage(url)
		}
		if strings.Contains(line, "curl -s") {
			cancel()
		}
	}
	if code := <-done; code != exitOK {
		t.Errorf("demo exited %d", code)
	}
	if rows != len(demoKeys) || sticky != rows {
		t.Errorf("%d rows, %d sticky; want %d, all sticky", rows, sticky, len(demoKeys))
	}
	if len(backends) < 2 {
		t.Errorf("demo keys all went to %v", backends)
	}
	if !strings.Contains(status, `data-health="up"`) {
		t.Errorf("the status page the demo names answered %q", status)
	}
}

// getStatusPage fetches the page at url, or says why it could not.
func getStatusPage(url string) string {
	resp, err := http.Get(url)
	if err != nil {
		return err.Error()
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp.Status + "\n" + string(body)
}
