// Package discovery turns a DNS name into a member set: the addresses and
// ports of the backends behind the name, with their weights. It knows
// nothing of health checks or routing, and of rings only the largest weight
// a member may have; it only answers "who is behind this name right now",
// the same way on every replica.
//
// # Names
//
// A target is written in one of two forms, optionally preceded by a scheme
// ("http://" or "https://"; without one the backends are http):
//
//   - host:port — every A and AAAA record of host is a backend at port.
//     An IP literal ("10.0.0.7:8080", "[fd00::1]:8080") is a single
//     backend and needs no DNS at all.
//   - _service._proto.name — an SRV name, for example
//     _http._tcp.soap-backend.default.svc.cluster.local. Each SRV target's
//     A and AAAA records are backends at the port of its SRV record. The
//     SRV weight becomes the backend weight, clamped to
//     1..hashring.MaxWeight (a weight of 0 counts as 1). Only the records
//     of the lowest priority present are used: the others are fallbacks
//     that peekroute does not need, since unhealthy backends are left out
//     by health checks rather than by DNS. Addresses the server supplies in
//     the additional section of the SRV answer are used as given; other
//     targets are looked up.
//
// The scheme is never inferred from the service label: "_https._tcp.x"
// still means http backends unless written "https://_https._tcp.x".
//
// # Members
//
// Resolve returns the backends sorted by address then port, without
// duplicates, each named by a URL built from address and port only
// ("http://10.0.0.7:8080", "http://[fd00::1]:8080"): lower-case scheme,
// canonical address text, explicit port, no trailing slash. Two replicas
// therefore name every backend identically whatever order DNS returns the
// records in. When the same address and port is reached through more than
// one SRV record, the largest weight wins.
//
// # Resolution
//
// Queries go to the configured server ("host:port") or, without one, to the
// name servers of /etc/resolv.conf, read once when the Resolver is made,
// whose search list and ndots option then apply to names that are not
// fully qualified. With a configured server every name is taken as fully
// qualified. Queries are sent over UDP with EDNS0 and repeated over TCP
// when the answer comes back truncated; CNAME chains in answers are
// followed. A server that times out, refuses or fails (SERVFAIL) is a
// failure; the next configured server is then tried. A name that does not
// exist (NXDOMAIN) or has no records of the kind asked for is not a
// failure but an empty answer, reported as ErrNoRecords; so is an SRV name
// none of whose targets has an address. Within an SRV answer, a target
// that does not exist is left out, but a target whose lookup fails fails
// the whole resolution: a partial set is never returned.
//
// # Watching
//
// A Watcher resolves its target every interval and reports the member set
// through OnChange when it differs from the last one reported, the first
// successful resolution included. A failed resolution keeps the last set
// and is logged. An empty answer keeps the last set too, until it has been
// seen Config.EmptyAfter times in a row: only then is the empty set
// reported. A transient DNS problem thus never empties the member set,
// while scaling the backends to zero (a Kubernetes headless service with no
// ready pods answers NXDOMAIN or nothing) does, after a short confirmation.
// Setting EmptyAfter to 0 treats empty answers as failures for ever.
package discovery
