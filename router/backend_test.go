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

// A discovered backend is built from its URL and weight directly, and is
// the same backend its entry in PEEKROUTE_BACKENDS would be.
func TestNewBackend(t *testing.T) {
	for _, tt := range []struct {
		url    string
		weight int
		entry  string
	}{
		{"http://10.0.0.7:8080", 1, "http://10.0.0.7:8080"},
		{"https://[fd00::1]:8443", 100, "https://[fd00::1]:8443;weight=100"},
		{"HTTP://A:80/svc/", 3, "http://a/svc;weight=3"},
	} {
		got, err := router.NewBackend(tt.url, tt.weight)
		if err != nil {
			t.Errorf("NewBackend(%q, %d): %v", tt.url, tt.weight, err)
			continue
		}
		want, err := router.ParseBackend(tt.entry)
		if err != nil {
			t.Fatal(err)
		}
		if got.Name != want.Name || got.Weight != want.Weight || *got.Target() != *want.Target() {
			t.Errorf("NewBackend(%q, %d) = %+v, want %+v as from %q", tt.url, tt.weight, got.Target(), want.Target(), tt.entry)
		}
	}
	for _, bad := range []struct {
		url    string
		weight int
	}{{"http://a", 0}, {"http://a", 101}, {"ftp://a", 1}, {"http://a?x=1", 1}} {
		if _, err := router.NewBackend(bad.url, bad.weight); err == nil {
			t.Errorf("NewBackend(%q, %d) accepted", bad.url, bad.weight)
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
