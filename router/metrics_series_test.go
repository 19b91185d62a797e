package router_test

import (
	"bytes"
	"context"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/peekroute/peekroute/router"
)

// perBackend are the router's metric families labelled by backend.
var perBackend = []string{"peekroute_requests_total", "peekroute_request_duration_seconds", "peekroute_retries_total"}

// seriesOf gathers reg and returns, per family, the label sets of its
// series whose backend is backend, each written name=value,... and mapped
// to the series' count (counter value, or histogram sample count).
func seriesOf(t *testing.T, reg *prometheus.Registry, backend string) map[string]map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			mine := false
			for _, lp := range m.GetLabel() {
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
				mine = mine || lp.GetName() == "backend" && lp.GetValue() == backend
			}
			if !mine {
				continue
			}
			if out[f.GetName()] == nil {
				out[f.GetName()] = make(map[string]float64)
			}
			out[f.GetName()][strings.Join(labels, ",")] = count(m)
		}
	}
	return out
}

func count(m *dto.Metric) float64 {
	if m.Histogram != nil {
		return float64(m.Histogram.GetSampleCount())
	}
	return m.GetCounter().GetValue()
}

func parseBackends(t *testing.T, urls ...string) []router.Backend {
	t.Helper()
	var bs []router.Backend
	for _, u := range urls {
		b, err := router.ParseBackend(u)
		if err != nil {
			t.Fatal(err)
		}
		bs = append(bs, b)
	}
	return bs
}

// wantAtZero checks that backend has every per-backend series, each at
// zero, with a requests_total series for each preset code.
func wantAtZero(t *testing.T, reg *prometheus.Registry, backend string) {
	t.Helper()
	got := seriesOf(t, reg, backend)
	for _, family := range perBackend {
		if len(got[family]) == 0 {
			t.Errorf("%s: no %s series", backend, family)
		}
		for labels, v := range got[family] {
			if v != 0 {
				t.Errorf("%s{%s} = %v, want 0", family, labels, v)
			}
		}
	}
	for _, code := range router.PresetCodes {
		labels := "backend=" + backend + ",code=" + strconv.Itoa(code)
		if _, ok := got["peekroute_requests_total"][labels]; !ok {
			t.Errorf("no peekroute_requests_total{%s}", labels)
		}
	}
}

func TestBackendSeriesFollowTheConfiguredBackends(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := router.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	dead := deadBackend(t)
	live := startBackends(t, 1)
	done := make(chan struct{}, 1)
	rt, url := startRouter(t, []router.Backend{dead, live.backends[0]}, recordedTo(metrics, done))

	// At start, before any request: every series of both, at zero, and
	// those of the answers peekroute gives itself.
	wantAtZero(t, reg, dead.Name)
	wantAtZero(t, reg, live.backends[0].Name)
	own := seriesOf(t, reg, "none")["peekroute_requests_total"]
	for _, code := range router.OwnCodes {
		if _, ok := own["backend=none,code="+strconv.Itoa(code)]; !ok {
			t.Errorf("no peekroute_requests_total{backend=none,code=%d}", code)
		}
	}

	// A key the dead backend owns is retried on the live one.
	key := keyOwnedBy(t, rt, dead.Name)
	if r := postBytes(t, url, envelope(key, 0, 0), key); r.status != http.StatusOK {
		t.Fatalf("status %d", r.status)
	}
	awaitRecorded(t, done)
	liveName := live.backends[0].Name
	if got := seriesOf(t, reg, dead.Name)["peekroute_retries_total"]["backend="+dead.Name]; got != 1 {
		t.Errorf("retries of the dead backend %v, want 1", got)
	}
	if got := seriesOf(t, reg, liveName)["peekroute_requests_total"]["backend="+liveName+",code=200"]; got != 1 {
		t.Errorf("requests answered 200 by the live backend %v, want 1", got)
	}

	// Replace the dead backend by a new one: its series go, the new
	// one's appear at zero, and the live one keeps its counts.
	added := deadBackend(t)
	if err := rt.SetBackends([]router.Backend{live.backends[0], added}); err != nil {
		t.Fatal(err)
	}
	if got := seriesOf(t, reg, dead.Name); len(got) != 0 {
		t.Errorf("the removed backend still has series: %v", got)
	}
	wantAtZero(t, reg, added.Name)
	if got := seriesOf(t, reg, liveName)["peekroute_requests_total"]["backend="+liveName+",code=200"]; got != 1 {
		t.Errorf("the backend that stayed lost its count: %v, want 1", got)
	}
}

// A request that finishes after its backend was removed does not bring
// the backend's series back.
func TestRemovedBackendSeriesStayDeleted(t *testing.T) {
	reg := prometheus.NewRegistry()
	metrics, err := router.NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	arrived, release := make(chan struct{}), make(chan struct{})
	slow := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		close(arrived)
		<-release
	}))
	t.Cleanup(slow.Close)
	gone := parseBackends(t, slow.URL)[0]
	recorded := make(chan struct{}, 1)
	rt, url := startRouter(t, []router.Backend{gone}, recordedTo(metrics, recorded))

	done := make(chan int, 1)
	go func() {
		resp, err := http.Post(url, "text/xml", bytes.NewReader(envelope("k", 0, 0)))
		if err != nil {
			done <- 0
			return
		}
		resp.Body.Close()
		done <- resp.StatusCode
	}()
	<-arrived
	if err := rt.SetBackends(parseBackends(t, "http://127.0.0.1:1")); err != nil {
		t.Fatal(err)
	}
	close(release)
	if status := <-done; status != http.StatusOK {
		t.Fatalf("status %d", status)
	}
	awaitRecorded(t, recorded)
	if got := seriesOf(t, reg, gone.Name); len(got) != 0 {
		t.Errorf("series of a removed backend came back: %v", got)
	}
}

// keyOwnedBy finds a key that backend owns under rt's current ring.
func keyOwnedBy(t *testing.T, rt *router.Router, backend string) string {
	t.Helper()
	for i := range 10000 {
		key := "k" + strconv.Itoa(i)
		if _, b, ok := rt.Owner([]byte(key)); ok && b.Name == backend {
			return key
		}
	}
	t.Fatalf("no key owned by %s", backend)
	return ""
}

// recordedTo records exchanges in metrics and signals on recorded after
// each: the access log line follows the metrics, so it says they are in.
func recordedTo(metrics *router.Metrics, recorded chan<- struct{}) routerOpt {
	return func(c *testConfig) {
		c.router.Metrics = metrics
		c.router.AccessLog = true
		c.router.Logger = slog.New(accessSignal{recorded})
	}
}

// awaitRecorded waits for the access log line of the next exchange: Done
// writes it once the exchange's metrics are recorded, which may be a moment
// after the client has read its response.
func awaitRecorded(t *testing.T, recorded <-chan struct{}) {
	t.Helper()
	select {
	case <-recorded:
	case <-time.After(10 * time.Second):
		t.Fatal("the exchange was never recorded")
	}
}

// accessSignal is a log handler that sends on its channel for every access
// log line ("request") and drops everything else.
type accessSignal struct{ c chan<- struct{} }

func (h accessSignal) Enabled(context.Context, slog.Level) bool { return true }
func (h accessSignal) WithAttrs([]slog.Attr) slog.Handler       { return h }
func (h accessSignal) WithGroup(string) slog.Handler            { return h }
func (h accessSignal) Handle(_ context.Context, r slog.Record) error {
	if r.Message == "request" {
		select {
		case h.c <- struct{}{}:
		default: // one signal waiting is enough; never hold the router up
		}
	}
	return nil
}
