package engine

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Metrics are the engine's instruments for backend queues: time spent
// waiting for a slot and requests refused from a queue, by backend and
// reason. Exchanges in flight and waiting are read at scrape time through
// Server.Collector.
type Metrics struct {
	wait    *prometheus.HistogramVec // backend
	refusal *prometheus.CounterVec   // backend, reason
}

// NewMetrics creates the engine's instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		wait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "peekroute_queue_wait_seconds",
			Help:    "Time requests spent waiting in a backend's queue for a slot, by backend.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend"}),
		refusal: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peekroute_queue_refused_total",
			Help: "Requests that left a backend's queue without a slot, by backend and reason: full, timeout, client_gone.",
		}, []string{"backend", "reason"}),
	}
	for _, c := range []prometheus.Collector{m.wait, m.refusal} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// Track makes every series of backend exist at zero, and Forget deletes
// them: a backend's series live from when it is configured until it is
// removed.
func (m *Metrics) Track(backend string) {
	if m.wait == nil {
		return
	}
	m.wait.WithLabelValues(backend)
	for _, r := range []string{RefusedFull, RefusedTimeout, RefusedClientGone} {
		m.refusal.WithLabelValues(backend, r)
	}
}

// Forget deletes backend's series.
func (m *Metrics) Forget(backend string) {
	if m.wait == nil {
		return
	}
	m.wait.DeleteLabelValues(backend)
	m.refusal.DeletePartialMatch(prometheus.Labels{"backend": backend})
}

func (m *Metrics) waited(t *Target, d time.Duration) {
	if m.wait != nil && t != nil {
		m.wait.WithLabelValues(t.Name).Observe(d.Seconds())
	}
}

func (m *Metrics) refused(t *Target, reason string) {
	if m.refusal != nil && t != nil {
		m.refusal.WithLabelValues(t.Name, reason).Inc()
	}
}

// loadCollector reports each backend's exchanges in flight and waiting.
type loadCollector struct {
	s        *Server
	names    func() []string
	inFlight *prometheus.Desc
	queued   *prometheus.Desc
	conns    *prometheus.Desc
}

// Collector returns a collector of every backend's exchanges in flight
// (peekroute_backend_in_flight) and waiting (peekroute_backend_queued),
// read at scrape time for the backends names returns, and of the open
// client connections (peekroute_client_connections).
func (s *Server) Collector(names func() []string) prometheus.Collector {
	return &loadCollector{
		s:     s,
		names: names,
		inFlight: prometheus.NewDesc("peekroute_backend_in_flight",
			"Requests in flight to a backend: sent, or about to be, and not yet answered whole.", []string{"backend"}, nil),
		queued: prometheus.NewDesc("peekroute_backend_queued",
			"Requests waiting in a backend's queue for a slot.", []string{"backend"}, nil),
		conns: prometheus.NewDesc("peekroute_client_connections",
			"Open client connections (at most PEEKROUTE_MAX_CONNS).", nil, nil),
	}
}

func (c *loadCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.inFlight
	ch <- c.queued
	ch <- c.conns
}

func (c *loadCollector) Collect(ch chan<- prometheus.Metric) {
	ch <- prometheus.MustNewConstMetric(c.conns, prometheus.GaugeValue, float64(c.s.OpenConns()))
	load := make(map[string]BackendLoad)
	for _, l := range c.s.Load() {
		load[l.Name] = l
	}
	for _, name := range c.names() {
		l := load[name]
		ch <- prometheus.MustNewConstMetric(c.inFlight, prometheus.GaugeValue, float64(l.InFlight), name)
		ch <- prometheus.MustNewConstMetric(c.queued, prometheus.GaugeValue, float64(l.Queued), name)
	}
}
