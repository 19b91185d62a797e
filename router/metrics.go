package router

import (
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peekroute/peekroute/engine"
)

// Metrics are the router's Prometheus instruments. Labels only ever carry
// configured backend names, key source names, status codes and fixed
// result words — never keys or other unbounded values.
type Metrics struct {
	requests *prometheus.CounterVec   // backend, code
	duration *prometheus.HistogramVec // backend
	lookups  *prometheus.CounterVec   // source, result
	peeked   prometheus.Histogram
	retries  *prometheus.CounterVec // backend that failed
	codes    [600]string            // status code label values
	series   backendSeries          // the backends whose series exist
}

// Key look-up results.
const (
	lookupFound   = "found"
	lookupMissing = "missing"
	lookupError   = "error"
)

// code is the label value of status: the code, or "other" when it is
// not one.
func (m *Metrics) code(status int) string {
	if status > 0 && status < len(m.codes) {
		return m.codes[status]
	}
	return "other"
}

// NewMetrics creates the router's instruments and registers them with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		requests: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peekroute_requests_total",
			Help: "Requests answered, by backend (\"none\" when peekroute answered itself) and status code (499: the client left first).",
		}, []string{"backend", "code"}),
		duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "peekroute_request_duration_seconds",
			Help:    "Time from a request's arrival to the end of its response, by backend.",
			Buckets: []float64{.0005, .001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10, 30},
		}, []string{"backend"}),
		lookups: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peekroute_key_lookups_total",
			Help: "Key look-ups, by key source (\"none\" when no source gave a key) and result: found, missing, error.",
		}, []string{"source", "result"}),
		peeked: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name:    "peekroute_peeked_bytes",
			Help:    "Body bytes read per request while looking for the key.",
			Buckets: prometheus.ExponentialBuckets(64, 4, 9), // 64 B .. 4 MiB
		}),
		retries: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "peekroute_retries_total",
			Help: "Requests sent again to the key's next owner because the owner could not be reached, by the backend that failed.",
		}, []string{"backend"}),
	}
	for code := range m.codes {
		m.codes[code] = strconv.Itoa(code)
	}
	for _, c := range []prometheus.Collector{m.requests, m.duration, m.lookups, m.peeked, m.retries} {
		if err := reg.Register(c); err != nil {
			return nil, err
		}
	}
	return m, nil
}

// observe records one finished exchange.
func (m *Metrics) observe(x *engine.Exchange, st *routeState, elapsed time.Duration) {
	backend := backendName(x)
	m.recordRequest(backend, finalStatus(x), elapsed.Seconds())
	source := st.keySource
	if source == "" {
		source = "none"
	}
	m.lookups.WithLabelValues(source, st.lookup).Inc()
	m.peeked.Observe(float64(st.peeked))
}

// ringCollector reports the current ring: how many members it has, and
// how many partitions each backend owns (0 when out of the ring).
type ringCollector struct {
	rt      *Router
	members *prometheus.Desc
	owned   *prometheus.Desc
}

// RegisterRingMetrics registers gauges that read rt's current ring at each
// scrape.
func (rt *Router) RegisterRingMetrics(reg prometheus.Registerer) error {
	return reg.Register(&ringCollector{
		rt: rt,
		members: prometheus.NewDesc("peekroute_ring_members",
			"Backends in the ring: the healthy ones.", nil, nil),
		owned: prometheus.NewDesc("peekroute_ring_partitions",
			"Partitions owned per configured backend.", []string{"backend"}, nil),
	})
}

func (c *ringCollector) Describe(ch chan<- *prometheus.Desc) {
	ch <- c.members
	ch <- c.owned
}

func (c *ringCollector) Collect(ch chan<- prometheus.Metric) {
	t := c.rt.table.Load()
	ch <- prometheus.MustNewConstMetric(c.members, prometheus.GaugeValue, float64(t.ring.Len()))
	for _, b := range t.backends {
		owned := 0
		if i := t.ring.Index(b.Name); i >= 0 {
			owned = t.ring.Owned(i)
		}
		ch <- prometheus.MustNewConstMetric(c.owned, prometheus.GaugeValue, float64(owned), b.Name)
	}
}
