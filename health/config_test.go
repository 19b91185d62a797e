package health

import (
	"net/url"
	"strings"
	"testing"
	"time"
)

func TestConfigValidate(t *testing.T) {
	tests := []struct {
		name    string
		edit    func(*Config)
		wantErr string
	}{
		{"defaults", func(*Config) {}, ""},
		{"http path", func(c *Config) { c.Path = "/health" }, ""},
		{"path with query", func(c *Config) { c.Path = "/health?deep=1" }, ""},
		{"zero interval", func(c *Config) { c.Interval = 0 }, "interval"},
		{"negative timeout", func(c *Config) { c.Timeout = -time.Second }, "timeout"},
		{"zero rise", func(c *Config) { c.Rise = 0 }, "rise"},
		{"zero fall", func(c *Config) { c.Fall = 0 }, "fall"},
		{"relative path", func(c *Config) { c.Path = "health" }, "path"},
		{"host in path", func(c *Config) { c.Path = "//evil/health" }, "path"},
		{"fragment", func(c *Config) { c.Path = "/health#x" }, "path"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := DefaultConfig()
			tt.edit(&cfg)
			err := cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("Validate() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("Validate() = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}

func TestDefaultConfig(t *testing.T) {
	want := Config{Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3}
	if got := DefaultConfig(); got != want {
		t.Fatalf("DefaultConfig() = %+v, want %+v", got, want)
	}
}

func mustURL(t *testing.T, raw string) *url.URL {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

func TestTargetAddresses(t *testing.T) {
	tests := []struct {
		raw, path, wantHostPort, wantURL string
	}{
		{"http://b1", "/health", "b1:80", "http://b1/health"},
		{"https://b1", "/health", "b1:443", "https://b1/health"},
		{"http://b1:8080/api/", "/health?deep=1", "b1:8080", "http://b1:8080/api/health?deep=1"},
		{"https://[::1]:8443/soap", "/ping", "[::1]:8443", "https://[::1]:8443/soap/ping"},
	}
	for _, tt := range tests {
		t.Run(tt.raw, func(t *testing.T) {
			tg := Target{Name: "b", URL: mustURL(t, tt.raw)}
			if got := tg.hostPort(); got != tt.wantHostPort {
				t.Errorf("hostPort() = %q, want %q", got, tt.wantHostPort)
			}
			path, err := parsePath(tt.path)
			if err != nil {
				t.Fatal(err)
			}
			if got := tg.checkURL(path).String(); got != tt.wantURL {
				t.Errorf("checkURL() = %q, want %q", got, tt.wantURL)
			}
		})
	}
}

func TestValidateTargets(t *testing.T) {
	ok := Target{Name: "a", URL: mustURL(t, "http://a:1")}
	tests := []struct {
		name    string
		targets []Target
		wantErr string
	}{
		{"none", nil, ""},
		{"one", []Target{ok}, ""},
		{"duplicate", []Target{ok, ok}, "twice"},
		{"no name", []Target{{URL: ok.URL}}, "no name"},
		{"no url", []Target{{Name: "a"}}, "no URL"},
		{"bad scheme", []Target{{Name: "a", URL: mustURL(t, "ftp://a")}}, "scheme"},
		{"no host", []Target{{Name: "a", URL: mustURL(t, "http:///x")}}, "no host"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := validateTargets(tt.targets)
			switch {
			case tt.wantErr == "" && err != nil:
				t.Fatalf("validateTargets() = %v, want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Fatalf("validateTargets() = %v, want an error about %s", err, tt.wantErr)
			}
		})
	}
}
