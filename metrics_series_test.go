package main

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"

	"github.com/peekroute/peekroute/router"
)

// backendFamilies are the per-backend metric families README documents.
var backendFamilies = []string{
	"peekroute_requests_total",
	"peekroute_request_duration_seconds",
	"peekroute_retries_total",
	"peekroute_health_transitions_total",
	"peekroute_backend_up",
	"peekroute_ring_partitions",
	"peekroute_backend_in_flight",
	"peekroute_backend_queued",
	"peekroute_queue_wait_seconds",
	"peekroute_queue_refused_total",
}

// seriesFor returns, per family, the series whose backend label is
// backend: their other labels written name=value,... mapped to their
// value (a histogram's sample count).
func seriesFor(families map[string]*dto.MetricFamily, backend string) map[string]map[string]float64 {
	out := make(map[string]map[string]float64)
	for name, f := range families {
		for _, m := range f.GetMetric() {
			var labels []string
			mine := false
			for _, lp := range m.GetLabel() {
				if lp.GetName() == "backend" {
					mine = lp.GetValue() == backend
					continue
				}
				labels = append(labels, lp.GetName()+"="+lp.GetValue())
			}
			if !mine {
				continue
			}
			v := m.GetCounter().GetValue() + m.GetGauge().GetValue()
			if m.Histogram != nil {
				v = float64(m.Histogram.GetSampleCount())
			}
			if out[name] == nil {
				out[name] = make(map[string]float64)
			}
			out[name][strings.Join(labels, ",")] = v
		}
	}
	return out
}

// checkAtZero fails unless backend has a series in every per-backend
// family, the request and transition counters' documented label values
// among them, and all of its counters are at zero.
func checkAtZero(t *testing.T, families map[string]*dto.MetricFamily, backend string) {
	t.Helper()
	got := seriesFor(families, backend)
	for _, family := range backendFamilies {
		if len(got[family]) == 0 {
			t.Errorf("%s: no %s series right after start-up", backend, family)
		}
	}
	want := map[string][]string{"peekroute_health_transitions_total": {"to=up", "to=down"}}
	for _, code := range router.PresetCodes {
		want["peekroute_requests_total"] = append(want["peekroute_requests_total"], fmt.Sprintf("code=%d", code))
	}
	for family, labelSets := range want {
		for _, labels := range labelSets {
			v, ok := got[family][labels]
			switch {
			case !ok:
				t.Errorf("%s: no %s{%s}", backend, family, labels)
			case v != 0:
				t.Errorf("%s: %s{%s} = %v at start-up, want 0", backend, family, labels, v)
			}
		}
	}
	for _, family := range []string{"peekroute_request_duration_seconds", "peekroute_retries_total"} {
		for labels, v := range got[family] {
			if v != 0 {
				t.Errorf("%s: %s{%s} = %v at start-up, want 0", backend, family, labels, v)
			}
		}
	}
}

// Every per-backend series exists at zero as soon as peekroute serves,
// before any request or health transition, for backends that are up and
// down alike.
func TestBackendSeriesExistFromStartUp(t *testing.T) {
	up := newBackend(t, "up", nil)
	down := newBackend(t, "down", nil)
	down.stop()
	inst := startInstance(t, newEvents(), "PEEKROUTE_BACKENDS="+up.url()+","+down.url())
	families := scrape(t, inst.admin)
	for _, b := range []*backend{up, down} {
		checkAtZero(t, families, b.url())
	}
}

// A backend that DNS stops naming loses all its series; one it starts
// naming gets them, at zero.
func TestDiscoveredBackendSeriesFollowDNS(t *testing.T) {
	ev := newEvents()
	bs := []*backend{newBackend(t, "b0", nil), newBackend(t, "b1", nil), newBackend(t, "b2", nil)}
	zone, dnsAddr := startSRVZone(t, "_http._tcp.backends.test", portOf(t, bs[0]), portOf(t, bs[1]))
	inst := startInstance(t, ev, "PEEKROUTE_BACKENDS_DNS=_http._tcp.backends.test", "PEEKROUTE_DNS_SERVER="+dnsAddr,
		"PEEKROUTE_DNS_INTERVAL=50ms", "PEEKROUTE_HEALTH_INTERVAL=20ms")
	waitStatus(t, inst.admin+"/readyz", http.StatusOK)
	families := scrape(t, inst.admin)
	checkAtZero(t, families, bs[0].url())
	checkAtZero(t, families, bs[1].url())

	// Traffic to b0, then DNS replaces b0 by b2.
	for i := range 20 {
		soapRequest(t, inst.url, fmt.Sprintf("k%d", i))
	}
	if got := seriesFor(scrape(t, inst.admin), bs[0].url())["peekroute_requests_total"]["code=200"]; got == 0 {
		t.Fatal("no request reached b0; the test needs some to show its series deleted")
	}
	zone.mu.Lock()
	delete(zone.targets, "b0.backends.test.")
	zone.targets["b2.backends.test."] = portOf(t, bs[2])
	zone.mu.Unlock()
	for {
		r := ev.waitFor(t, "backend removed", "", 0)
		if attrString(r, "backend") == bs[0].url() {
			break
		}
	}

	families = scrape(t, inst.admin)
	if got := seriesFor(families, bs[0].url()); len(got) != 0 {
		t.Errorf("series of the removed backend remain: %v", got)
	}
	checkAtZero(t, families, bs[2].url())
	if got := seriesFor(families, bs[1].url()); len(got) != len(backendFamilies) {
		t.Errorf("the backend that stayed has series in %v, want all of %v", slices.Sorted(maps.Keys(got)), backendFamilies)
	}
}

// attrString returns the string value of r's attribute key, or "".
func attrString(r slog.Record, key string) string {
	v := ""
	r.Attrs(func(a slog.Attr) bool {
		if a.Key == key {
			v = a.Value.String()
			return false
		}
		return true
	})
	return v
}
