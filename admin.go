package main

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/router"
)

// readiness decides whether this replica should receive traffic.
type readiness struct {
	checker  *health.Checker
	router   *router.Router
	engine   *engine.Server
	draining atomic.Bool
	// discovered, when backends come from DNS, is closed once the first
	// answer has been applied; target is the name asked for.
	discovered <-chan struct{}
	target     string
}

// notReady returns why the replica is not ready, or "" when it is.
func (s *readiness) notReady() string {
	if s.discovered != nil {
		select {
		case <-s.discovered:
		default:
			return "no DNS answer yet for " + s.target
		}
	}
	select {
	case <-s.checker.Ready():
	default:
		return "the first round of health checks has not finished"
	}
	switch {
	case s.draining.Load():
		return "shutting down"
	case len(s.router.Healthy()) == 0:
		return "no backend is healthy"
	}
	return ""
}

// adminHandler serves the orchestrator endpoints — /healthz answers 200
// while the process serves; /readyz answers 200 only when a backend is
// healthy and the replica is not shutting down, else 503 with the reason —
// and the operator's: the status page at /, /metrics, /debug/route and
// /debug/ring.
func adminHandler(s *readiness, reg *prometheus.Registry, status http.Handler) http.Handler {
	mux := http.NewServeMux()
	mux.Handle("GET /{$}", status)
	mux.Handle("GET /metrics", metricsHandler(reg))
	mux.HandleFunc("GET /debug/route", debugRoute(s.router))
	mux.HandleFunc("GET /debug/ring", debugRing(s.router, s.checker, s.engine.Load))
	mux.HandleFunc("GET /healthz", func(w http.ResponseWriter, r *http.Request) {
		plain(w, http.StatusOK, "ok")
	})
	mux.HandleFunc("GET /readyz", func(w http.ResponseWriter, r *http.Request) {
		if reason := s.notReady(); reason != "" {
			plain(w, http.StatusServiceUnavailable, "not ready: "+reason)
			return
		}
		plain(w, http.StatusOK, "ready")
	})
	return mux
}

func plain(w http.ResponseWriter, status int, msg string) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Header().Set("Cache-Control", "no-store")
	w.WriteHeader(status)
	_, _ = w.Write([]byte(msg + "\n"))
}

// newRegistry returns a registry with the Go runtime and process
// collectors, peekroute's own instruments being added by their owners.
func newRegistry() *prometheus.Registry {
	reg := prometheus.NewRegistry()
	reg.MustRegister(collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))
	return reg
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
