package main

import (
	"bytes"
	"crypto/sha256"
	_ "embed"
	"encoding/base64"
	"fmt"
	"html/template"
	"io"
	"log/slog"
	"net/http"
	"time"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/health"
	"github.com/peekroute/peekroute/router"
)

// The status page is server-rendered HTML with a few lines of script that
// reload it; both are embedded, so the admin listener needs no files.
var (
	//go:embed status.html
	statusHTML string
	//go:embed status.js
	statusJS string

	statusTemplate = template.Must(template.New("status").Funcs(template.FuncMap{
		"clock":   func(t time.Time) string { return t.UTC().Format("2006-01-02 15:04:05 UTC") },
		"percent": func(f float64) string { return fmt.Sprintf("%.1f", 100*f) },
	}).Parse(statusHTML))

	// statusCSP allows the page's own inline style and its one script,
	// by hash, and nothing else.
	statusCSP = "default-src 'none'; style-src 'unsafe-inline'; script-src 'sha256-" + scriptHash(statusJS) +
		"'; form-action 'self'; base-uri 'none'; frame-ancestors 'none'"
)

// statusRefresh is how often the page reloads itself.
const statusRefresh = 5 * time.Second

func scriptHash(js string) string {
	sum := sha256.Sum256([]byte(js))
	return base64.StdEncoding.EncodeToString(sum[:])
}

// statusPage serves the admin listener's human view: each backend's health,
// share of the ring and traffic, the latest health transitions, the ring
// and key sources in force, and which backend owns a key. It only reads.
type statusPage struct {
	state      *readiness
	history    *health.History
	rates      *rateSampler
	keySpec    string
	missingKey router.MissingKeyPolicy
	checks     health.Config
	logger     *slog.Logger
}

// statusView is what the page shows, as of Now.
type statusView struct {
	Now         time.Time
	Refresh     int    // seconds between reloads
	NotReady    string // why the replica is not ready; "" when it is
	KeySources  string
	MissingKey  string
	Checks      string
	Ring        ringShape
	Backends    []backendRow
	RatesOver   time.Duration       // 0 until two samples have been taken
	Transitions []health.Transition // newest first
	Asked       bool                // a key was asked for (it may be empty)
	Answer      routeAnswer         // routeKey's answer, when a non-empty key was asked for
	Script      template.JS
}

type ringShape struct {
	Partitions  int
	Replication int
	LoadFactor  float64
	LoadBound   int // most partitions per unit of weight
	Members     int // healthy backends, in the ring
	Configured  int
}

// backendRow is one configured backend.
type backendRow struct {
	Name       string
	Weight     int
	Health     string    // up, down, or unchecked before its first check
	Since      time.Time // when it entered that state; zero while unchecked
	LastError  string    // the latest failed check, kept after recovery
	Partitions int
	Share      float64      // of all partitions, 0..1
	Rate       *backendRate // nil until measured

	// InFlight and Queued are the requests being forwarded to the backend
	// and those waiting in its queue for a slot (see
	// PEEKROUTE_BACKEND_MAX_ACTIVE); nil when the engine is not known, and
	// the page then leaves their columns out.
	InFlight, Queued *int
}

// HasQueues says whether any row has in-flight and queued counts.
func (v statusView) HasQueues() bool {
	for _, b := range v.Backends {
		if b.InFlight != nil || b.Queued != nil {
			return true
		}
	}
	return false
}

// ServeHTTP renders the page; ?key=K adds which backend owns K.
func (p *statusPage) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	v := p.view(time.Now(), q.Has("key"), q.Get("key"))
	var buf bytes.Buffer
	if err := renderStatus(&buf, v); err != nil {
		p.logger.Error("rendering the status page", "err", err)
		http.Error(w, "could not render the status page", http.StatusInternalServerError)
		return
	}
	h := w.Header()
	h.Set("Content-Type", "text/html; charset=utf-8")
	h.Set("Cache-Control", "no-store")
	h.Set("Content-Security-Policy", statusCSP)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("Referrer-Policy", "no-referrer")
	_, _ = w.Write(buf.Bytes())
}

