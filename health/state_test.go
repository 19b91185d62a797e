package health

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStateObserve(t *testing.T) {
	// Results are written as a string: '+' a success, '-' a failure. want
	// has one letter per result: '.' nothing changed, 'U'/'D' the first
	// check decided up/down, 'u'/'d' the target went up/down.
	tests := []struct {
		name       string
		rise, fall int
		results    string
		want       string
	}{
		{"first success decides up", 2, 3, "+", "U"},
		{"first failure decides down", 2, 3, "-", "D"},
		{"fall failures take it down", 2, 3, "+---", "U..d"},
		{"rise successes bring it up", 2, 3, "-++", "D.u"},
		{"a success resets the failures", 2, 3, "+--+--+--", "U........"},
		{"a failure resets the successes", 2, 3, "-+-+-+", "D....."},
		{"alternating never flips", 2, 2, "+-+-+-+-+-+-+-+-+-+-+", "U...................."},
		{"down and up again", 2, 3, "+---++", "U..d.u"},
		{"rise and fall of one", 1, 1, "+-+-", "Udud"},
		{"more successes while up", 2, 3, "++++", "U..."},
	}
	boom := errors.New("boom")
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var s state
			var got strings.Builder
			now := time.Unix(1000, 0)
			for i, r := range tt.results {
				var err error
				if r == '-' {
					err = boom
				}
				v, reason := s.observe(err, now.Add(time.Duration(i)*time.Second), tt.rise, tt.fall)
				got.WriteByte(verdictLetter(v, s.up))
				if (v == unchanged) != (reason == "") {
					t.Errorf("result %d: verdict %d with reason %q", i, v, reason)
				}
			}
			if got.String() != tt.want {
				t.Fatalf("verdicts %q, want %q", got.String(), tt.want)
			}
		})
	}
}

func verdictLetter(v verdict, up bool) byte {
	switch {
	case v == decided && up:
		return 'U'
	case v == decided:
		return 'D'
	case v == flipped && up:
		return 'u'
	case v == flipped:
		return 'd'
	}
	return '.'
}

func TestStateReasonsAndCounters(t *testing.T) {
	var s state
	boom := errors.New("connection refused")
	t0 := time.Unix(1000, 0)
	s.observe(nil, t0, 2, 3)
	if !s.healthy() || !s.since.Equal(t0) || s.successes != 1 {
		t.Fatalf("after first success: %+v", s)
	}
	s.observe(boom, t0.Add(time.Second), 2, 3)
	s.observe(boom, t0.Add(2*time.Second), 2, 3)
	v, reason := s.observe(boom, t0.Add(3*time.Second), 2, 3)
	if v != flipped || s.healthy() {
		t.Fatalf("third failure: verdict %d, state %+v", v, s)
	}
	if want := "3 consecutive failures: connection refused"; reason != want {
		t.Errorf("reason %q, want %q", reason, want)
	}
	if !s.since.Equal(t0.Add(3*time.Second)) || s.failures != 3 || s.successes != 0 {
		t.Errorf("after going down: %+v", s)
	}
	s.observe(nil, t0.Add(4*time.Second), 2, 3)
	v, reason = s.observe(nil, t0.Add(5*time.Second), 2, 3)
	if v != flipped || !s.healthy() || reason != "2 consecutive successes" {
		t.Fatalf("second success: verdict %d, reason %q, state %+v", v, reason, s)
	}
	if s.lastErr != boom || !s.lastErrAt.Equal(t0.Add(3*time.Second)) {
		t.Errorf("last error %v at %v, want it kept after recovery", s.lastErr, s.lastErrAt)
	}
}

func TestStateUncheckedIsNotHealthy(t *testing.T) {
	var s state
	if s.healthy() {
		t.Fatal("a target never checked counts as healthy")
	}
}
