package health

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"
)

// Options are a Checker's collaborators; every field is optional.
//
// OnChange and OnTransition are called from Run's goroutine, one call at a
// time, in the order the changes happened, with no lock held: they may call
// the Checker's methods. A slow callback delays later notifications, never
// checks.
type Options struct {
	// Logger receives one line per change of a target's state and per
	// target added or removed; nil: slog.Default().
	Logger *slog.Logger
	// Transport carries HTTP checks; nil: a transport of the checker's own
	// that keeps no idle connections. Give it the backends' CA for https
	// targets. Redirects are never followed and every check asks for its
	// connection to be closed afterwards.
	Transport http.RoundTripper
	// OnChange receives the healthy set, sorted by name, once when the
	// first round of checks has completed and then on every change. The
	// slice is the callee's to keep.
	OnChange func(healthy []string)
	// OnTransition hears of every target going up or down, with the
	// reason. A target's first check decides its state without a
	// transition, and a removed target leaves without one.
	OnTransition func(name string, up bool, reason string)
}

// Checker tracks whether each target is up. Its methods are safe for
// concurrent use.
type Checker struct {
	cfg    Config
	opts   Options
	log    *slog.Logger
	prober *prober
	ready  chan struct{}
	wake   chan struct{} // has room for one signal that queue has events
	wg     sync.WaitGroup

	mu         sync.Mutex
	phase      phase
	runCtx     context.Context
	targets    map[string]*target
	firstRound bool     // the first round of checks has completed
	published  []string // the healthy set last queued for OnChange
	queue      []event
}

type phase uint8

const (
	idle phase = iota
	running
	stopped
)

// target is one checked target; Target is immutable, state and cancel are
// guarded by Checker.mu.
type target struct {
	Target
	state
	cancel context.CancelFunc
}

type eventKind uint8

const (
	transitionEvent eventKind = iota
	changeEvent
	readyEvent // a change that completes the first round
)

type event struct {
	kind    eventKind
	name    string
	up      bool
	reason  string
	healthy []string
}

// New returns a Checker for targets; nothing is checked before Run.
func New(cfg Config, targets []Target, opts Options) (*Checker, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if err := validateTargets(targets); err != nil {
		return nil, fmt.Errorf("health targets: %w", err)
	}
	path, _ := parsePath(cfg.Path)
	c := &Checker{
		cfg:     cfg,
		opts:    opts,
		log:     opts.Logger,
		prober:  newProber(path, opts.Transport),
		ready:   make(chan struct{}),
		wake:    make(chan struct{}, 1),
		targets: make(map[string]*target, len(targets)),
	}
	if c.log == nil {
		c.log = slog.Default()
	}
	for _, t := range targets {
		c.targets[t.Name] = newTarget(t)
	}
	return c, nil
}

func newTarget(t Target) *target {
	u := *t.URL
	t.URL = &u
	return &target{Target: t}
}

// Run checks the targets until ctx is done, delivering notifications from
// its own goroutine. It returns nil once every check has stopped, dropping
// notifications not yet delivered, or an error at once when called more
// than once.
func (c *Checker) Run(ctx context.Context) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := c.start(ctx); err != nil {
		return err
	}
	c.dispatch(ctx)
	c.stop()
	return nil
}

func (c *Checker) start(ctx context.Context) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != idle {
		return errors.New("health checker: Run called more than once")
	}
	c.phase, c.runCtx = running, ctx
	for _, t := range c.targets {
		c.watchLocked(t)
	}
	c.publishLocked()
	return nil
}

// stop waits for every check to end, once Run's context is done.
func (c *Checker) stop() {
	c.mu.Lock()
	c.phase, c.queue = stopped, nil
	c.mu.Unlock()
	c.wg.Wait()
}

// Ready is closed once every target has been checked once and OnChange has
// returned from receiving the resulting healthy set. Targets added by
// SetTargets before then join that first round. Ready is never closed if
// Run's context ends first.
func (c *Checker) Ready() <-chan struct{} { return c.ready }

// Healthy returns the names of the targets that are up, sorted.
func (c *Checker) Healthy() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.healthyLocked()
}

