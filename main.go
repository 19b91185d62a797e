// Command peekroute is a stateless HTTP router that gives sticky sessions
// from a key inside the request body. See README.md.
//
// Usage:
//
//	peekroute               serve, configured by PEEKROUTE_* variables
//	peekroute demo          serve three demo backends and show stickiness
//	peekroute healthcheck   exit 0 if the local peekroute's /healthz answers 200
package main

import (
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"slices"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peekroute/peekroute/discovery"
	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/router"
)

// Exit statuses.
const (
	exitOK     = 0
	exitFailed = 1
	exitUsage  = 2 // bad command line or configuration
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Environ(), os.Stdout, os.Stderr))
}

func run(ctx context.Context, args, environ []string, stdout, stderr io.Writer) int {
	switch {
	case len(args) == 0:
		cfg, err := loadConfig(environ)
		if err != nil {
			fmt.Fprintf(stderr, "peekroute: %v\n", err)
			return exitUsage
		}
		logger := newLogger(cfg.log, stderr)
		ls, err := listen(cfg)
		if err != nil {
			return exitStatus(stderr, err)
		}
		return exitStatus(stderr, serve(ctx, cfg, logger, ls))
	case args[0] == "demo" && len(args) == 1:
		return exitStatus(stderr, demo(ctx, environ, stdout, stderr))
	case args[0] == "healthcheck" && len(args) == 1:
		return exitStatus(stderr, healthcheck(ctx, environ))
	}
	fmt.Fprintf(stderr, "peekroute: unknown command %q\nusage: peekroute [demo | healthcheck]\n", args)
	return exitUsage
}

func exitStatus(stderr io.Writer, err error) int {
	if err == nil {
		return exitOK
	}
	fmt.Fprintf(stderr, "peekroute: %v\n", err)
	return exitFailed
}

// listeners are the sockets peekroute serves on.
type listeners struct {
	client net.Listener // client traffic
	admin  net.Listener // /healthz, /readyz
}

// listen opens the client and admin listeners cfg names.
func listen(cfg config) (listeners, error) {
	client, err := net.Listen("tcp", cfg.listenAddr)
	if err != nil {
		return listeners{}, fmt.Errorf("listening for clients: %w", err)
	}
	admin, err := net.Listen("tcp", cfg.adminAddr)
	if err != nil {
		client.Close()
		return listeners{}, fmt.Errorf("listening for admin requests: %w", err)
	}
	return listeners{client: client, admin: admin}, nil
}

// serve runs peekroute on ls until ctx ends, then shuts down gracefully:
// it reports not ready at once, keeps serving for the shutdown delay so
// that load balancers withdraw it, then stops accepting and lets requests
// in flight finish within the shutdown timeout.
func serve(ctx context.Context, cfg config, logger *slog.Logger, ls listeners) error {
	p, err := assemble(cfg, logger)
	if err != nil {
		ls.close()
		return err
	}
	rt, checker, reg, client := p.router, p.checker, p.reg, p.engine
	stopChecks := runInBackground(checker.Run)
	defer stopChecks()
	state := &readiness{checker: checker, router: rt, engine: client}
	if cfg.discovery != nil {
		stopWatch, err := watchDNS(*cfg.discovery, p, logger, state)
		if err != nil {
			ls.close()
			client.Close()
			return err
		}
		defer stopWatch()
	}

	clientLn := ls.client
	if cfg.tls != nil {
		clientLn = tls.NewListener(clientLn, cfg.tls)
	}
	rates := newRateSampler(reg)
	stopRates := runInBackground(rates.Run)
	defer stopRates()
	page := &statusPage{state: state, history: p.history, rates: rates, keySpec: cfg.keySpec,
		missingKey: cfg.router.MissingKey, checks: cfg.health, logger: logger}
	admin := newAdminServer(adminHandler(state, reg, page), logger)
	errc := make(chan error, 2)
	go func() { errc <- admin.Serve(ls.admin) }()
	go func() { errc <- client.Serve(clientLn) }()
	defer admin.Close()
	logger.Info("peekroute listening", "addr", ls.client.Addr().String(), "admin", ls.admin.Addr().String(),
		"backends", len(cfg.router.Backends), "key", cfg.keySpec, "max_conns", cfg.engine.MaxConns)

	select {
	case err := <-errc:
		client.Close()
		return fmt.Errorf("serving: %w", err)
	case <-ctx.Done():
	}
	state.draining.Store(true)
	logger.Info("shutting down: reporting not ready", "delay", cfg.shutdownDelay.String())
	return drain(client, cfg, logger, errc)
}

