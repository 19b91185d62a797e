package health

import (
	"fmt"
	"time"
)

// verdict is what one result did to a target's state.
type verdict uint8

const (
	// unchanged: the state stays as it was.
	unchanged verdict = iota
	// decided: the target's first check set its initial state.
	decided
	// flipped: the target went up or down.
	flipped
)

// state is a target's health, driven by check results.
type state struct {
	checked   bool // a first check has decided the state
	up        bool
	since     time.Time // when the current state began
	successes int       // consecutive successes, 0 after a failure
	failures  int       // consecutive failures, 0 after a success
	lastCheck time.Time
	lastErr   error // the most recent failure, kept after recovery
	lastErrAt time.Time
}

// observe applies one check result and says what it changed, with the
// reason when it changed something.
func (s *state) observe(err error, now time.Time, rise, fall int) (verdict, string) {
	s.lastCheck = now
	if err != nil {
		s.lastErr, s.lastErrAt = err, now
		s.successes, s.failures = 0, s.failures+1
	} else {
		s.successes, s.failures = s.successes+1, 0
	}
	switch {
	case !s.checked:
		s.checked = true
		s.set(err == nil, now)
		if err != nil {
			return decided, fmt.Sprintf("first check failed: %v", err)
		}
		return decided, "first check passed"
	case !s.up && s.successes >= rise:
		s.set(true, now)
		return flipped, fmt.Sprintf("%d consecutive successes", s.successes)
	case s.up && s.failures >= fall:
		s.set(false, now)
		return flipped, fmt.Sprintf("%d consecutive failures: %v", s.failures, err)
	}
	return unchanged, ""
}

func (s *state) set(up bool, now time.Time) {
	s.up, s.since = up, now
}

// healthy says whether the target belongs in the healthy set.
func (s *state) healthy() bool { return s.checked && s.up }
