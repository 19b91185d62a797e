package router

import (
	"fmt"
	"log/slog"

	"github.com/peekroute/peekroute/extract"
	"github.com/peekroute/peekroute/hashring"
	"github.com/peekroute/peekroute/internal/setting"
)

// MissingKeyPolicy says what happens to a request whose key is not found.
type MissingKeyPolicy uint8

const (
	// Spread forwards keyless requests anyway, spread over the healthy
	// backends in proportion to the partitions they own.
	Spread MissingKeyPolicy = iota
	// Reject answers keyless requests with 400.
	Reject
)

// ParseMissingKeyPolicy parses "spread" or "reject".
func ParseMissingKeyPolicy(s string) (MissingKeyPolicy, error) {
	switch s {
	case "spread":
		return Spread, nil
	case "reject":
		return Reject, nil
	}
	return 0, fmt.Errorf("unknown missing-key policy %q (want spread or reject)", s)
}

// Config is what a Router needs.
type Config struct {
	// Backends is every configured backend at start; SetBackends changes
	// the set later. They are all in the ring until SetHealthy says which
	// of them are healthy.
	Backends []Backend
	// Ring is the shape of the ring.
	Ring hashring.Config
	// Key lists where the key may be, in order of preference, as
	// extract.ParseSources returns it; a header or cookie source must name
	// an HTTP token.
	Key []extract.Source
	// PeekLimit is the most body bytes read while looking for the key.
	PeekLimit int
	// MissingKey is what happens when the key is not found.
	MissingKey MissingKeyPolicy
	// Logger receives one line per routing fault; nil: slog.Default().
	Logger *slog.Logger
	// OnBackendFailure, when set, hears of every failure of a backend's
	// own on a real request (passive health).
	OnBackendFailure func(backend string, err error)
	// Metrics, when set, records every request.
	Metrics *Metrics
	// AccessLog logs one line per request at level Info.
	AccessLog bool
	// LogKeys adds the raw key to access log lines; otherwise only a
	// short hash of it appears (keys are often phone numbers).
	LogKeys bool
}

// Bounds of a Config beyond what a ring can be built with: a Router holds
// a peek window per request in flight, and rebuilds its ring on every
// change of the healthy set.
const (
	// maxPeekLimit bounds Config.PeekLimit.
	maxPeekLimit = 64 << 20
	// maxLoad, maxReplication and maxPartitions bound the ring's shape.
	maxLoad        = 100
	maxReplication = 10000
	maxPartitions  = 1 << 22
	// maxRingPoints bounds the points on the ring (backends, counting
	// weights, times replication): about a second to build at this size.
	maxRingPoints = 4 << 20
)

// Validate reports the first field that is out of range, as a
// *setting.Error naming it (a field of Ring as Ring.Partitions). The ring
// must have room for every configured backend healthy at once.
func (c Config) Validate() error {
	if err := listedOnce(c.Backends); err != nil {
		return setting.Errorf("Backends", "backends", "%v", err)
	}
	if len(c.Key) == 0 {
		return setting.Errorf("Key", "key sources", "no key source")
	}
	if err := checkNames(c.Key); err != nil {
		return setting.Errorf("Key", "key sources", "%v", err)
	}
	if c.PeekLimit < 1 || c.PeekLimit > maxPeekLimit {
		return setting.Errorf("PeekLimit", "peek limit", "must be from 1 to %d bytes, got %d", maxPeekLimit, c.PeekLimit)
	}
	return c.validateRing()
}

// validateRing checks every condition under which the ring could not be
// built, or would take too long to rebuild.
func (c Config) validateRing() error {
	r := c.Ring
	units := weightUnits(c.Backends)
	switch {
	case !(r.Load > 1) || r.Load > maxLoad:
		return setting.Errorf("Ring.Load", "load factor", "must be greater than 1 (and at most %d), got %v", maxLoad, r.Load)
	case r.Replication < 1 || r.Replication > maxReplication:
		return setting.Errorf("Ring.Replication", "ring replication", "must be from 1 to %d, got %d", maxReplication, r.Replication)
	case r.Partitions < 1 || r.Partitions > maxPartitions:
		return setting.Errorf("Ring.Partitions", "ring partitions", "must be from 1 to %d, got %d", maxPartitions, r.Partitions)
	case units > r.Partitions:
		return setting.Errorf("Ring.Partitions", "ring partitions",
			"%d is fewer than the %d backends (counting weights); every backend needs a partition", r.Partitions, units)
	case units*r.Replication > maxRingPoints:
		return setting.Errorf("Ring.Replication", "ring replication",
			"%d points for each of %d backends (counting weights) is more than %d in all; a ring that size takes too long to rebuild",
			r.Replication, units, maxRingPoints)
	}
	return r.Validate(units)
}
