package health

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"time"

	"github.com/peekroute/peekroute/internal/setting"
)

// Config says how targets are checked.
type Config struct {
	// Path, when empty, makes each check a TCP connect to the target's
	// host and port. Otherwise each check is an HTTP GET of the target's
	// base URL followed by Path (which starts with "/" and may carry a
	// query) that must answer 2xx or 3xx; redirects are not followed.
	Path string
	// Interval is the time between the starts of two checks of a target.
	Interval time.Duration
	// Timeout bounds one check.
	Timeout time.Duration
	// Rise is how many consecutive successes bring a down target up.
	Rise int
	// Fall is how many consecutive failures take an up target down.
	Fall int
}

// DefaultConfig returns TCP checks every 2s with a 1s timeout, Rise 2 and
// Fall 3.
func DefaultConfig() Config {
	return Config{Interval: 2 * time.Second, Timeout: time.Second, Rise: 2, Fall: 3}
}

// Validate reports the first field that is out of range, as a
// *setting.Error naming it.
func (c Config) Validate() error {
	switch {
	case c.Interval <= 0:
		return setting.Errorf("Interval", "health check interval", "must be positive, got %v", c.Interval)
	case c.Timeout <= 0:
		return setting.Errorf("Timeout", "health check timeout", "must be positive, got %v", c.Timeout)
	case c.Rise < 1:
		return setting.Errorf("Rise", "health check rise", "must be at least 1, got %d", c.Rise)
	case c.Fall < 1:
		return setting.Errorf("Fall", "health check fall", "must be at least 1, got %d", c.Fall)
	}
	if _, err := parsePath(c.Path); err != nil {
		return setting.Errorf("Path", "health check path", "%v", err)
	}
	return nil
}

// parsePath parses Config.Path; nil means TCP checks.
func parsePath(path string) (*url.URL, error) {
	if path == "" {
		return nil, nil
	}
	if !strings.HasPrefix(path, "/") || strings.HasPrefix(path, "//") {
		return nil, fmt.Errorf("%q must start with a single /", path)
	}
	u, err := url.Parse(path)
	if err != nil {
		return nil, err
	}
	if u.Fragment != "" {
		return nil, fmt.Errorf("%q must not have a fragment", path)
	}
	return u, nil
}

// Target is one backend to check.
type Target struct {
	// Name identifies the target in the healthy set, in Status and in
	// ReportFailure; names are unique.
	Name string
	// URL is the target's http or https base URL. TCP checks connect to
	// its host and port (80 or 443 by scheme when the port is absent).
	URL *url.URL
}

func (t Target) validate() error {
	switch {
	case t.Name == "":
		return errors.New("target has no name")
	case t.URL == nil:
		return fmt.Errorf("target %s has no URL", t.Name)
	case t.URL.Scheme != "http" && t.URL.Scheme != "https":
		return fmt.Errorf("target %s: scheme must be http or https, got %q", t.Name, t.URL.Scheme)
	case t.URL.Hostname() == "":
		return fmt.Errorf("target %s has no host", t.Name)
	}
	return nil
}

// hostPort is where a TCP check connects.
func (t Target) hostPort() string {
	port := t.URL.Port()
	if port == "" {
		port = "80"
		if t.URL.Scheme == "https" {
			port = "443"
		}
	}
	return net.JoinHostPort(t.URL.Hostname(), port)
}

// checkURL is what an HTTP check fetches: the base URL followed by path.
func (t Target) checkURL(path *url.URL) *url.URL {
	u := *t.URL
	u.Path = strings.TrimRight(u.Path, "/") + path.Path
	u.RawPath = ""
	u.RawQuery = path.RawQuery
	u.Fragment = ""
	return &u
}

func validateTargets(targets []Target) error {
	names := make([]string, len(targets))
	for i, t := range targets {
		if err := t.validate(); err != nil {
			return err
		}
		names[i] = t.Name
	}
	if _, i, dup := setting.Duplicate(names); dup {
		return fmt.Errorf("target %s is listed twice", names[i])
	}
	return nil
}
