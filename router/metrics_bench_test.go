package router

import (
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// BenchmarkRecordRequest measures what every finished request costs the
// per-backend series: a status counter and a duration histogram.
func BenchmarkRecordRequest(b *testing.B) {
	m, err := NewMetrics(prometheus.NewRegistry())
	if err != nil {
		b.Fatal(err)
	}
	var backends []Backend
	for _, u := range []string{"http://10.0.0.1:8080", "http://10.0.0.2:8080", "http://10.0.0.3:8080"} {
		be, err := ParseBackend(u)
		if err != nil {
			b.Fatal(err)
		}
		backends = append(backends, be)
	}
	m.setBackends(backends)
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		m.recordRequest(backends[i%len(backends)].Name, 200, 0.002)
	}
}
