package router_test

import (
	"testing"

	"github.com/peekroute/peekroute/router"
)

func TestParseBackend(t *testing.T) {
	tests := []struct {
		in     string
		name   string
		weight int
		err    bool
	}{
		{"http://a:8080", "http://a:8080", 1, false},
		{"HTTP://Soap-1.Example.COM:8080/", "http://soap-1.example.com:8080", 1, false},
		{"http://a", "http://a:80", 1, false},
		{"https://a", "https://a:443", 1, false},
		{"http://a:80/svc/", "http://a:80/svc", 1, false},
		{" http://[::1]:9000 ", "http://[::1]:9000", 1, false},
		{"http://a:8080;weight=3", "http://a:8080", 3, false},
		{"http://a:8080;weight=0", "", 0, true},
		{"http://a:8080;weight=101", "", 0, true},
		{"http://a:8080;colour=red", "", 0, true},
		{"ftp://a", "", 0, true},
		{"a:8080", "", 0, true},
		{"http://", "", 0, true},
		{"http://a:99999", "", 0, true},
		{"http://a:8080/?x=1", "", 0, true},
		{"http://user:pw@a:8080", "", 0, true},
		{"", "", 0, true},
	}
	for _, tt := range tests {
		b, err := router.ParseBackend(tt.in)
		if (err != nil) != tt.err {
			t.Errorf("ParseBackend(%q) error %v, want error %v", tt.in, err, tt.err)
			continue
		}
		if err == nil && (b.Name != tt.name || b.Weight != tt.weight || b.URL.String() != tt.name) {
			t.Errorf("ParseBackend(%q) = %q weight %d, want %q weight %d", tt.in, b.Name, b.Weight, tt.name, tt.weight)
		}
	}
}

func TestEquivalentSpellingsRouteIdentically(t *testing.T) {
	a := []string{"http://A.example:80/", "http://b.example", "HTTP://c.example:80"}
	b := []string{"http://c.example/", "http://a.example", "http://B.EXAMPLE:80"}
	ra := newRouterFor(t, a)
	rb := newRouterFor(t, b)
	for i := range 2000 {
		key := []byte{byte(i), byte(i >> 8), 'k'}
		pa, ba, _ := ra.Owner(key)
		pb, bb, _ := rb.Owner(key)
		if pa != pb || ba.Name != bb.Name {
			t.Fatalf("key %q: %d/%s vs %d/%s", key, pa, ba.Name, pb, bb.Name)
		}
	}
}
