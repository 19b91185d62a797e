package health

import (
	"fmt"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// The history keeps the latest transitions, newest first, and counts them
// only for targets still configured.
func TestHistory(t *testing.T) {
	reg := prometheus.NewRegistry()
	l, err := NewHistory(reg)
	if err != nil {
		t.Fatal(err)
	}
	clock := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	l.now = func() time.Time { clock = clock.Add(time.Second); return clock }
	a, b := "http://a:80", "http://b:80"
	l.SetTargets([]string{a, b})

	for i := range HistorySize + 5 {
		l.Record(a, i%2 == 1, fmt.Sprintf("reason %d", i))
	}
	got := l.Latest()
	if len(got) != HistorySize {
		t.Fatalf("%d transitions kept, want %d", len(got), HistorySize)
	}
	if got[0].Reason != fmt.Sprintf("reason %d", HistorySize+4) || got[len(got)-1].Reason != "reason 5" {
		t.Errorf("kept %q .. %q, want the latest %d, newest first", got[0].Reason, got[len(got)-1].Reason, HistorySize)
	}
	if !got[0].At.After(got[1].At) || got[0].Up || !got[1].Up {
		t.Errorf("newest %+v, next %+v", got[0], got[1])
	}
	for to, want := range map[string]float64{"up": 12, "down": 13} {
		if v := transitionsOf(t, reg)[a+" "+to]; v != want {
			t.Errorf("transitions{backend=a,to=%s} = %v, want %v", to, v, want)
		}
	}

	// b is removed; a transition it went through just before is logged but
	// does not bring back its series.
	l.SetTargets([]string{a})
	l.Record(b, false, "late")
	if got := transitionsOf(t, reg); len(got) != 2 {
		t.Errorf("transition series after b was removed: %v, want a's 2", got)
	}
	if got := l.Latest()[0]; got.Target != b || got.Reason != "late" {
		t.Errorf("latest %+v, want b's late transition", got)
	}
}

// transitionsOf maps "backend to" to the value of each transition series.
func transitionsOf(t *testing.T, reg *prometheus.Registry) map[string]float64 {
	t.Helper()
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	out := make(map[string]float64)
	for _, f := range families {
		for _, m := range f.GetMetric() {
			var backend, to string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "backend":
					backend = lp.GetValue()
				case "to":
					to = lp.GetValue()
				}
			}
			out[backend+" "+to] = m.GetCounter().GetValue()
		}
	}
	return out
}
