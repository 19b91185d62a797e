package discovery

import (
	"cmp"
	"net"
	"net/netip"
	"slices"
	"strconv"

	"github.com/peekroute/peekroute/hashring"
)

// Backend is one member of the set behind a name.
type Backend struct {
	// URL names the backend by scheme, address and port, normalized:
	// "http://10.0.0.7:8080", "https://[fd00::1]:8443".
	URL string
	// Weight is the backend's relative share, 1..hashring.MaxWeight.
	Weight int
}

// member is a backend before it is named, kept to sort by address.
type member struct {
	addr   netip.Addr
	port   uint16
	weight int
}

// clampWeight maps an SRV weight onto the weights a ring member may have,
// 1..hashring.MaxWeight.
func clampWeight(w uint16) int {
	return min(max(int(w), 1), hashring.MaxWeight)
}

// memberSet sorts members by address then port, merges duplicates keeping
// the largest weight, and names them.
func memberSet(scheme string, members []member) []Backend {
	slices.SortFunc(members, func(a, b member) int {
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		return cmp.Compare(a.port, b.port)
	})
	out := make([]Backend, 0, len(members))
	for i, m := range members {
		if i > 0 && m.addr == members[i-1].addr && m.port == members[i-1].port {
			last := &out[len(out)-1]
			last.Weight = max(last.Weight, m.weight)
			continue
		}
		out = append(out, Backend{URL: backendURL(scheme, m.addr, m.port), Weight: m.weight})
	}
	return out
}

func backendURL(scheme string, addr netip.Addr, port uint16) string {
	return scheme + "://" + net.JoinHostPort(addr.String(), strconv.Itoa(int(port)))
}
