package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"strings"
	"sync"
	"testing"

	dto "github.com/prometheus/client_model/go"
)

// scrapeAfter scrapes until the count of peekroute_requests_total has
// risen by n since before: an exchange is recorded once its last byte is
// on its way to the client, a moment after the client may have read it.
func scrapeAfter(t *testing.T, admin string, before map[string]*dto.MetricFamily, n float64) map[string]*dto.MetricFamily {
	t.Helper()
	var after map[string]*dto.MetricFamily
	eventually(t, fmt.Sprintf("peekroute_requests_total to rise by %v", n), func() error {
		after = scrape(t, admin)
		if rose := sum(after, "peekroute_requests_total") - sum(before, "peekroute_requests_total"); rose < n {
			return fmt.Errorf("risen by %v", rose)
		}
		return nil
	})
	return after
}

func twoBackends(t *testing.T) (urls map[string]string, env string) {
	b0, b1 := newBackend(t, "b0", nil), newBackend(t, "b1", nil)
	return map[string]string{"b0": b0.url(), "b1": b1.url()}, "PEEKROUTE_BACKENDS=" + b0.url() + "," + b1.url()
}

func TestMetricsFollowTraffic(t *testing.T) {
	ev := newEvents()
	urls, backends := twoBackends(t)
	inst := startInstance(t, ev, backends)
	ev.waitFor(t, "ring rebuilt", "healthy", 2)
	before := scrape(t, inst.admin)

	sent := map[string]int{}
	for i := range 40 {
		status, b := soapRequest(t, inst.url, fmt.Sprintf("m-%d", i))
		if status != http.StatusOK {
			t.Fatalf("status %d", status)
		}
		sent[b]++
	}
	for range 3 {
		resp, err := http.Post(inst.url+"/", "text/xml", strings.NewReader("<Envelope>no key here</Envelope>"))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
	}
	after := scrapeAfter(t, inst.admin, before, 43)

	total := 0.0
	for name, url := range urls {
		labels := map[string]string{"backend": url, "code": "200"}
		got := counter(after, "peekroute_requests_total", labels) - counter(before, "peekroute_requests_total", labels)
		total += got
		if got < float64(sent[name]) || got > float64(sent[name]+3) {
			t.Errorf("%s: requests_total rose by %v; the client saw %d keyed requests answered there (+ up to 3 keyless)", name, got, sent[name])
		}
		if up := counter(after, "peekroute_backend_up", map[string]string{"backend": url}); up != 1 {
			t.Errorf("%s: backend_up %v", name, up)
		}
		if p := counter(after, "peekroute_ring_partitions", map[string]string{"backend": url}); p == 0 {
			t.Errorf("%s owns no partitions", name)
		}
	}
	if total != 43 {
		t.Errorf("requests_total rose by %v over both backends, want 43", total)
	}
	for _, c := range []struct {
		labels map[string]string
		want   float64
	}{
		{map[string]string{"source": "xml:sessionId", "result": "found"}, 40},
		{map[string]string{"source": "none", "result": "missing"}, 3},
	} {
		got := counter(after, "peekroute_key_lookups_total", c.labels) - counter(before, "peekroute_key_lookups_total", c.labels)
		if got != c.want {
			t.Errorf("key_lookups_total%v rose by %v, want %v", c.labels, got, c.want)
		}
	}
	if m := counter(after, "peekroute_ring_members", nil); m != 2 {
		t.Errorf("ring_members %v, want 2", m)
	}
	for _, name := range []string{"go_goroutines", "process_cpu_seconds_total", "peekroute_peeked_bytes", "peekroute_request_duration_seconds"} {
		if after[name] == nil {
			t.Errorf("no %s metric", name)
		}
	}
}

func TestDebugRouteAgreesWithRouting(t *testing.T) {
	ev := newEvents()
	urls, backends := twoBackends(t)
	inst := startInstance(t, ev, backends)
	ev.waitFor(t, "ring rebuilt", "healthy", 2)
	for i := range 1000 {
		key := fmt.Sprintf("route-%d", i)
		var ans routeAnswer
		resp, err := http.Get(inst.admin + "/debug/route?key=" + key)
		if err != nil {
			t.Fatal(err)
		}
		err = json.NewDecoder(resp.Body).Decode(&ans)
		resp.Body.Close()
		if err != nil || ans.Backend == nil || ans.Key != key {
			t.Fatalf("key %s: %+v %v", key, ans, err)
		}
		if _, b := soapRequest(t, inst.url, key); urls[b] != *ans.Backend {
			t.Fatalf("key %s: /debug/route says %s, the request went to %s", key, *ans.Backend, urls[b])
		}
	}
	var ring ringAnswer
	resp, err := http.Get(inst.admin + "/debug/ring")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&ring); err != nil {
		t.Fatal(err)
	}
	if ring.Members != 2 || len(ring.Backends) != 2 || ring.Backends[0].Partitions+ring.Backends[1].Partitions != ring.Partitions ||
		!ring.Backends[0].Healthy || ring.LoadBound == 0 {
		t.Errorf("/debug/ring: %+v", ring)
	}
}

// syncBuffer is a bytes.Buffer safe for a logger and a test to share.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []string {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []string
	sc := bufio.NewScanner(bytes.NewReader(s.b.Bytes()))
	for sc.Scan() {
		out = append(out, sc.Text())
	}
	return out
}

func TestAccessLog(t *testing.T) {
	for _, logKeys := range []bool{false, true} {
		t.Run(fmt.Sprintf("log keys %v", logKeys), func(t *testing.T) {
			var buf syncBuffer
			urls, backends := twoBackends(t)
			inst := startInstance(t, slog.NewJSONHandler(&buf, nil), backends, "PEEKROUTE_ACCESS_LOG=true",
				fmt.Sprintf("PEEKROUTE_LOG_KEYS=%v", logKeys))
			waitStatus(t, inst.admin+"/readyz", http.StatusOK)
			const secret = "254700123456"
			_, b := soapRequest(t, inst.url, secret)
			if err := inst.stop(); err != nil {
				t.Fatal(err)
			}
			var access []map[string]any
			for _, line := range buf.lines() {
				var rec map[string]any
				if err := json.Unmarshal([]byte(line), &rec); err != nil {
					t.Fatalf("not JSON: %q", line)
				}
				if rec["msg"] == "request" {
					access = append(access, rec)
				}
				if !logKeys && strings.Contains(line, secret) {
					t.Errorf("raw key logged without PEEKROUTE_LOG_KEYS: %s", line)
				}
			}
			if len(access) != 1 {
				t.Fatalf("%d access log lines for one request", len(access))
			}
			rec := access[0]
			for _, field := range []string{"method", "path", "status", "backend", "duration_ms", "bytes_in", "bytes_out", "key_source", "key_hash"} {
				if _, ok := rec[field]; !ok {
					t.Errorf("access log lacks %s: %v", field, rec)
				}
			}
			if rec["backend"] != urls[b] || rec["status"] != 200.0 || rec["key_source"] != "xml:sessionId" || rec["method"] != "POST" {
				t.Errorf("access log line %v", rec)
			}
			if got, _ := rec["key"].(string); logKeys && got != secret {
				t.Errorf("key %q logged, want %q", got, secret)
			}
		})
	}
}
