package health

import "github.com/prometheus/client_golang/prometheus"

// upCollector reports each target's state at scrape time.
type upCollector struct {
	checker *Checker
	up      *prometheus.Desc
}

// Collector reports peekroute_backend_up, 1 or 0, for every target, read
// from Status when scraped.
func (c *Checker) Collector() prometheus.Collector {
	return &upCollector{checker: c, up: prometheus.NewDesc("peekroute_backend_up",
		"Whether a backend passes its health checks (1) or not (0).", []string{"backend"}, nil)}
}

func (u *upCollector) Describe(ch chan<- *prometheus.Desc) { ch <- u.up }

func (u *upCollector) Collect(ch chan<- prometheus.Metric) {
	for _, s := range u.checker.Status() {
		v := 0.0
		if s.Up {
			v = 1
		}
		ch <- prometheus.MustNewConstMetric(u.up, prometheus.GaugeValue, v, s.Name)
	}
}