// ReportFailure counts a failed connection to the named target on a real
// request as one failed check, at once: the one completing Fall in a row
// takes the target out of Healthy before ReportFailure returns, and the
// notifications follow from Run's goroutine. Unknown names, targets not yet
// checked and reports while Run is not running are ignored.
func (c *Checker) ReportFailure(name string, err error) {
	if err == nil {
		err = errors.New("unspecified error")
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	t, ok := c.targets[name]
	if !ok || c.phase != running || !t.checked {
		return
	}
	c.observeLocked(t, fmt.Errorf("request failed: %w", err))
}

// SetTargets replaces the targets. A target whose name and URL are unchanged
// keeps its state and counters; any other is new and checked at once, its
// first check deciding its state; removed targets stop being checked and
// leave the healthy set. An invalid list changes nothing.
func (c *Checker) SetTargets(targets []Target) error {
	if err := validateTargets(targets); err != nil {
		return fmt.Errorf("setting health targets: %w", err)
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	next := make(map[string]*target, len(targets))
	for _, nt := range targets {
		if old, ok := c.targets[nt.Name]; ok && old.URL.String() == nt.URL.String() {
			next[nt.Name] = old
		}
	}
	c.removeLocked(next)
	c.addLocked(targets, next)
	c.targets = next
	c.publishLocked()
	return nil
}

// removeLocked stops the current targets that next does not keep.
func (c *Checker) removeLocked(next map[string]*target) {
	for name, t := range c.targets {
		if next[name] == t {
			continue
		}
		if t.cancel != nil {
			t.cancel()
		}
		c.log.Info("backend removed", "backend", name, "url", t.URL.Redacted())
	}
}

// addLocked puts the targets that next lacks into it and starts checking
// them.
func (c *Checker) addLocked(targets []Target, next map[string]*target) {
	for _, nt := range targets {
		if next[nt.Name] != nil {
			continue
		}
		t := newTarget(nt)
		next[nt.Name] = t
		c.log.Info("backend added", "backend", t.Name, "url", t.URL.Redacted())
		if c.phase == running {
			c.watchLocked(t)
		}
	}
}

// watchLocked starts t's checks.
func (c *Checker) watchLocked(t *target) {
	ctx, cancel := context.WithCancel(c.runCtx)
	t.cancel = cancel
	c.wg.Go(func() { c.watch(ctx, t) })
}

// watch checks t at once and then every Interval until ctx is done.
func (c *Checker) watch(ctx context.Context, t *target) {
	tick := time.NewTicker(c.cfg.Interval)
	defer tick.Stop()
	for {
		err := c.check(ctx, t.Target)
		if ctx.Err() != nil {
			return
		}
		c.record(t, err)
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
	}
}

func (c *Checker) check(ctx context.Context, t Target) error {
	ctx, cancel := context.WithTimeout(ctx, c.cfg.Timeout)
	defer cancel()
	return c.prober.check(ctx, t)
}

// record applies an active check's result, unless t has been removed or
// replaced meanwhile.
func (c *Checker) record(t *target, err error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.phase != running || c.targets[t.Name] != t {
		return
	}
	c.observeLocked(t, err)
}

func (c *Checker) observeLocked(t *target, err error) {
	v, reason := t.observe(err, time.Now(), c.cfg.Rise, c.cfg.Fall)
	if v == unchanged {
		return
	}
	if t.up {
		c.log.Info("backend up", "backend", t.Name, "reason", reason)
	} else {
		c.log.Warn("backend down", "backend", t.Name, "reason", reason)
	}
	if v == flipped {
		c.enqueueLocked(event{kind: transitionEvent, name: t.Name, up: t.up, reason: reason})
	}
	c.publishLocked()
}

// publishLocked queues the healthy set for OnChange when the first round
// completes and whenever it changes after that.
func (c *Checker) publishLocked() {
	if c.phase != running {
		return
	}
	if !c.firstRound {
		for _, t := range c.targets {
			if !t.checked {
				return
			}
		}
		c.firstRound = true
		c.published = c.healthyLocked()
		c.enqueueLocked(event{kind: readyEvent, healthy: slices.Clone(c.published)})
		return
	}
	healthy := c.healthyLocked()
	if slices.Equal(healthy, c.published) {
		return
	}
	c.published = healthy
	c.enqueueLocked(event{kind: changeEvent, healthy: slices.Clone(healthy)})
}

func (c *Checker) healthyLocked() []string {
	healthy := make([]string, 0, len(c.targets))
	for name, t := range c.targets {
		if t.healthy() {
			healthy = append(healthy, name)
		}
	}
	slices.Sort(healthy)
	return healthy
}

func (c *Checker) enqueueLocked(e event) {
	c.queue = append(c.queue, e)
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// dispatch delivers queued events in order until ctx is done.
func (c *Checker) dispatch(ctx context.Context) {
	for {
		select {
		case <-ctx.Done():
			return
		case <-c.wake:
		}
		for _, e := range c.takeQueue() {
			if ctx.Err() != nil {
				return
			}
			c.deliver(e)
		}
	}
}

func (c *Checker) takeQueue() []event {
	c.mu.Lock()
	defer c.mu.Unlock()
	q := c.queue
	c.queue = nil
	return q
}

func (c *Checker) deliver(e event) {
	switch e.kind {
	case transitionEvent:
		if c.opts.OnTransition != nil {
			c.opts.OnTransition(e.name, e.up, e.reason)
		}
	case changeEvent, readyEvent:
		if c.opts.OnChange != nil {
			c.opts.OnChange(e.healthy)
		}
		if e.kind == readyEvent {
			close(c.ready)
		}
	}
}

// TargetStatus is one target's health, for operators.
type TargetStatus struct {
	Name string
	URL  string
	// Checked is false until the target's first check has decided Up.
	Checked bool
	Up      bool
	// Since is when the current state began.
	Since time.Time
	// Successes and Failures count the latest consecutive results; at
	// most one of them is non-zero.
	Successes, Failures int
	// LastCheck is when the latest result, active or passive, came in.
	LastCheck time.Time
	// LastError is the latest failure, kept after recovery; empty if none.
	LastError   string
	LastErrorAt time.Time
}

// Status returns every target's health, sorted by name.
func (c *Checker) Status() []TargetStatus {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]TargetStatus, 0, len(c.targets))
	for _, t := range c.targets {
		out = append(out, t.status())
	}
	slices.SortFunc(out, func(a, b TargetStatus) int { return strings.Compare(a.Name, b.Name) })
	return out
}

func (t *target) status() TargetStatus {
	s := TargetStatus{
		Name:        t.Name,
		URL:         t.URL.Redacted(),
		Checked:     t.checked,
		Up:          t.up,
		Since:       t.since,
		Successes:   t.successes,
		Failures:    t.failures,
		LastCheck:   t.lastCheck,
		LastErrorAt: t.lastErrAt,
	}
	if t.lastErr != nil {
		s.LastError = t.lastErr.Error()
	}
	return s
}
