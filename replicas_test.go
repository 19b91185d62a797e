package main

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"
)

// Replicas agree: three peekroute processes, given the backends in
// different orders and spellings and one through DNS, route 10,000 keys
// identically, and all converge on the same new owner for each key of a
// backend that stops.
func TestReplicasAgree(t *testing.T) {
	if testing.Short() {
		t.Skip("runs three peekroute processes")
	}
	bs := []*backend{newBackend(t, "b0", nil), newBackend(t, "b1", nil), newBackend(t, "b2", nil)}
	_, dnsAddr := startSRVZone(t, "_http._tcp.backends.test", portOf(t, bs[0]), portOf(t, bs[1]), portOf(t, bs[2]))
	common := []string{"PEEKROUTE_KEY=xml:sessionId", "PEEKROUTE_LISTEN_ADDR=127.0.0.1:0", "PEEKROUTE_ADMIN_ADDR=127.0.0.1:0",
		"PEEKROUTE_HEALTH_INTERVAL=50ms", "PEEKROUTE_HEALTH_RISE=2", "PEEKROUTE_HEALTH_FALL=2", "PEEKROUTE_SHUTDOWN_DELAY=0s"}
	// The same backends, listed in other orders and spellings, and found
	// through DNS in a random order on every query.
	configs := [][]string{
		{"PEEKROUTE_BACKENDS=" + bs[0].url() + "," + bs[1].url() + "," + bs[2].url()},
		{"PEEKROUTE_BACKENDS=" + bs[2].url() + "/," + strings.ToUpper(bs[0].url()[:4]) + bs[0].url()[4:] + "," + bs[1].url()},
		{"PEEKROUTE_BACKENDS_DNS=_http._tcp.backends.test", "PEEKROUTE_DNS_SERVER=" + dnsAddr, "PEEKROUTE_DNS_INTERVAL=100ms"},
	}
	bin := buildBinary(t)
	var replicas []replica
	for _, env := range configs {
		_, addr, admin := startBinary(t, bin, append(env, common...)...)
		replicas = append(replicas, replica{"http://" + addr, "http://" + admin})
		waitStatus(t, "http://"+admin+"/readyz", http.StatusOK)
	}
	for _, r := range replicas {
		waitMembers(t, r, 3)
	}

	keys := make([]string, 10000)
	for i := range keys {
		keys[i] = fmt.Sprintf("msisdn-2547%08d", i)
	}
	owners := routeAll(t, replicas, keys)

	bs[1].stop()
	for _, r := range replicas {
		waitMembers(t, r, 2)
	}
	var moved []string
	for _, k := range keys {
		if owners[k] == "b1" {
			moved = append(moved, k)
		}
	}
	after := routeAll(t, replicas, moved)
	for _, k := range moved {
		if after[k] == "b1" {
			t.Fatalf("key %s still reaches the stopped backend", k)
		}
	}
	t.Logf("%d keys routed identically by 3 replicas; the %d keys of the stopped backend moved identically", len(keys), len(moved))
}

type replica struct{ url, admin string }

// routeAll sends every key to every replica and fails unless all answer
// from the same backend; it returns that backend per key.
func routeAll(t *testing.T, replicas []replica, keys []string) map[string]string {
	t.Helper()
	owners := make(map[string]string, len(keys))
	var mu sync.Mutex
	var wg sync.WaitGroup
	work := make(chan string)
	for range 8 {
		wg.Go(func() {
			client := &http.Client{Timeout: 10 * time.Second}
			defer client.CloseIdleConnections()
			for k := range work {
				var seen []string
				for _, r := range replicas {
					seen = append(seen, routeOnce(t, client, r.url, k))
				}
				if seen[0] != seen[1] || seen[1] != seen[2] {
					t.Errorf("key %s: replicas chose %v", k, seen)
				}
				mu.Lock()
				owners[k] = seen[0]
				mu.Unlock()
			}
		})
	}
	for _, k := range keys {
		work <- k
	}
	close(work)
	wg.Wait()
	return owners
}

func routeOnce(t *testing.T, client *http.Client, url, key string) string {
	resp, err := client.Post(url+"/ussd", "text/xml", strings.NewReader("<Envelope><sessionId>"+key+"</sessionId></Envelope>"))
	if err != nil {
		t.Errorf("key %s: %v", key, err)
		return ""
	}
	defer resp.Body.Close()
	io.Copy(io.Discard, resp.Body)
	return resp.Header.Get("X-Backend")
}

// waitMembers waits until the replica's ring has n members.
func waitMembers(t *testing.T, r replica, n int) {
	t.Helper()
	eventually(t, fmt.Sprintf("%s: a ring of %d members", r.admin, n), func() error {
		var ring ringAnswer
		resp, err := http.Get(r.admin + "/debug/ring")
		if err != nil {
			return err
		}
		json.NewDecoder(resp.Body).Decode(&ring)
		resp.Body.Close()
		if ring.Members != n {
			return fmt.Errorf("%d members", ring.Members)
		}
		return nil
	})
}
