package main

import (
	"bufio"
	"context"
	"io"
	"strings"
	"testing"
	"time"
)

// The demo prints a stickiness table with one row per key, every one
// sticky, then a curl command, and stops cleanly when cancelled.
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
}
