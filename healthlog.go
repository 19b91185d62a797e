package main

import (
	"slices"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/peekroute/peekroute/router"
)

// recentTransitions is how many health transitions the status page shows.
const recentTransitions = 20

// transition is one backend going up or down.
type transition struct {
	At      time.Time
	Backend string
	Up      bool
	Reason  string
}

// healthLog hears of every health transition, from the checker's
// OnTransition: it counts them in peekroute_health_transitions_total and
// keeps the latest for the status page. Its methods are safe for
// concurrent use.
type healthLog struct {
	counter *prometheus.CounterVec // backend, to
	now     func() time.Time

	mu     sync.Mutex
	live   map[string]bool // the configured backends, whose series exist
	recent []transition    // oldest first, at most recentTransitions
}

func newHealthLog(reg prometheus.Registerer) *healthLog {
	return &healthLog{counter: newTransitionCounter(reg), now: time.Now, live: map[string]bool{}}
}

// setBackends makes the transition series those of backends: both
// to="up" and to="down" at zero for a backend new to the set, none for
// one no longer in it. Transitions already logged are kept.
func (l *healthLog) setBackends(backends []router.Backend) {
	l.mu.Lock()
	defer l.mu.Unlock()
	next := make(map[string]bool, len(backends))
	for _, b := range backends {
		next[b.Name] = true
		if !l.live[b.Name] {
			l.counter.WithLabelValues(b.Name, "up")
			l.counter.WithLabelValues(b.Name, "down")
		}
	}
	for name := range l.live {
		if !next[name] {
			l.counter.DeletePartialMatch(prometheus.Labels{"backend": name})
		}
	}
	l.live = next
}

// record logs a transition; one of a backend removed meanwhile is logged
// but not counted, so that its series stay deleted.
func (l *healthLog) record(name string, up bool, reason string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.live[name] {
		l.counter.WithLabelValues(name, toLabel(up)).Inc()
	}
	if len(l.recent) == recentTransitions {
		l.recent = slices.Delete(l.recent, 0, 1)
	}
	l.recent = append(l.recent, transition{At: l.now(), Backend: name, Up: up, Reason: reason})
}

// latest returns the logged transitions, newest first.
func (l *healthLog) latest() []transition {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := slices.Clone(l.recent)
	slices.Reverse(out)
	return out
}

func toLabel(up bool) string {
	if up {
		return "up"
	}
	return "down"
}
