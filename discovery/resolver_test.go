package discovery

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

func resolve(t *testing.T, r *Resolver, target string) ([]Backend, error) {
	t.Helper()
	tg, err := ParseTarget(target)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(t.Context(), testWait)
	defer cancel()
	return r.Resolve(ctx, tg)
}

func TestResolve(t *testing.T) {
	s := startServer(t)
	s.zone.set(t,
		"web.test. 60 IN A 10.0.0.7",
		"web.test. 60 IN A 10.0.0.10",
		"web.test. 60 IN A 10.0.0.7",
		"v6.test. 60 IN AAAA FD00::1",
		"v6.test. 60 IN A 10.0.0.1",
		"v6.test. 60 IN AAAA ::ffff:10.0.0.1",
		"alias.test. 60 IN CNAME WEB.test.",
		"nodata.test. 60 IN TXT hello",
		"_http._tcp.svc.test. 60 IN SRV 10 0 8080 a.svc.test.",
		"_http._tcp.svc.test. 60 IN SRV 10 30 8081 b.svc.test.",
		"_http._tcp.svc.test. 60 IN SRV 10 500 8082 c.svc.test.",
		"_http._tcp.svc.test. 60 IN SRV 20 50 9999 backup.svc.test.",
		"_http._tcp.svc.test. 60 IN SRV 10 60 8080 a.svc.test.",
		"a.svc.test. 60 IN A 10.1.0.1",
		"b.svc.test. 60 IN AAAA fd00::b",
		"backup.svc.test. 60 IN A 10.9.9.9",
		"_http._tcp.none.test. 60 IN SRV 0 0 0 .",
		"_http._tcp.gone.test. 60 IN SRV 0 10 8080 missing.test.",
	)
	s.zone.setExtra(t, "c.svc.test. 60 IN A 10.1.0.3")
	r := s.resolver(t)
	tests := []struct {
		target string
		want   []Backend
		empty  bool
	}{
		{target: "web.test:8080", want: []Backend{{"http://10.0.0.7:8080", 1}, {"http://10.0.0.10:8080", 1}}},
		{target: "WEB.Test.:8080", want: []Backend{{"http://10.0.0.7:8080", 1}, {"http://10.0.0.10:8080", 1}}},
		{target: "HTTPS://web.test:443", want: []Backend{{"https://10.0.0.7:443", 1}, {"https://10.0.0.10:443", 1}}},
		{target: "v6.test:80", want: []Backend{{"http://10.0.0.1:80", 1}, {"http://[fd00::1]:80", 1}}},
		{target: "alias.test:80", want: []Backend{{"http://10.0.0.7:80", 1}, {"http://10.0.0.10:80", 1}}},
		{target: "10.2.3.4:80", want: []Backend{{"http://10.2.3.4:80", 1}}},
		{target: "[FD00:0::2]:80", want: []Backend{{"http://[fd00::2]:80", 1}}},
		{target: "_http._tcp.svc.test", want: []Backend{
			{"http://10.1.0.1:8080", 60}, {"http://10.1.0.3:8082", 100}, {"http://[fd00::b]:8081", 30},
		}},
		{target: "https://_http._tcp.svc.test.", want: []Backend{
			{"https://10.1.0.1:8080", 60}, {"https://10.1.0.3:8082", 100}, {"https://[fd00::b]:8081", 30},
		}},
		{target: "missing.test:80", empty: true},
		{target: "nodata.test:80", empty: true},
		{target: "_http._tcp.missing.test", empty: true},
		{target: "_http._tcp.none.test", empty: true},
		{target: "_http._tcp.gone.test", empty: true},
	}
	for _, tc := range tests {
		t.Run(tc.target, func(t *testing.T) {
			got, err := resolve(t, r, tc.target)
			if tc.empty {
				if !errors.Is(err, ErrNoRecords) || got != nil {
					t.Fatalf("got %v, %v; want ErrNoRecords", got, err)
				}
				return
			}
			if err != nil || !slices.Equal(got, tc.want) {
				t.Fatalf("got %v, %v; want %v", got, err, tc.want)
			}
		})
	}
}

