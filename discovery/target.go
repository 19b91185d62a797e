package discovery

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/miekg/dns"
)

// Target is a parsed discovery name.
type Target struct {
	// Scheme is "http" or "https", the scheme of every backend found.
	Scheme string
	// Name is the DNS name to resolve, lower-case, as written (a trailing
	// dot marks it fully qualified). For an IP literal it is the address.
	Name string
	// Port is the backends' port in the host:port form, 0 for an SRV name.
	Port uint16
	// SRV tells whether Name is an SRV name (_service._proto.name).
	SRV bool
}

// ParseTarget parses "[scheme://]host:port" or "[scheme://]_service._proto.name".
func ParseTarget(s string) (Target, error) {
	t, err := parseTarget(strings.TrimSpace(s))
	if err != nil {
		return Target{}, fmt.Errorf("discovery target %q: %w", s, err)
	}
	return t, nil
}

func parseTarget(s string) (Target, error) {
	t := Target{Scheme: "http"}
	if scheme, rest, ok := strings.Cut(s, "://"); ok {
		t.Scheme, s = strings.ToLower(scheme), rest
		if t.Scheme != "http" && t.Scheme != "https" {
			return Target{}, fmt.Errorf("scheme must be http or https, got %q", scheme)
		}
	}
	if strings.ContainsAny(s, "/?#@") {
		return Target{}, errors.New("only a host and port or an SRV name are allowed, without path or query")
	}
	if isSRVName(s) {
		return parseSRVName(t, s)
	}
	return parseHostPort(t, s)
}

// isSRVName reports whether s has the shape _service._proto.name.
func isSRVName(s string) bool {
	labels := dns.SplitDomainName(s)
	return len(labels) >= 3 && strings.HasPrefix(labels[0], "_") && strings.HasPrefix(labels[1], "_")
}

func parseSRVName(t Target, s string) (Target, error) {
	if strings.Contains(s, ":") {
		return Target{}, errors.New("an SRV name takes no port: the SRV records carry it")
	}
	if !validName(s) {
		return Target{}, errors.New("not a valid DNS name")
	}
	t.Name, t.SRV = strings.ToLower(s), true
	return t, nil
}

func parseHostPort(t Target, s string) (Target, error) {
	host, port, err := net.SplitHostPort(s)
	if err != nil {
		return Target{}, errors.New("want host:port or an SRV name _service._proto.name")
	}
	n, err := strconv.ParseUint(port, 10, 16)
	if err != nil || n == 0 {
		return Target{}, fmt.Errorf("port %q is not a number from 1 to 65535", port)
	}
	t.Port = uint16(n)
	if addr, err := netip.ParseAddr(host); err == nil {
		if addr.Zone() != "" {
			return Target{}, errors.New("addresses with a zone are not supported")
		}
		t.Name = addr.Unmap().String()
		return t, nil
	}
	if !validName(host) {
		return Target{}, fmt.Errorf("host %q is neither an IP address nor a DNS name", host)
	}
	t.Name = strings.ToLower(host)
	return t, nil
}

// validName accepts host names: dot-separated labels of letters, digits,
// hyphens and underscores, with an optional trailing dot.
func validName(s string) bool {
	if _, ok := dns.IsDomainName(s); !ok || s == "" || s == "." {
		return false
	}
	for _, label := range dns.SplitDomainName(s) {
		if label == "" || strings.IndexFunc(label, notNameRune) >= 0 {
			return false
		}
	}
	return true
}

func notNameRune(r rune) bool {
	return !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-' || r == '_')
}

// literal returns the target's address when it is an IP literal.
func (t Target) literal() (netip.Addr, bool) {
	if t.SRV {
		return netip.Addr{}, false
	}
	addr, err := netip.ParseAddr(t.Name)
	return addr, err == nil
}

// String returns the target in the form ParseTarget reads.
func (t Target) String() string {
	if t.SRV {
		return t.Scheme + "://" + t.Name
	}
	return t.Scheme + "://" + net.JoinHostPort(t.Name, strconv.Itoa(int(t.Port)))
}
