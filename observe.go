package main

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/router"
)

// logConfig says how peekroute logs.
type logConfig struct {
	format    string // json or text
	level     slog.Level
	accessLog bool
	logKeys   bool
}

func newLogger(cfg logConfig, w io.Writer) *slog.Logger {
	opts := &slog.HandlerOptions{Level: cfg.level}
	if cfg.format == "text" {
		return slog.New(slog.NewTextHandler(w, opts))
	}
	return slog.New(slog.NewJSONHandler(w, opts))
}

// newRegistry returns a registry with the Go runtime and process
// collectors, peekroute's own instruments being added by their owners.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
}

// healthCollector reports each backend's health at scrape time.
type healthCollector struct {
	checker *health.Checker
	up      *prometheus.Desc
}

func newHealthCollector(c *health.Checker) *healthCollector {
	return &healthCollector{checker: c, up: prometheus.NewDesc("peekroute_backend_up",
		"Whether a backend passes its health checks (1) or not (0).", []string{"backend"}, nil)}
}

func (c *healthCollector) Describe(ch chan<- *prometheus.Desc) { ch <- c.up }

func (c *healthCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range c.checker.Status() {
		v := 0.0
		if s.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(c.up, prometheus.GaugeValue, v, s.Name)
	}
}

// newTransitionCounter counts health state changes per backend.
func newTransitionCounter(reg prometheus.Registerer) *prometheus.CounterVec {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peekroute_health_transitions_total",
		Help: "Backend health state changes, by backend and the state entered (up or down).",
	}, []string{"backend", "to"})
	reg.MustRegister(c)
	return c
}

// routeAnswer is /debug/route's answer.
type routeAnswer struct {
	Key       string  `json:"key"`
	Partition int     `json:"partition"`
	Backend   *string `json:"backend"`
}

// routeKey answers which backend owns key under the current ring: the
// answer every replica with the same healthy set gives. Backend is nil
// when no backend is healthy. /debug/route and the status page's key form
// both answer with it.
func routeKey(rt *router.Router, key string) routeAnswer {
	partition, b, ok := rt.Owner([]byte(key))
	ans := routeAnswer{Key: key, Partition: partition}
	if ok {
		ans.Backend = &b.Name
	}
	return ans
}

// debugRoute serves routeKey's answer as JSON.
func debugRoute(rt *router.Router) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		key := r.URL.Query().Get("key")
		if key == "" {
			http.Error(w, "want /debug/route?key=K", http.StatusBadRequest)
			return
		}
		ans := routeKey(rt, key)
		status := http.StatusOK
		if ans.Backend == nil {
			status = http.StatusServiceUnavailable
		}
		writeJSON(w, status, ans)
	}
}

// ringAnswer is /debug/ring's answer.
type ringAnswer struct {
	Partitions  int           `json:"partitions"`
	Replication int           `json:"replication"`
	LoadFactor  float64       `json:"load_factor"`
	LoadBound   int           `json:"load_bound"`
	Members     int           `json:"members"`
	Backends    []ringBackend `json:"backends"`
}

type ringBackend struct {
	Name       string     `json:"name"`
	Weight     int        `json:"weight"`
	Healthy    bool       `json:"healthy"`
	Checked    bool       `json:"checked"`
	Since      *time.Time `json:"since,omitempty"`
	LastError  string     `json:"last_error,omitempty"`
	Partitions int        `json:"partitions"`
	InFlight   int        `json:"in_flight"`
	Queued     int        `json:"queued"`
	MaxActive  int        `json:"max_active,omitempty"`
}

// debugRing describes every configured backend and the ring in force.
func debugRing(rt *router.Router, checker *health.Checker, load func() []engine.BackendLoad) http.HandlerFunc {
	return func(w http.ResponseWriter, r *http.Request) {
		inFlight := make(map[string]engine.BackendLoad)
		for _, l := range load() {
			inFlight[l.Name] = l
		}
		ring := rt.Ring()
		cfg := ring.Config()
		ans := ringAnswer{Partitions: cfg.Partitions, Replication: cfg.Replication, LoadFactor: cfg.Load,
			LoadBound: ring.LoadBound(), Members: ring.Len()}
		status := make(map[string]health.TargetStatus)
		for _, s := range checker.Status() {
			status[s.Name] = s
		}
		for _, b := range rt.Backends() {
			rb := ringBackend{Name: b.Name, Weight: b.Weight}
			if s, ok := status[b.Name]; ok {
				rb.Healthy, rb.Checked, rb.LastError = s.Up, s.Checked, s.LastError
				if s.Checked {
					rb.Since = &s.Since
				}
			}
			if i := ring.Index(b.Name); i >= 0 {
				rb.Partitions = ring.Owned(i)
			}
			l := inFlight[b.Name]
			rb.InFlight, rb.Queued, rb.MaxActive = l.InFlight, l.Queued, l.Limit
			ans.Backends = append(ans.Backends, rb)
		}
		writeJSON(w, http.StatusOK, ans)
	}
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(v); err != nil {
		fmt.Fprintf(w, "\n%v\n", err)
	}
}

func metricsHandler(reg *prometheus.Registry) http.Handler {
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{Registry: reg})
}