// watchDNS keeps the router's backends in step with what DNS answers
// until stop is called; readiness waits for the first answer.
func watchDNS(cfg discovery.Config, p *parts, logger *slog.Logger, state *readiness) (stop func(), err error) {
	watcher, err := discovery.New(cfg, discovery.Options{
		Logger:   logger,
		OnChange: func(found []discovery.Backend) { applyDiscovered(p, logger, found) },
	})
	if err != nil {
		return nil, fmt.Errorf("starting discovery: %w", err)
	}
	state.discovered, state.target = watcher.Ready(), cfg.Target
	return runInBackground(watcher.Run), nil
}

// healthcheck asks the peekroute serving on this host's admin address
// whether it is alive, so a container image can carry a HEALTHCHECK
// without a shell or curl.
func healthcheck(ctx context.Context, environ []string) error {
	addr := defaultSettings().AdminAddr
	if v := lookupEnv(environ, envPrefix+"ADMIN_ADDR"); v != "" {
		addr = v
	}
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("healthcheck: %s%s: %w", envPrefix, "ADMIN_ADDR", err)
	}
	if host == "" || host == "0.0.0.0" || host == "::" {
		host = "127.0.0.1"
	}
	ctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+net.JoinHostPort(host, port)+"/healthz", nil)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("healthcheck: %w", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("healthcheck: /healthz answered %s", resp.Status)
	}
	return nil
}

// lookupEnv returns the value of name in environ, or "".
func lookupEnv(environ []string, name string) string {
	for _, kv := range environ {
		if v, ok := strings.CutPrefix(kv, name+"="); ok {
			return v
		}
	}
	return ""
}

// parts are peekroute's components, wired to each other.
type parts struct {
	router  *router.Router
	checker *health.Checker
	engine  *engine.Server       // carries requests
	reg     *prometheus.Registry // what they report to
	queues  *engine.Metrics      // the engine's per-backend queue series
	history *health.History      // the health transitions they went through
}

// assemble builds the router, its health checker, the engine that carries
// requests, and the metrics registry they report to, wired to each other.
func assemble(cfg config, logger *slog.Logger) (*parts, error) {
	p := &parts{reg: newRegistry()}
	metrics, err := router.NewMetrics(p.reg)
	if err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	if p.queues, err = engine.NewMetrics(p.reg); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	cfg.router.Logger = logger
	cfg.router.Metrics = metrics
	cfg.router.OnBackendFailure = func(backend string, err error) { p.checker.ReportFailure(backend, err) }
	if p.router, err = router.New(cfg.router); err != nil {
		return nil, fmt.Errorf("starting router: %w", err)
	}
	if err := p.router.RegisterRingMetrics(p.reg); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	cfg.engine.Policy, cfg.engine.Logger, cfg.engine.Metrics = p.router, logger, p.queues
	if p.engine, err = engine.New(cfg.engine); err != nil {
		return nil, fmt.Errorf("starting the engine: %w", err)
	}
	p.reg.MustRegister(p.engine.Collector(p.backendNames))
	p.trackSeries(nil)
	if p.history, err = health.NewHistory(p.reg); err != nil {
		return nil, fmt.Errorf("registering metrics: %w", err)
	}
	p.history.SetTargets(p.backendNames())
	p.checker, err = health.New(cfg.health, healthTargets(cfg.router.Backends), health.Options{
		Logger:       logger,
		Transport:    &http.Transport{TLSClientConfig: cfg.engine.BackendTLS, DisableKeepAlives: true},
		OnChange:     func(healthy []string) { applyHealthy(p, logger, healthy) },
		OnTransition: p.history.Record,
	})
	if err != nil {
		return nil, fmt.Errorf("starting health checks: %w", err)
	}
	p.reg.MustRegister(p.checker.Collector())
	return p, nil
}

