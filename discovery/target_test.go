package discovery

import "testing"

func TestParseTarget(t *testing.T) {
	tests := []struct {
		in   string
		want Target
	}{
		{"soap-backend.default.svc.cluster.local:8080", Target{"http", "soap-backend.default.svc.cluster.local", 8080, false}},
		{" Web.Test.:80 ", Target{"http", "web.test.", 80, false}},
		{"HTTPS://web:8443", Target{"https", "web", 8443, false}},
		{"10.0.0.7:8080", Target{"http", "10.0.0.7", 8080, false}},
		{"[FD00::1]:8080", Target{"http", "fd00::1", 8080, false}},
		{"[::ffff:10.0.0.1]:80", Target{"http", "10.0.0.1", 80, false}},
		{"_http._tcp.soap-backend.default.svc.cluster.local", Target{"http", "_http._tcp.soap-backend.default.svc.cluster.local", 0, true}},
		{"https://_HTTPS._tcp.web.", Target{"https", "_https._tcp.web.", 0, true}},
	}
	for _, tc := range tests {
		got, err := ParseTarget(tc.in)
		if err != nil || got != tc.want {
			t.Errorf("ParseTarget(%q) = %+v, %v; want %+v", tc.in, got, err, tc.want)
		}
	}
}

func TestParseTargetRejects(t *testing.T) {
	for _, in := range []string{
		"",
		"web.test",
		"web.test:0",
		"web.test:65536",
		"web.test:http",
		"ftp://web.test:21",
		"http://web.test:80/path",
		"http://user@web.test:80",
		"_http._tcp.web.test:8080",
		"fd00::1",
		"[fe80::1%eth0]:80",
		":80",
		"bad name:80",
		"_http.web.test",
	} {
		if got, err := ParseTarget(in); err == nil {
			t.Errorf("ParseTarget(%q) = %+v, want an error", in, got)
		}
	}
}

func TestTargetString(t *testing.T) {
	for in, want := range map[string]string{
		"web:80":             "http://web:80",
		"[fd00::1]:80":       "http://[fd00::1]:80",
		"https://_h._tcp.x.": "https://_h._tcp.x.",
	} {
		tg, err := ParseTarget(in)
		if err != nil || tg.String() != want {
			t.Errorf("ParseTarget(%q).String() = %q, %v; want %q", in, tg.String(), err, want)
		}
	}
}
