package health

import (
	"fmt"
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// HistorySize is how many transitions a History keeps.
const HistorySize = 20

// Transition is one target going up or down.
type Transition struct {
	At     time.Time
	Target string
	Up     bool
	Reason string
}

// History hears of every transition, as a Checker's OnTransition: it
// counts them in peekroute_health_transitions_total, by target and state
// entered, and keeps the latest HistorySize for operators. Its methods are
// safe for concurrent use.
type History struct {
	counter *prometheus.CounterVec // backend, to
	now     func() time.Time

	mu     sync.Mutex
	live   map[string]bool // the targets whose series exist
	recent []Transition    // oldest first, at most HistorySize
}

// NewHistory returns a History whose counter is registered with reg.
func NewHistory(reg prometheus.Registerer) (*History, error) {
	c := prometheus.NewCounterVec(prometheus.CounterOpts{
		Name: "peekroute_health_transitions_total",
		Help: "Backend health state changes, by backend and the state entered (up or down).",
	}, []string{"backend", "to"})
	if err := reg.Register(c); err != nil {
		return nil, fmt.Errorf("registering the transition counter: %w", err)
	}
	return &History{counter: c, now: time.Now, live: map[string]bool{}}, nil
}

// SetTargets makes the counter's series those of the named targets: both
// to="up" and to="down" at zero for a target new to the set, none for one
// no longer in it. Transitions already kept stay.
func (h *History) SetTargets(names []string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	next := make(map[string]bool, len(names))
	for _, name := range names {
		next[name] = true
		if !h.live[name] {
			h.counter.WithLabelValues(name, stateLabel(true))
			h.counter.WithLabelValues(name, stateLabel(false))
		}
	}
	for name := range h.live {
		if !next[name] {
			h.counter.DeletePartialMatch(prometheus.Labels{"backend": name})
		}
	}
	h.live = next
}

// Record keeps a transition, with OnTransition's signature; one of a
// target removed meanwhile is kept but not counted, so that its series
// stay deleted.
func (h *History) Record(name string, up bool, reason string) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.live[name] {
		h.counter.WithLabelValues(name, stateLabel(up)).Inc()
	}
	if len(h.recent) == HistorySize {
		h.recent = slices.Delete(h.recent, 0, 1)
	}
	h.recent = append(h.recent, Transition{At: h.now(), Target: name, Up: up, Reason: reason})
}

// Latest returns the transitions kept, newest first.
func (h *History) Latest() []Transition {
	h.mu.Lock()
	defer h.mu.Unlock()
	out := slices.Clone(h.recent)
	slices.Reverse(out)
	return out
}

func stateLabel(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
