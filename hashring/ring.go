// Package hashring maps keys onto a set of members with consistent hashing
// and bounded loads.
//
// A Ring is an immutable snapshot built from a member set: keys hash (xxhash)
// onto a fixed number of partitions, and the partitions are spread over the
// members by github.com/buraksezer/consistent, which caps any member at Load
// times the mean number of partitions. The result is a pure function of the
// member set and the Config: the same set, given in any order, on any number
// of processes, sends every key to the same member. Membership changes build a
// new Ring; callers swap snapshots atomically, so a lookup never takes a lock.
//
// hashring must never know about HTTP, health or where members live: members
// are opaque names, and the caller maps them to whatever they stand for.
package hashring

import (
	"errors"
	"fmt"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// Config is the shape of a ring.
type Config struct {
	// Partitions is how many slots keys hash onto. Membership changes move
	// whole partitions, so more partitions spread load more evenly.
	Partitions int
	// Replication is how many points each member (each unit of weight)
	// has on the ring that partitions are assigned from.
	Replication int
	// Load bounds a member's partitions at Load times the mean (per unit
	// of weight); it must be greater than 1.
	Load float64
}

// Member is one entry of a member set.
type Member struct {
	// Name identifies the member; it is what the ring hashes, so every
	// process that must agree has to use the same name for it.
	Name string
	// Weight scales the member's share of partitions; 0 means 1.
	Weight int
}

// MaxWeight is the largest weight a member may have.
const MaxWeight = 100

// weightSep joins a member name to the index of one unit of its weight. It
// cannot occur in a member name.
const weightSep = "\x00"

// Validate reports whether cfg can build a ring of members units of weight
// (the sum of the members' weights) without the library panicking.
func (cfg Config) Validate(units int) error {
	switch {
	case cfg.Partitions <= 0:
		return fmt.Errorf("partitions must be positive, got %d", cfg.Partitions)
	case cfg.Replication <= 0:
		return fmt.Errorf("replication must be positive, got %d", cfg.Replication)
	case !(cfg.Load > 1):
		return fmt.Errorf("load factor must be greater than 1, got %v", cfg.Load)
	case units > cfg.Partitions:
		return fmt.Errorf("%d members (counting weight) exceed %d partitions", units, cfg.Partitions)
	}
	return nil
}

// Ring is an immutable assignment of partitions to members. Its methods are
// safe for concurrent use.
type Ring struct {
	cfg     Config
	members []Member // sorted by name, weights normalized
	owner   []int32  // partition -> index into members
	owned   []int    // member index -> partitions owned

	// without[i] is the ring with members[i] removed, built on first use.
	without []lazyRing
}

type lazyRing struct {
	once sync.Once
	ring *Ring
}

// New builds a ring of members. The order of members does not matter; names
// must be unique, non-empty and free of NUL bytes.
func New(members []Member, cfg Config) (*Ring, error) {
	sorted, units, err := normalize(members)
	if err != nil {
		return nil, err
	}
	if err := cfg.Validate(units); err != nil {
		return nil, err
	}
	r := &Ring{
		cfg:     cfg,
		members: sorted,
		owner:   make([]int32, cfg.Partitions),
		owned:   make([]int, len(sorted)),
		without: make([]lazyRing, len(sorted)),
	}
	if len(sorted) == 0 {
		for p := range r.owner {
			r.owner[p] = -1
		}
		return r, nil
	}
	r.assign(units)
	return r, nil
}

// normalize copies members sorted by name with weights defaulted, and
// returns the total weight.
func normalize(members []Member) ([]Member, int, error) {
	sorted := slices.Clone(members)
	units := 0
	for i := range sorted {
		m := &sorted[i]
		switch {
		case m.Name == "":
			return nil, 0, errors.New("empty member name")
		case strings.Contains(m.Name, weightSep):
			return nil, 0, fmt.Errorf("member name %q contains a NUL byte", m.Name)
		case m.Weight < 0 || m.Weight > MaxWeight:
			return nil, 0, fmt.Errorf("member %q: weight %d is outside 1..%d", m.Name, m.Weight, MaxWeight)
		case m.Weight == 0:
			m.Weight = 1
		}
		units += m.Weight
	}
	slices.SortFunc(sorted, func(a, b Member) int { return strings.Compare(a.Name, b.Name) })
	for i := 1; i < len(sorted); i++ {
		if sorted[i].Name == sorted[i-1].Name {
			return nil, 0, fmt.Errorf("duplicate member %q", sorted[i].Name)
		}
	}
	return sorted, units, nil
}

// unit is one unit of a member's weight on the consistent ring.
type unit struct {
	name   string
	member int32
}

func (u unit) String() string { return u.name }

type hasher struct{}

func (hasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// assign lets the library spread the partitions over the members' units and
// records the result in the owner table. Units are added in sorted order, so
// even a (vanishingly rare) hash collision between two units resolves the
// same way on every process.
func (r *Ring) assign(units int) {
	all := make([]consistent.Member, 0, units)
	for i, m := range r.members {
		for w := 0; w < m.Weight; w++ {
			name := m.Name
			if w > 0 {
				name += weightSep + strconv.Itoa(w)
			}
			all = append(all, unit{name: name, member: int32(i)})
		}
	}
	c := consistent.New(all, consistent.Config{
		Hasher:            hasher{},
		PartitionCount:    r.cfg.Partitions,
		ReplicationFactor: r.cfg.Replication,
		Load:              r.cfg.Load,
	})
	for p := range r.owner {
		i := c.GetPartitionOwner(p).(unit).member
		r.owner[p] = i
		r.owned[i]++
	}
}

// Config returns the shape the ring was built with.
func (r *Ring) Config() Config { return r.cfg }

// Len returns the number of members.
func (r *Ring) Len() int { return len(r.members) }

// Member returns member i, in name order.
func (r *Ring) Member(i int) Member { return r.members[i] }

// Index returns the index of the member called name, or -1.
func (r *Ring) Index(name string) int {
	i, ok := slices.BinarySearchFunc(r.members, name, func(m Member, name string) int {
		return strings.Compare(m.Name, name)
	})
	if !ok {
		return -1
	}
	return i
}

// Partition returns the partition key hashes to.
func (r *Ring) Partition(key []byte) int {
	return int(xxhash.Sum64(key) % uint64(len(r.owner)))
}

// Owner returns the index of the member owning partition p, or -1 when the
// ring is empty.
func (r *Ring) Owner(p int) int { return int(r.owner[p]) }

// Locate returns the index of the member that owns key, or -1 when the ring
// is empty.
func (r *Ring) Locate(key []byte) int { return r.Owner(r.Partition(key)) }

// Owned returns how many partitions member i owns.
func (r *Ring) Owned(i int) int { return r.owned[i] }

// LoadBound returns the most partitions one unit of weight may own.
func (r *Ring) LoadBound() int {
	units := 0
	for _, m := range r.members {
		units += m.Weight
	}
	if units == 0 {
		return 0
	}
	// The same expression the library applies.
	return int(math.Ceil(float64(r.cfg.Partitions) / float64(units) * r.cfg.Load))
}

// Without returns the ring built from every member but member i: where the
// keys of member i would go if it left. It is built once, on first use.
func (r *Ring) Without(i int) *Ring {
	l := &r.without[i]
	l.once.Do(func() {
		rest := slices.Delete(slices.Clone(r.members), i, i+1)
		ring, err := New(rest, r.cfg)
		if err != nil {
			// Fewer members than a valid ring cannot be invalid.
			panic(fmt.Sprintf("hashring: rebuilding without %q: %v", r.members[i].Name, err))
		}
		l.ring = ring
	})
	return l.ring
}
