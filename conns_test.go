package main

import (
	"bufio"
	"fmt"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// At the cap on client connections, further clients wait in the backlog,
// the admin listener keeps answering, and a waiting client is served once
// a connection closes.
func TestConnectionCapKeepsAdminAnswering(t *testing.T) {
	ev := newEvents()
	b := newBackend(t, "b0", nil)
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS="+b.url(), "PEEKROUTE_MAX_CONNS=2")
	ev.waitFor(t, "ring rebuilt", "healthy", 1)
	// Ready fires just after the ring has its first healthy set; wait for
	// it, or the /readyz asserted below could still be 503.
	waitStatus(t, inst.admin+"/readyz", http.StatusOK)
	addr := strings.TrimPrefix(inst.url, "http://")
	body := "<Envelope><Body><sessionId>cap</sessionId></Body></Envelope>"
	request := fmt.Sprintf("POST /ussd HTTP/1.1\r\nHost: x\r\nContent-Type: text/xml\r\nContent-Length: %d\r\n\r\n%s", len(body), body)
	exchange := func(c net.Conn) (int, error) {
		c.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := fmt.Fprint(c, request); err != nil {
			return 0, err
		}
		resp, err := http.ReadResponse(bufio.NewReader(c), nil)
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	var open []net.Conn
	for range 2 {
		c, err := net.Dial("tcp", addr)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if status, err := exchange(c); err != nil || status != http.StatusOK {
			t.Fatalf("connection under the cap: %d %v", status, err)
		}
		open = append(open, c)
	}
	third, err := net.Dial("tcp", addr) // accepted by the kernel, not yet by peekroute
	if err != nil {
		t.Fatal(err)
	}
	defer third.Close()
	answered := make(chan int, 1)
	go func() {
		status, err := exchange(third)
		if err != nil {
			t.Error(err)
		}
		answered <- status
	}()
	for _, path := range []string{"/healthz", "/readyz", "/metrics"} {
		if status, _ := get(t, inst.admin+path); status != http.StatusOK {
			t.Errorf("admin %s at the cap: %d", path, status)
		}
	}
	if n := counter(scrape(t, inst.admin), "peekroute_client_connections", nil); n != 2 {
		t.Errorf("client_connections = %v at the cap of 2", n)
	}
	open[0].Close()
	if status := <-answered; status != http.StatusOK {
		t.Errorf("the waiting client got %d once a connection closed", status)
	}
}