// renderStatus writes the page for v; html/template escapes every value
// for where it appears.
func renderStatus(w io.Writer, v statusView) error {
	return statusTemplate.Execute(w, v)
}

func (p *statusPage) view(now time.Time, asked bool, key string) statusView {
	rt := p.state.router
	ring := rt.Ring()
	cfg := ring.Config()
	v := statusView{
		Now:         now,
		Refresh:     int(statusRefresh / time.Second),
		NotReady:    p.state.notReady(),
		KeySources:  p.keySpec,
		MissingKey:  missingKeyWord(p.missingKey),
		Checks:      describeChecks(p.checks),
		Ring:        ringShape{Partitions: cfg.Partitions, Replication: cfg.Replication, LoadFactor: cfg.Load, LoadBound: ring.LoadBound(), Members: ring.Len()},
		Transitions: p.history.Latest(),
		Asked:       asked,
		Script:      template.JS(statusJS),
	}
	if asked && key != "" {
		v.Answer = routeKey(rt, key)
	}
	status := make(map[string]health.TargetStatus)
	for _, s := range p.state.checker.Status() {
		status[s.Name] = s
	}
	rates := p.rates.rates()
	load := make(map[string]engine.BackendLoad)
	if p.state.engine != nil {
		for _, l := range p.state.engine.Load() {
			load[l.Name] = l
		}
	}
	for _, b := range rt.Backends() {
		row := backendRow{Name: b.Name, Weight: b.Weight, Health: "unchecked"}
		if s, ok := status[b.Name]; ok {
			row.LastError = s.LastError
			if s.Checked {
				row.Health, row.Since = "down", s.Since
				if s.Up {
					row.Health = "up"
				}
			}
		}
		if i := ring.Index(b.Name); i >= 0 {
			row.Partitions = ring.Owned(i)
			row.Share = float64(row.Partitions) / float64(cfg.Partitions)
		}
		if r, ok := rates[b.Name]; ok {
			row.Rate = &r
			v.RatesOver = r.Over
		}
		if p.state.engine != nil {
			l := load[b.Name]
			row.InFlight, row.Queued = &l.InFlight, &l.Queued
		}
		v.Backends = append(v.Backends, row)
	}
	v.Ring.Configured = len(v.Backends)
	return v
}

func missingKeyWord(p router.MissingKeyPolicy) string {
	if p == router.Reject {
		return "reject (answered 400)"
	}
	return "spread (forwarded to any healthy backend)"
}

func describeChecks(c health.Config) string {
	how := "TCP connect"
	if c.Path != "" {
		how = "HTTP GET " + c.Path
	}
	return fmt.Sprintf("%s every %v, timeout %v; up after %d successes, down after %d failures",
		how, c.Interval, c.Timeout, c.Rise, c.Fall)
}

// RatesSpan names the span rates are measured over.
func (v statusView) RatesSpan() string {
	if d := v.RatesOver.Round(time.Second); d != time.Minute {
		return d.String()
	}
	return "minute"
}

// When gives t's time of day, and its date too unless it is the page's.
func (v statusView) When(t time.Time) string {
	if t.UTC().Format(time.DateOnly) == v.Now.UTC().Format(time.DateOnly) {
		return t.UTC().Format("15:04:05 UTC")
	}
	return t.UTC().Format("2006-01-02 15:04 UTC")
}

// Ago says how long before the page's time t was.
func (v statusView) Ago(t time.Time) string { return since(v.Now, t) }

// since says how long ago t was, coarsely.
func since(now, t time.Time) string {
	d := now.Sub(t).Round(time.Second)
	switch {
	case d < time.Minute:
		return fmt.Sprintf("%ds ago", int(d.Seconds()))
	case d < time.Hour:
		return fmt.Sprintf("%dm %ds ago", int(d.Minutes()), int(d.Seconds())%60)
	case d < 48*time.Hour:
		return fmt.Sprintf("%dh %dm ago", int(d.Hours()), int(d.Minutes())%60)
	}
	return fmt.Sprintf("%dd ago", int(d.Hours()/24))
}
