package discovery

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"time"

	"github.com/miekg/dns"
)

// ErrNoRecords reports a name that does not exist (NXDOMAIN) or has no
// records of the kind asked for: an answer, but an empty one.
var ErrNoRecords = errors.New("no records")

// DefaultResolvConf is where the system's name servers are read from.
const DefaultResolvConf = "/etc/resolv.conf"

// udpSize is the EDNS0 buffer size advertised in queries (DNS flag day
// 2020); larger answers come back truncated and are asked again over TCP.
const udpSize = 1232

// maxCNAMEs bounds the CNAME chain followed for one name.
const maxCNAMEs = 8

// Resolver answers DNS questions for targets. It is safe for concurrent use.
type Resolver struct {
	servers []string
	// search expands a name into the names to try, in order.
	search  func(name string) []string
	timeout time.Duration
}

// NewResolver returns a Resolver asking server ("host:port") or, when server
// is empty, the name servers of DefaultResolvConf with its search list.
// timeout bounds each single query.
func NewResolver(server string, timeout time.Duration) (*Resolver, error) {
	if timeout <= 0 {
		return nil, fmt.Errorf("dns timeout must be positive, got %v", timeout)
	}
	if server == "" {
		return systemResolver(DefaultResolvConf, timeout)
	}
	if _, _, err := net.SplitHostPort(server); err != nil {
		return nil, fmt.Errorf("dns server %q: want host:port: %w", server, err)
	}
	return &Resolver{servers: []string{server}, search: fqdnOnly, timeout: timeout}, nil
}

func systemResolver(path string, timeout time.Duration) (*Resolver, error) {
	cc, err := dns.ClientConfigFromFile(path)
	if err != nil {
		return nil, fmt.Errorf("reading name servers: %w", err)
	}
	return fromClientConfig(cc, timeout)
}

func fromClientConfig(cc *dns.ClientConfig, timeout time.Duration) (*Resolver, error) {
	if len(cc.Servers) == 0 {
		return nil, errors.New("no name servers configured")
	}
	r := &Resolver{search: cc.NameList, timeout: timeout}
	for _, s := range cc.Servers {
		r.servers = append(r.servers, net.JoinHostPort(s, cc.Port))
	}
	return r, nil
}

func fqdnOnly(name string) []string { return []string{dns.Fqdn(name)} }

// Resolve returns the backends behind t, sorted and without duplicates.
// The error wraps ErrNoRecords when the answer was empty.
func (r *Resolver) Resolve(ctx context.Context, t Target) ([]Backend, error) {
	if addr, ok := t.literal(); ok {
		return memberSet(t.Scheme, []member{{addr: addr, port: t.Port, weight: 1}}), nil
	}
	var members []member
	var err error
	if t.SRV {
		members, err = r.resolveSRV(ctx, t.Name)
	} else {
		members, err = r.resolveHost(ctx, t.Name, t.Port)
	}
	if err != nil {
		return nil, fmt.Errorf("resolving %s: %w", t, err)
	}
	if len(members) == 0 {
		return nil, fmt.Errorf("resolving %s: %w", t, ErrNoRecords)
	}
	return memberSet(t.Scheme, members), nil
}

// resolveHost tries the search names in turn and takes the first one with
// addresses.
func (r *Resolver) resolveHost(ctx context.Context, name string, port uint16) ([]member, error) {
	for _, candidate := range r.search(name) {
		addrs, err := r.lookupAddrs(ctx, candidate)
		if errors.Is(err, ErrNoRecords) {
			continue
		}
		if err != nil {
			return nil, err
		}
		members := make([]member, len(addrs))
		for i, a := range addrs {
			members[i] = member{addr: a, port: port, weight: 1}
		}
		return members, nil
	}
	return nil, nil
}

// resolveSRV tries the search names in turn and takes the first one with
// SRV records.
func (r *Resolver) resolveSRV(ctx context.Context, name string) ([]member, error) {
	for _, candidate := range r.search(name) {
		resp, records, err := r.query(ctx, candidate, dns.TypeSRV)
		if errors.Is(err, ErrNoRecords) {
			continue
		}
		if err != nil {
			return nil, err
		}
		return r.srvMembers(ctx, lowestPriority(records), resp.Extra)
	}
	return nil, nil
}

// lowestPriority keeps the usable SRV records of the lowest priority.
func lowestPriority(records []dns.RR) []*dns.SRV {
	var srvs []*dns.SRV
	for _, rr := range records {
		srv, ok := rr.(*dns.SRV)
		if !ok || srv.Target == "." || srv.Port == 0 {
			continue
		}
		if len(srvs) > 0 && srv.Priority > srvs[0].Priority {
			continue
		}
		if len(srvs) > 0 && srv.Priority < srvs[0].Priority {
			srvs = srvs[:0]
		}
		srvs = append(srvs, srv)
	}
	return srvs
}

// srvMembers finds the addresses of each SRV target: from the additional
// section when the server sent them, else by asking. A target without
// addresses contributes nothing; a failed lookup fails the whole set.
func (r *Resolver) srvMembers(ctx context.Context, srvs []*dns.SRV, extra []dns.RR) ([]member, error) {
	var members []member
	known := make(map[string][]netip.Addr)
	for _, srv := range srvs {
		target := dns.CanonicalName(srv.Target)
		addrs, ok := known[target]
		if !ok {
			var err error
			if addrs, err = r.targetAddrs(ctx, target, extra); err != nil {
				return nil, fmt.Errorf("SRV target %s: %w", target, err)
			}
			known[target] = addrs
		}
		for _, a := range addrs {
			members = append(members, member{addr: a, port: srv.Port, weight: clampWeight(srv.Weight)})
		}
	}
	return members, nil
}