// TestResolveOrderIndependent checks that every order of the same records
// yields the same members.
func TestResolveOrderIndependent(t *testing.T) {
	lines := []string{
		"web.test. 60 IN A 10.0.0.3",
		"web.test. 60 IN AAAA fd00::3",
		"web.test. 60 IN A 10.0.0.1",
		"web.test. 60 IN AAAA fd00::1",
		"web.test. 60 IN A 10.0.0.2",
	}
	want := []Backend{
		{"http://10.0.0.1:80", 1}, {"http://10.0.0.2:80", 1}, {"http://10.0.0.3:80", 1},
		{"http://[fd00::1]:80", 1}, {"http://[fd00::3]:80", 1},
	}
	s := startServer(t)
	r := s.resolver(t)
	for i := range 10 {
		slices.Reverse(lines)
		lines = append(lines[i%len(lines):], lines[:i%len(lines)]...)
		s.zone.set(t, lines...)
		got, err := resolve(t, r, "web.test:80")
		if err != nil || !slices.Equal(got, want) {
			t.Fatalf("order %q: got %v, %v; want %v", lines, got, err, want)
		}
	}
}

func TestResolveFollowsUnresolvedCNAME(t *testing.T) {
	s := startServer(t)
	s.zone.setNoChase(true)
	s.zone.set(t,
		"alias.test. 60 IN CNAME middle.test.",
		"middle.test. 60 IN CNAME web.test.",
		"web.test. 60 IN A 10.0.0.7",
		"loop.test. 60 IN CNAME loop2.test.",
		"loop2.test. 60 IN CNAME loop.test.",
	)
	r := s.resolver(t)
	got, err := resolve(t, r, "alias.test:80")
	if want := []Backend{{"http://10.0.0.7:80", 1}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
	if _, err := resolve(t, r, "loop.test:80"); err == nil || errors.Is(err, ErrNoRecords) {
		t.Fatalf("CNAME loop: got %v, want a failure", err)
	}
}

func TestResolveTruncatedFallsBackToTCP(t *testing.T) {
	s := startServer(t)
	var lines, want []string
	for i := range 300 {
		lines = append(lines, fmt.Sprintf("big.test. 60 IN A 10.0.%d.%d", i/250, i%250+1))
		want = append(want, fmt.Sprintf("http://10.0.%d.%d:80", i/250, i%250+1))
	}
	s.zone.set(t, lines...)
	got, err := resolve(t, s.resolver(t), "big.test:80")
	if err != nil {
		t.Fatal(err)
	}
	var urls []string
	for _, b := range got {
		urls = append(urls, b.URL)
	}
	if !slices.Equal(urls, want) {
		t.Fatalf("got %d backends, want %d: %v", len(urls), len(want), urls)
	}
	if s.zone.queries("tcp") == 0 {
		t.Fatal("no query came over TCP")
	}
}

func TestResolveFailures(t *testing.T) {
	tests := []struct {
		name  string
		setup func(*testServer)
	}{
		{"servfail", func(s *testServer) { s.zone.setRcode(dns.RcodeServerFailure) }},
		{"refused", func(s *testServer) { s.zone.setRcode(dns.RcodeRefused) }},
		{"stopped", func(s *testServer) { s.stop() }},
		{"timeout", func(s *testServer) { s.zone.setDrop(true) }},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			s := startServer(t)
			s.zone.set(t, "web.test. 60 IN A 10.0.0.7")
			tc.setup(s)
			r, err := NewResolver(s.addr, 200*time.Millisecond)
			if err != nil {
				t.Fatal(err)
			}
			_, err = resolve(t, r, "web.test:80")
			if err == nil || errors.Is(err, ErrNoRecords) {
				t.Fatalf("got %v, want a failure", err)
			}
		})
	}
}

