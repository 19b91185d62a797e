package main

import (
	"context"
	"strings"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// Defaults of the rate sampler behind the status page.
const (
	rateEvery  = 5 * time.Second // between samples
	rateWindow = time.Minute     // the span rates are measured over
)

// rateSampler reads peekroute_requests_total from the registry every few
// seconds, in process, and keeps a window of samples, so that the status
// page can show each backend's requests per second and 5xx share over the
// last minute without a Prometheus server. Its methods are safe for
// concurrent use.
type rateSampler struct {
	gatherer prometheus.Gatherer
	every    time.Duration
	window   time.Duration

	mu      sync.Mutex
	samples []requestSample // oldest first, spanning at most window
}

// requestSample is the request counters at one moment, by backend and
// status code.
type requestSample struct {
	at     time.Time
	counts map[string]map[string]float64
}

// backendRate is one backend's traffic over the sampler's window.
type backendRate struct {
	PerSecond  float64
	ErrorShare float64       // of the requests, the share answered 5xx; 0 with none
	Over       time.Duration // the span measured: the window once it has filled
}

func newRateSampler(g prometheus.Gatherer) *rateSampler {
	return &rateSampler{gatherer: g, every: rateEvery, window: rateWindow}
}

// Run samples at once and then every s.every until ctx is done.
func (s *rateSampler) Run(ctx context.Context) error {
	tick := time.NewTicker(s.every)
	defer tick.Stop()
	for {
		s.sample(time.Now())
		select {
		case <-ctx.Done():
			return nil
		case <-tick.C:
		}
	}
}

// sample reads the counters as they are at now.
func (s *rateSampler) sample(now time.Time) {
	// A registry returns what it could gather along with any error; a
	// partial answer still has the counters if they were gathered.
	families, _ := s.gatherer.Gather()
	counts := make(map[string]map[string]float64)
	for _, f := range families {
		if f.GetName() != "peekroute_requests_total" {
			continue
		}
		for _, m := range f.GetMetric() {
			var backend, code string
			for _, lp := range m.GetLabel() {
				switch lp.GetName() {
				case "backend":
					backend = lp.GetValue()
				case "code":
					code = lp.GetValue()
				}
			}
			if counts[backend] == nil {
				counts[backend] = make(map[string]float64)
			}
			counts[backend][code] = m.GetCounter().GetValue()
		}
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	s.samples = append(s.samples, requestSample{at: now, counts: counts})
	first := 0
	for first < len(s.samples)-1 && now.Sub(s.samples[first].at) > s.window {
		first++
	}
	s.samples = s.samples[first:]
}

// rates returns each backend's traffic over the samples kept, or nil
// until there are two of them.
func (s *rateSampler) rates() map[string]backendRate {
	s.mu.Lock()
	defer s.mu.Unlock()
	if len(s.samples) < 2 {
		return nil
	}
	oldest, newest := s.samples[0], s.samples[len(s.samples)-1]
	span := newest.at.Sub(oldest.at)
	if span <= 0 {
		return nil
	}
	out := make(map[string]backendRate, len(newest.counts))
	for backend := range newest.counts {
		var all, errors float64
		for i := 1; i < len(s.samples); i++ {
			prev := s.samples[i-1].counts[backend]
			for code, v := range s.samples[i].counts[backend] {
				rise := increase(prev[code], v)
				all += rise
				if len(code) == 3 && strings.HasPrefix(code, "5") {
					errors += rise
				}
			}
		}
		r := backendRate{PerSecond: all / span.Seconds(), Over: span}
		if all > 0 {
			r.ErrorShare = errors / all
		}
		out[backend] = r
	}
	return out
}

// increase is how much a counter rose from prev to cur; a counter that went
// down was reset (its backend removed and added again) and rose from zero,
// and one absent before started from zero.
func increase(prev, cur float64) float64 {
	if cur < prev {
		return cur
	}
	return cur - prev
}