func (r *Resolver) targetAddrs(ctx context.Context, target string, extra []dns.RR) ([]netip.Addr, error) {
	if glue := addrsOf(extra, target); len(glue) > 0 {
		return glue, nil
	}
	addrs, err := r.lookupAddrs(ctx, target)
	if errors.Is(err, ErrNoRecords) {
		return nil, nil
	}
	return addrs, err
}

// lookupAddrs returns the A and AAAA addresses of a fully qualified name.
func (r *Resolver) lookupAddrs(ctx context.Context, name string) ([]netip.Addr, error) {
	var addrs []netip.Addr
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		_, records, err := r.query(ctx, name, qtype)
		if errors.Is(err, ErrNoRecords) {
			continue
		}
		if err != nil {
			return nil, err
		}
		addrs = append(addrs, addrsOf(records, "")...)
	}
	if len(addrs) == 0 {
		return nil, fmt.Errorf("%s: %w", name, ErrNoRecords)
	}
	return addrs, nil
}

// addrsOf returns the addresses in the A and AAAA records of rrs, only
// those owned by owner unless owner is empty.
func addrsOf(rrs []dns.RR, owner string) []netip.Addr {
	var addrs []netip.Addr
	for _, rr := range rrs {
		if owner != "" && dns.CanonicalName(rr.Header().Name) != owner {
			continue
		}
		var ip net.IP
		switch rr := rr.(type) {
		case *dns.A:
			ip = rr.A
		case *dns.AAAA:
			ip = rr.AAAA
		}
		if addr, ok := netip.AddrFromSlice(ip); ok {
			addrs = append(addrs, addr.Unmap())
		}
	}
	return addrs
}

// query asks for the records of qtype at name, following CNAMEs: through
// the answer section first, then by asking again for the end of the chain
// when the server did not include its records. It returns the last
// response and the records of qtype found.
func (r *Resolver) query(ctx context.Context, name string, qtype uint16) (*dns.Msg, []dns.RR, error) {
	name = dns.CanonicalName(name)
	seen := map[string]bool{}
	for range maxCNAMEs {
		resp, err := r.exchange(ctx, name, qtype)
		if err != nil {
			return nil, nil, err
		}
		records, end, err := followChain(resp.Answer, name, qtype, seen)
		if err != nil || len(records) > 0 || end == name {
			if err == nil && len(records) == 0 {
				err = fmt.Errorf("%s %s: %w", name, dns.TypeToString[qtype], ErrNoRecords)
			}
			return resp, records, err
		}
		name = end
	}
	return nil, nil, fmt.Errorf("%s: CNAME chain longer than %d", name, maxCNAMEs)
}

// followChain walks the CNAME chain from name through answer and returns
// the records of qtype at its end, and the end's name.
func followChain(answer []dns.RR, name string, qtype uint16, seen map[string]bool) ([]dns.RR, string, error) {
	for {
		next := ""
		var records []dns.RR
		for _, rr := range answer {
			h := rr.Header()
			if dns.CanonicalName(h.Name) != name {
				continue
			}
			if h.Rrtype == qtype {
				records = append(records, rr)
			} else if cname, ok := rr.(*dns.CNAME); ok && qtype != dns.TypeCNAME {
				next = dns.CanonicalName(cname.Target)
			}
		}
		if len(records) > 0 || next == "" {
			return records, name, nil
		}
		if seen[name] {
			return nil, name, fmt.Errorf("%s: CNAME loop", name)
		}
		seen[name] = true
		name = next
	}
}

// exchange asks each server in turn until one answers NOERROR or NXDOMAIN.
func (r *Resolver) exchange(ctx context.Context, name string, qtype uint16) (*dns.Msg, error) {
	m := new(dns.Msg)
	m.SetQuestion(name, qtype)
	m.SetEdns0(udpSize, false)
	var errs []error
	for _, server := range r.servers {
		resp, err := r.ask(ctx, m, server)
		if err == nil {
			return resp, nil
		}
		if ctx.Err() != nil {
			return nil, ctx.Err()
		}
		errs = append(errs, err)
	}
	return nil, fmt.Errorf("%s %s: %w", strings.TrimSuffix(name, "."), dns.TypeToString[qtype], errors.Join(errs...))
}

// ask puts m to one server, over TCP when the UDP answer was truncated,
// and turns the response code into an error.
func (r *Resolver) ask(ctx context.Context, m *dns.Msg, server string) (*dns.Msg, error) {
	resp, err := r.exchangeOver(ctx, "udp", m, server)
	if err == nil && resp.Truncated {
		resp, err = r.exchangeOver(ctx, "tcp", m, server)
	}
	if err != nil {
		return nil, fmt.Errorf("server %s: %w", server, err)
	}
	switch resp.Rcode {
	case dns.RcodeSuccess:
		return resp, nil
	case dns.RcodeNameError:
		return &dns.Msg{MsgHdr: resp.MsgHdr}, nil
	default:
		return nil, fmt.Errorf("server %s answered %s", server, dns.RcodeToString[resp.Rcode])
	}
}

// exchangeOver makes one exchange over network, bounded by the query
// timeout and abandoned at once when ctx ends.
func (r *Resolver) exchangeOver(ctx context.Context, network string, m *dns.Msg, server string) (*dns.Msg, error) {
	ctx, cancel := context.WithTimeout(ctx, r.timeout)
	defer cancel()
	c := &dns.Client{Net: network, Timeout: r.timeout}
	conn, err := c.DialContext(ctx, server)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", network, err)
	}
	defer conn.Close()
	stop := context.AfterFunc(ctx, func() { conn.Close() })
	defer stop()
	resp, _, err := c.ExchangeWithConnContext(ctx, m, conn)
	if err != nil {
		return nil, fmt.Errorf("%s exchange: %w", network, err)
	}
	return resp, nil
}
