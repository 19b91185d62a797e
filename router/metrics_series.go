package router

import (
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

// backendSeries holds the instruments of every backend whose series
// exist, looked up once when the backend is added so that recording a
// request hashes no label values. Recording holds it for reading, so that
// a request finishing on a backend just removed cannot bring the
// backend's series back.
type backendSeries struct {
	mu   sync.RWMutex
	live map[string]*seriesHandles // configured backends
	none *seriesHandles            // requests that reached no backend
}

// seriesHandles are one backend's instruments.
type seriesHandles struct {
	name     string
	duration prometheus.Observer
	retries  prometheus.Counter
	codes    map[int]prometheus.Counter // requests_total by preset code
}

// handles creates the series of backend name with the given preset codes
// and returns their handles.
func (m *Metrics) handles(name string, codes []int) *seriesHandles {
	h := &seriesHandles{
		name:     name,
		duration: m.duration.WithLabelValues(name),
		codes:    make(map[int]prometheus.Counter, len(codes)),
	}
	for _, code := range codes {
		h.codes[code] = m.requests.WithLabelValues(name, m.code(code))
	}
	return h
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
	if m.series.none == nil {
		m.series.none = m.handles(noBackend, OwnCodes)
	}
	next := make(map[string]*seriesHandles, len(backends))
	for _, b := range backends {
		h := m.series.live[b.Name]
		if h == nil {
			h = m.handles(b.Name, PresetCodes)
			h.retries = m.retries.WithLabelValues(b.Name)
		}
		next[b.Name] = h
	}
	for name := range m.series.live {
		if next[name] == nil {
			m.deleteBackendLocked(name)
		}
	}
	m.series.live = next
}

func (m *Metrics) deleteBackendLocked(name string) {
	m.requests.DeletePartialMatch(prometheus.Labels{"backend": name})
	m.duration.DeleteLabelValues(name)
	m.retries.DeleteLabelValues(name)
}

// recordRequest counts one finished request to backend ("none" when it
// reached none) with status, unless the backend has been removed
// meanwhile.
func (m *Metrics) recordRequest(backend string, status int, seconds float64) {
	m.series.mu.RLock()
	defer m.series.mu.RUnlock()
	h := m.series.live[backend]
	if backend == noBackend {
		h = m.series.none
	}
	if h == nil {
		return
	}
	c := h.codes[status]
	if c == nil {
		c = m.requests.WithLabelValues(h.name, m.code(status))
	}
	c.Inc()
	h.duration.Observe(seconds)
}

// recordRetry counts a request sent again because backend could not be
// reached, unless the backend has been removed meanwhile.
func (m *Metrics) recordRetry(backend string) {
	if m == nil {
		return
	}
	m.series.mu.RLock()
	defer m.series.mu.RUnlock()
	if h := m.series.live[backend]; h != nil {
		h.retries.Inc()
	}
}
