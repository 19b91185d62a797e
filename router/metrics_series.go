package router

import (
	"strconv"
	"sync"

	"github.com/prometheus/client_golang/prometheus"
)

// Per-backend series follow the configured backends: a backend's series
// exist, at zero, from the moment it is configured, so that rate() and
// increase() see its first request; and they are deleted when it is
// removed, so that backends that come and go (pods found through DNS) do
// not pile up series that never change again.

// PresetCodes are the status codes whose peekroute_requests_total series
// every configured backend has from the start: success, the answers
// peekroute gives on a backend's behalf (502, 503, 504; 499 when the client
// left first) and the common ones backends give. Other codes get their
// series at their first use.
var PresetCodes = []int{200, 400, 404, 499, 500, 502, 503, 504}

// OwnCodes are the status codes whose series backend="none" — requests
// peekroute answered itself, reaching no backend — has from the start.
var OwnCodes = []int{400, 408, 413, 499, 500, 503}

// noBackend labels requests that reached no backend.
const noBackend = "none"

// backendSeries is the set of backends whose series exist. Recording
// holds it for reading, so that a request finishing on a backend just
// removed cannot bring the backend's series back.
type backendSeries struct {
	mu   sync.RWMutex
	live map[string]bool
}

// setBackends makes the per-backend series those of backends: it creates
// the series of backends new to the set at zero and deletes those of
// backends no longer in it. The first call also creates the series of
// requests peekroute answers itself.
func (m *Metrics) setBackends(backends []Backend) {
	if m == nil {
		return
	}
	m.series.mu.Lock()
	defer m.series.mu.Unlock()
	if m.series.live == nil {
		m.series.live = make(map[string]bool, len(backends))
		for _, code := range OwnCodes {
			m.requests.WithLabelValues(noBackend, strconv.Itoa(code))
		}
		m.duration.WithLabelValues(noBackend)
	}
	next := make(map[string]bool, len(backends))
	for _, b := range backends {
		next[b.Name] = true
		if !m.series.live[b.Name] {
			m.addBackendLocked(b.Name)
		}
	}
	for name := range m.series.live {
		if !next[name] {
			m.deleteBackendLocked(name)
		}
	}
	m.series.live = next
}

func (m *Metrics) addBackendLocked(name string) {
	for _, code := range PresetCodes {
		m.requests.WithLabelValues(name, strconv.Itoa(code))
	}
	m.duration.WithLabelValues(name)
	m.retries.WithLabelValues(name)
}

func (m *Metrics) deleteBackendLocked(name string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"backend": name})
	m.duration.DeleteLabelValues(name)
	m.retries.DeleteLabelValues(name)
}

// recordRequest counts one finished request to backend ("none" when it
// reached none), unless the backend has been removed meanwhile.
func (m *Metrics) recordRequest(backend, code string, seconds float64) {
	m.series.mu.RLock()
	defer m.series.mu.RUnlock()
	if backend != noBackend && !m.series.live[backend] {
		return
	}
	m.requests.WithLabelValues(backend, code).Inc()
	m.duration.WithLabelValues(backend).Observe(seconds)
}

// recordRetry counts a request sent again because backend could not be
// reached, unless the backend has been removed meanwhile.
func (m *Metrics) recordRetry(backend string) {
	if m == nil {
		return
	}
	m.series.mu.RLock()
	defer m.series.mu.RUnlock()
	if m.series.live[backend] {
		m.retries.WithLabelValues(backend).Inc()
	}
}
