package main

import (
	"net/http"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"

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
