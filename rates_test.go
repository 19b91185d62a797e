package main

import (
	"math"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

func TestRateSampler(t *testing.T) {
	reg := prometheus.NewRegistry()
	requests := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peekroute_requests_total", Help: "h"}, []string{"backend", "code"})
	other := prometheus.NewCounterVec(prometheus.CounterOpts{Name: "peekroute_retries_total", Help: "h"}, []string{"backend"})
	reg.MustRegister(requests, other)
	s := newRateSampler(reg)
	t0 := time.Date(2026, 1, 2, 3, 4, 0, 0, time.UTC)
	at := func(sec int) time.Time { return t0.Add(time.Duration(sec) * time.Second) }

	requests.WithLabelValues("a", "200").Add(1000) // before the first sample: not counted
	s.sample(at(0))
	if r := s.rates(); r != nil {
		t.Errorf("rates from one sample: %v, want none", r)
	}

	// Over 10 s: a gets 90 OK and 10 answered 5xx, b 20 OK and a 404.
	requests.WithLabelValues("a", "200").Add(50)
	requests.WithLabelValues("a", "502").Add(10)
	other.WithLabelValues("a").Add(1000) // not a request
	s.sample(at(5))
	requests.WithLabelValues("a", "200").Add(40)
	requests.WithLabelValues("b", "200").Add(20)
	requests.WithLabelValues("b", "404").Add(1)
	s.sample(at(10))
	r := s.rates()
	want := map[string]backendRate{
		"a": {PerSecond: 10, ErrorShare: 0.1, Over: 10 * time.Second},
		"b": {PerSecond: 2.1, ErrorShare: 0, Over: 10 * time.Second},
	}
	checkRates(t, "after 10 s", r, want)

	// a is removed and added again: its counter restarts from zero and
	// counts from there.
	requests.DeletePartialMatch(prometheus.Labels{"backend": "a"})
	requests.WithLabelValues("a", "503").Add(20)
	s.sample(at(15))
	checkRates(t, "after a reset", s.rates(), map[string]backendRate{
		"a": {PerSecond: 120.0 / 15, ErrorShare: 30.0 / 120, Over: 15 * time.Second},
		"b": {PerSecond: 21.0 / 15, Over: 15 * time.Second},
	})

	// Samples older than the window drop out: a minute of nothing after
	// t=15 leaves only the last minute, in which nothing happened.
	for sec := 20; sec <= 75; sec += 5 {
		s.sample(at(sec))
	}
	checkRates(t, "a quiet minute later", s.rates(), map[string]backendRate{
		"a": {Over: time.Minute},
		"b": {Over: time.Minute},
	})
	if n := len(s.samples); n != 13 {
		t.Errorf("%d samples kept for a minute at 5 s, want 13", n)
	}
}

func checkRates(t *testing.T, when string, got, want map[string]backendRate) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%s: rates %v, want %v", when, got, want)
	}
	for backend, w := range want {
		g, ok := got[backend]
		if !ok || math.Abs(g.PerSecond-w.PerSecond) > 1e-9 || math.Abs(g.ErrorShare-w.ErrorShare) > 1e-9 || g.Over != w.Over {
			t.Errorf("%s: %s %+v, want %+v", when, backend, g, w)
		}
	}
}
