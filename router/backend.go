package router

import (
	"fmt"
	"net"
	"net/url"
	"strconv"
	"strings"

	"github.com/peekroute/peekroute/engine"
	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/internal/setting"
)

// Backend is one upstream service instance.
type Backend struct {
	// Name is the backend's normalized URL: lower-case scheme and host,
	// explicit port, no trailing slash. It is the backend's name on the
	// ring, so equivalent spellings route identically on every replica.
	Name string
	// URL is the parsed, normalized base URL requests are forwarded to.
	URL *url.URL
	// Weight scales the backend's share of keys (1..hashring.MaxWeight).
	Weight int

	target *engine.Target // how the engine reaches it
}

// Target returns the backend as the engine dials it.
func (b *Backend) Target() *engine.Target { return b.target }

func newTarget(u *url.URL, weight int) *engine.Target {
	return &engine.Target{
		Weight:     weight,
		Name:       u.String(),
		Addr:       u.Host,
		TLS:        u.Scheme == "https",
		ServerName: u.Hostname(),
		PathPrefix: u.EscapedPath(),
	}
}

// ParseBackend parses one backend entry: an http:// or https:// base URL,
// optionally followed by ";weight=N".
func ParseBackend(entry string) (Backend, error) {
	raw, params, _ := strings.Cut(strings.TrimSpace(entry), ";")
	weight, err := parseWeight(params)
	if err != nil {
		return Backend{}, fmt.Errorf("backend %q: %w", entry, err)
	}
	b, err := NewBackend(raw, weight)
	if err != nil {
		return Backend{}, fmt.Errorf("backend %q: %w", entry, err)
	}
	return b, nil
}

// NewBackend returns the backend at an http:// or https:// base URL, with
// weight from 1 to hashring.MaxWeight; ParseBackend and discovered
// backends both come through here.
func NewBackend(rawURL string, weight int) (Backend, error) {
	if weight < 1 || weight > hashring.MaxWeight {
		return Backend{}, fmt.Errorf("weight %d is not from 1 to %d", weight, hashring.MaxWeight)
	}
	u, err := normalizeURL(rawURL)
	if err != nil {
		return Backend{}, err
	}
	return Backend{Name: u.String(), URL: u, Weight: weight, target: newTarget(u, weight)}, nil
}

// ParseBackends parses a list of backend entries, each as ParseBackend
// does, and refuses two entries that name the same backend, however they
// spell it.
func ParseBackends(entries []string) ([]Backend, error) {
	backends := make([]Backend, len(entries))
	names := make([]string, len(entries))
	for i, entry := range entries {
		b, err := ParseBackend(entry)
		if err != nil {
			return nil, err
		}
		backends[i], names[i] = b, b.Name
	}
	if i, j, dup := setting.Duplicate(names); dup {
		return nil, fmt.Errorf("%q and %q are the same backend %s", strings.TrimSpace(entries[i]), strings.TrimSpace(entries[j]), names[i])
	}
	return backends, nil
}

// listedOnce refuses a set of backends that lists one twice.
func listedOnce(backends []Backend) error {
	names := make([]string, len(backends))
	for i, b := range backends {
		names[i] = b.Name
	}
	if _, i, dup := setting.Duplicate(names); dup {
		return fmt.Errorf("backend %s is listed twice", names[i])
	}
	return nil
}

// weightUnits is how many units of weight backends have in all: the
// members of a ring where every one of them is healthy.
func weightUnits(backends []Backend) int {
	units := 0
	for _, b := range backends {
		units += max(b.Weight, 1)
	}
	return units
}

func parseWeight(params string) (int, error) {
	if params == "" {
		return 1, nil
	}
	name, value, _ := strings.Cut(strings.TrimSpace(params), "=")
	if name != "weight" {
		return 0, fmt.Errorf("unknown parameter %q (only weight=N)", name)
	}
	w, err := strconv.Atoi(value)
	if err != nil || w < 1 || w > hashring.MaxWeight {
		return 0, fmt.Errorf("weight %q is not a whole number from 1 to %d", value, hashring.MaxWeight)
	}
	return w, nil
}

func normalizeURL(raw string) (*url.URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return nil, err
	}
	u.Scheme = strings.ToLower(u.Scheme)
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("scheme must be http or https, got %q", u.Scheme)
	}
	if u.Host == "" || u.Hostname() == "" {
		return nil, fmt.Errorf("no host")
	}
	if u.User != nil || u.RawQuery != "" || u.Fragment != "" || u.Opaque != "" {
		return nil, fmt.Errorf("only scheme, host, port and path are allowed")
	}
	port := u.Port()
	if port == "" {
		port = map[string]string{"http": "80", "https": "443"}[u.Scheme]
	} else if n, err := strconv.Atoi(port); err != nil || n < 1 || n > 65535 {
		return nil, fmt.Errorf("port %q is out of range", port)
	}
	u.Host = net.JoinHostPort(strings.ToLower(u.Hostname()), port)
	u.Path = strings.TrimRight(u.Path, "/")
	u.RawPath = ""
	return u, nil
}