// backendNames names every configured backend.
func (p *parts) backendNames() []string {
	backends := p.router.Backends()
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.Name
	}
	return names
}

// drain keeps client serving for the shutdown delay, then shuts it down.
func drain(client *engine.Server, cfg config, logger *slog.Logger, errc <-chan error) error {
	select {
	case <-time.After(cfg.shutdownDelay):
	case err := <-errc:
		client.Close()
		return fmt.Errorf("serving: %w", err)
	}
	logger.Info("shutting down: no longer accepting, finishing requests in flight", "timeout", cfg.shutdownTimeout.String())
	ctx, cancel := context.WithTimeout(context.Background(), cfg.shutdownTimeout)
	defer cancel()
	if err := client.Shutdown(ctx); err != nil {
		client.Close()
		return fmt.Errorf("requests still in flight after %v were cut off: %w", cfg.shutdownTimeout, err)
	}
	logger.Info("shut down")
	return nil
}

// newAdminServer serves the admin endpoints with net/http, bounded like a
// server facing the network should be.
func newAdminServer(h http.Handler, logger *slog.Logger) *http.Server {
	return &http.Server{
		Handler:           h,
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
}

func (ls listeners) close() {
	ls.client.Close()
	ls.admin.Close()
}

// runInBackground runs fn until the returned stop is called, and stop
// waits for fn to return.
func runInBackground(fn func(context.Context) error) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = fn(ctx)
	}()
	return func() {
		cancel()
		<-done
	}
}

func healthTargets(backends []router.Backend) []health.Target {
	targets := make([]health.Target, len(backends))
	for i, b := range backends {
		targets[i] = health.Target{Name: b.Name, URL: b.URL}
	}
	return targets
}

// applyDiscovered makes the backends found in DNS the configured set: the
// router drops removed ones at once, and the checker checks new ones, which
// join the ring when healthy.
func applyDiscovered(p *parts, logger *slog.Logger, found []discovery.Backend) {
	before := p.backendNames()
	backends := make([]router.Backend, 0, len(found))
	for _, d := range found {
		b, err := router.NewBackend(d.URL, d.Weight)
		if err != nil {
			logger.Error("discovered backend", "url", d.URL, "err", err)
			continue
		}
		backends = append(backends, b)
	}
	if err := p.router.SetBackends(backends); err != nil {
		logger.Error("applying discovered backends; keeping the previous set", "err", err)
		return
	}
	p.engine.RoutesChanged()
	p.trackSeries(before)
	p.history.SetTargets(p.backendNames())
	if err := p.checker.SetTargets(healthTargets(backends)); err != nil {
		logger.Error("checking discovered backends", "err", err)
	}
}

// trackSeries makes the engine's per-backend series follow the configured
// backends, which were before.
func (p *parts) trackSeries(before []string) {
	now := p.backendNames()
	for _, name := range before {
		if !slices.Contains(now, name) {
			p.queues.Forget(name)
		}
	}
	for _, name := range now {
		p.queues.Track(name)
	}
}

// applyHealthy rebuilds the router's ring from the healthy set, and has
// the requests waiting in backends' queues follow it.
func applyHealthy(p *parts, logger *slog.Logger, healthy []string) {
	if err := p.router.SetHealthy(healthy); err != nil {
		logger.Error("rebuilding the ring", "err", err)
		return
	}
	p.engine.RoutesChanged()
	logger.Info("ring rebuilt", "healthy", len(healthy), "backends", healthy)
}
