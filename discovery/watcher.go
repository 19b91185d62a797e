package discovery

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/peekroute/peekroute/internal/setting"
)

// Config says what to watch and how often.
type Config struct {
	// Target is the name to resolve, in a form ParseTarget reads.
	Target string
	// Server is the name server to ask, "host:port"; empty: the name
	// servers of /etc/resolv.conf.
	Server string
	// Interval is the time between resolutions.
	Interval time.Duration
	// Timeout bounds each single DNS query.
	Timeout time.Duration
	// EmptyAfter is how many empty answers (NXDOMAIN, or no records) in a
	// row it takes to report an empty set. 0: never; empty answers are
	// then treated like failures and keep the last set.
	EmptyAfter int
}

// DefaultConfig returns the defaults: every 5s, 2s per query, an empty
// answer believed the third time in a row.
func DefaultConfig() Config {
	return Config{Interval: 5 * time.Second, Timeout: 2 * time.Second, EmptyAfter: 3}
}

// Validate reports the first setting that cannot work, as a
// *setting.Error naming its field.
func (c Config) Validate() error {
	if _, err := parseTarget(strings.TrimSpace(c.Target)); err != nil {
		return setting.Errorf("Target", "discovery target", "%q: %v", c.Target, err)
	}
	if c.Server != "" {
		if _, _, err := net.SplitHostPort(c.Server); err != nil {
			return setting.Errorf("Server", "dns server", "%q: want host:port: %v", c.Server, err)
		}
	}
	switch {
	case c.Interval <= 0:
		return setting.Errorf("Interval", "dns interval", "must be positive, got %v", c.Interval)
	case c.Timeout <= 0:
		return setting.Errorf("Timeout", "dns timeout", "must be positive, got %v", c.Timeout)
	case c.EmptyAfter < 0:
		return setting.Errorf("EmptyAfter", "dns empty-answer count", "must not be negative, got %d", c.EmptyAfter)
	}
	return nil
}

// Options are a Watcher's collaborators; every field is optional.
type Options struct {
	// Logger receives a line per change of the set and per failed or
	// empty resolution; nil: slog.Default().
	Logger *slog.Logger
	// OnChange receives the member set, sorted, after the first
	// successful resolution and then whenever it changes. It is called
	// from Run's goroutine, one call at a time; the slice is the callee's
	// to keep.
	OnChange func(backends []Backend)
	// Resolver answers the queries; nil: one made from Config.Server and
	// Config.Timeout.
	Resolver *Resolver
}

// Watcher keeps the member set behind one name up to date. Its methods
// are safe for concurrent use.
type Watcher struct {
	target   Target
	interval time.Duration
	// emptyAfter, resolver, log and onChange are fixed at New.
	emptyAfter int
	resolver   *Resolver
	log        *slog.Logger
	onChange   func([]Backend)
	ready      chan struct{}
	// ticks, when set, paces the resolutions instead of a ticker.
	ticks <-chan time.Time

	// empties counts the empty answers in a row; a failure leaves it
	// be. Only Run's goroutine uses it.
	empties int

	mu       sync.Mutex
	started  bool
	reported bool
	current  []Backend
}

// New returns a Watcher for cfg; nothing is resolved before Run.
func New(cfg Config, opts Options) (*Watcher, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	target, _ := ParseTarget(cfg.Target)
	w := &Watcher{
		target:     target,
		interval:   cfg.Interval,
		emptyAfter: cfg.EmptyAfter,
		resolver:   opts.Resolver,
		log:        opts.Logger,
		onChange:   opts.OnChange,
		ready:      make(chan struct{}),
	}
	if w.resolver == nil {
		r, err := NewResolver(cfg.Server, cfg.Timeout)
		if err != nil {
			return nil, fmt.Errorf("discovery of %s: %w", target, err)
		}
		w.resolver = r
	}
	if w.log == nil {
		w.log = slog.Default()
	}
	if w.onChange == nil {
		w.onChange = func([]Backend) {}
	}
	return w, nil
}

// Run resolves at once and then every interval until ctx is done. It
// returns nil once stopped, or an error at once when called more than once.
func (w *Watcher) Run(ctx context.Context) error {
	if err := w.start(); err != nil {
		return err
	}
	ticks := w.ticks
	if ticks == nil {
		ticker := time.NewTicker(w.interval)
		defer ticker.Stop()
		ticks = ticker.C
	}
	for {
		w.poll(ctx)
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
		}
	}
}

func (w *Watcher) start() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.started {
		return errors.New("discovery watcher: Run called more than once")
	}
	w.started = true
	return nil
}

// Ready is closed once the first member set has been reported and OnChange
// has returned. It stays open while the name does not resolve.
func (w *Watcher) Ready() <-chan struct{} { return w.ready }

// Backends returns the last member set reported, nil before the first.
func (w *Watcher) Backends() []Backend {
	w.mu.Lock()
	defer w.mu.Unlock()
	return slices.Clone(w.current)
}

// Target returns the parsed name being watched.
func (w *Watcher) Target() Target { return w.target }

// poll resolves once and reports what changed.
func (w *Watcher) poll(ctx context.Context) {
	backends, err := w.resolver.Resolve(ctx, w.target)
	switch {
	case ctx.Err() != nil:
	case errors.Is(err, ErrNoRecords):
		w.observeEmpty(err)
	case err != nil:
		w.log.Warn("dns discovery failed; keeping the last backends",
			"target", w.target.String(), "backends", w.count(), "error", err)
	default:
		w.empties = 0
		w.publish(backends)
	}
}

func (w *Watcher) observeEmpty(err error) {
	w.empties++
	n := w.empties
	if w.emptyAfter == 0 || n < w.emptyAfter {
		w.log.Warn("dns discovery found no backends; keeping the last backends",
			"target", w.target.String(), "backends", w.count(), "empty", n, "confirm_after", w.emptyAfter, "error", err)
		return
	}
	w.publish([]Backend{})
}

func (w *Watcher) count() int {
	w.mu.Lock()
	defer w.mu.Unlock()
	return len(w.current)
}

// publish records next and hands it to OnChange when it differs from the
// set last reported.
func (w *Watcher) publish(next []Backend) {
	w.mu.Lock()
	prev, first := w.current, !w.reported
	if !first && slices.Equal(prev, next) {
		w.mu.Unlock()
		w.log.Debug("dns discovery backends unchanged", "target", w.target.String(), "backends", len(next))
		return
	}
	w.current, w.reported = next, true
	w.mu.Unlock()
	added, removed := diff(prev, next)
	w.log.Info("dns discovery backends changed", "target", w.target.String(),
		"backends", len(next), "added", added, "removed", removed)
	w.onChange(slices.Clone(next))
	if first {
		close(w.ready)
	}
}

// diff names the backends only in next and those only in prev; a weight
// change counts as both.
func diff(prev, next []Backend) (added, removed []string) {
	for _, b := range next {
		if !slices.Contains(prev, b) {
			added = append(added, b.URL)
		}
	}
	for _, b := range prev {
		if !slices.Contains(next, b) {
			removed = append(removed, b.URL)
		}
	}
	return added, removed
}
