package router

import (
	"fmt"
	"slices"

	"github.com/peekroute/peekroute/hashring"
)

// table is one consistent view of membership: the configured backends,
// which of them the health checker reports healthy, and the ring built from
// those. It is immutable; writers build a new one and swap it in, so a
// request reads one table and never waits on a lock.
type table struct {
	backends []Backend           // configured, in the order given
	byName   map[string]*Backend // configured, by name
	healthy  []string            // as last reported; may name removed backends
	ring     *hashring.Ring
	members  []*Backend // the ring's members, in ring order
}

func (t *table) names() []string {
	names := make([]string, len(t.backends))
	for i, b := range t.backends {
		names[i] = b.Name
	}
	return names
}

// SetBackends replaces the configured backends (after a DNS change, say).
// Backends that stay keep their health; new ones join the ring once
// SetHealthy reports them healthy; removed ones leave it at once. New
// backends' metric series start at zero and removed ones' are deleted. An
// invalid set changes nothing.
func (rt *Router) SetBackends(backends []Backend) error {
	if err := listedOnce(backends); err != nil {
		return err
	}
	// Every backend may be healthy at once: the ring must have room.
	if err := rt.cfg.Ring.Validate(weightUnits(backends)); err != nil {
		return fmt.Errorf("backends do not fit the ring: %w", err)
	}
	backends = slices.Clone(backends)
	byName := make(map[string]*Backend, len(backends))
	for i := range backends {
		byName[backends[i].Name] = &backends[i]
	}
	rt.update.Lock()
	defer rt.update.Unlock()
	var healthy []string
	if old := rt.table.Load(); old != nil {
		healthy = old.healthy
	}
	if err := rt.swap(backends, byName, healthy); err != nil {
		return err
	}
	rt.cfg.Metrics.setBackends(backends)
	return nil
}

// SetHealthy rebuilds the ring from the named backends and swaps it in.
// Names that are not configured (a backend removed meanwhile) are ignored.
// Requests already routed finish where they are; new ones see the new ring.
func (rt *Router) SetHealthy(names []string) error {
	rt.update.Lock()
	defer rt.update.Unlock()
	old := rt.table.Load()
	return rt.swap(old.backends, old.byName, slices.Clone(names))
}

// swap builds the table for backends and healthy and makes it current.
// The caller holds rt.update.
func (rt *Router) swap(backends []Backend, byName map[string]*Backend, healthy []string) error {
	members := make([]hashring.Member, 0, len(healthy))
	for _, name := range healthy {
		if b, ok := byName[name]; ok {
			members = append(members, hashring.Member{Name: b.Name, Weight: b.Weight})
		}
	}
	ring, err := hashring.New(members, rt.cfg.Ring)
	if err != nil {
		return fmt.Errorf("building ring: %w", err)
	}
	t := &table{backends: backends, byName: byName, healthy: healthy, ring: ring, members: make([]*Backend, ring.Len())}
	for i := range t.members {
		t.members[i] = byName[ring.Member(i).Name]
	}
	rt.table.Store(t)
	return nil
}

// Healthy returns the names of the backends in the current ring.
func (rt *Router) Healthy() []string {
	t := rt.table.Load()
	names := make([]string, len(t.members))
	for i, b := range t.members {
		names[i] = b.Name
	}
	return names
}

// Backends returns every configured backend.
func (rt *Router) Backends() []Backend { return slices.Clone(rt.table.Load().backends) }

// Ring returns the current ring snapshot of healthy backends.
func (rt *Router) Ring() *hashring.Ring { return rt.table.Load().ring }

// Owner returns the partition of key and the backend that owns it under the
// current ring; ok is false when no backend is healthy. It is the answer
// Route gives a request with that key.
func (rt *Router) Owner(key []byte) (partition int, backend Backend, ok bool) {
	t := rt.table.Load()
	partition = t.ring.Partition(key)
	i := t.ring.Owner(partition)
	if i < 0 {
		return partition, Backend{}, false
	}
	return partition, *t.members[i], true
}