func TestResolveSRVTargetFailureFailsTheSet(t *testing.T) {
	s := startServer(t)
	s.zone.set(t,
		"_http._tcp.svc.test. 60 IN SRV 0 10 8080 a.svc.test.",
		"_http._tcp.svc.test. 60 IN SRV 0 10 8080 b.svc.test.",
		"a.svc.test. 60 IN A 10.0.0.1",
		"b.svc.test. 60 IN A 10.0.0.2",
	)
	s.zone.fail("b.svc.test.")
	_, err := resolve(t, s.resolver(t), "_http._tcp.svc.test")
	if err == nil || errors.Is(err, ErrNoRecords) {
		t.Fatalf("got %v, want a failure rather than a partial set", err)
	}
}

func TestResolveTriesNextServer(t *testing.T) {
	bad, good := startServer(t), startServer(t)
	bad.zone.setRcode(dns.RcodeServerFailure)
	good.zone.set(t, "web.test. 60 IN A 10.0.0.7")
	r := &Resolver{servers: []string{bad.addr, good.addr}, search: fqdnOnly, timeout: testWait}
	got, err := resolve(t, r, "web.test:80")
	if want := []Backend{{"http://10.0.0.7:80", 1}}; err != nil || !slices.Equal(got, want) {
		t.Fatalf("got %v, %v; want %v", got, err, want)
	}
}

func TestResolveSearchList(t *testing.T) {
	s := startServer(t)
	s.zone.set(t,
		"web.ns.svc.test. 60 IN A 10.0.0.7",
		"_http._tcp.web.ns.svc.test. 60 IN SRV 0 10 8080 web.ns.svc.test.",
	)
	cc, err := dns.ClientConfigFromReader(strings.NewReader("nameserver 127.0.0.1\nsearch ns.svc.test svc.test\noptions ndots:5\n"))
	if err != nil {
		t.Fatal(err)
	}
	_, cc.Port, _ = strings.Cut(s.addr, ":")
	r, err := fromClientConfig(cc, testWait)
	if err != nil {
		t.Fatal(err)
	}
	for target, want := range map[string]Backend{
		"web:80":                     {"http://10.0.0.7:80", 1},
		"web.ns:80":                  {"http://10.0.0.7:80", 1},
		"web.ns.svc.test.:80":        {"http://10.0.0.7:80", 1},
		"_http._tcp.web":             {"http://10.0.0.7:8080", 10},
		"_http._tcp.web.ns.svc.test": {"http://10.0.0.7:8080", 10},
	} {
		got, err := resolve(t, r, target)
		if err != nil || !slices.Equal(got, []Backend{want}) {
			t.Errorf("%s: got %v, %v; want %v", target, got, err, want)
		}
	}
}

func TestResolveStopsWithContext(t *testing.T) {
	s := startServer(t)
	s.zone.setDrop(true)
	r, err := NewResolver(s.addr, time.Hour)
	if err != nil {
		t.Fatal(err)
	}
	tg, _ := ParseTarget("web.test:80")
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() {
		_, err := r.Resolve(ctx, tg)
		done <- err
	}()
	<-s.zone.queried
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) {
			t.Fatalf("got %v, want context.Canceled", err)
		}
	case <-time.After(testWait):
		t.Fatal("Resolve did not return after its context ended")
	}
}

func TestNewResolver(t *testing.T) {
	for _, tc := range []struct {
		server  string
		timeout time.Duration
	}{{"127.0.0.1", time.Second}, {"127.0.0.1:53", 0}} {
		if _, err := NewResolver(tc.server, tc.timeout); err == nil {
			t.Errorf("NewResolver(%q, %v) accepted", tc.server, tc.timeout)
		}
	}
	if _, err := systemResolver("/nonexistent/resolv.conf", time.Second); err == nil {
		t.Error("a missing resolv.conf was accepted")
	}
}
