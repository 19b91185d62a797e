package hashring

import (
	"cmp"
	"fmt"
	"math"
	"math/rand/v2"
	"slices"
	"strconv"
	"sync"
	"testing"

	"github.com/buraksezer/consistent"
	"github.com/cespare/xxhash/v2"
)

// memberNames returns n backend names in the router's normalized URL form.
func memberNames(n int) []string {
	names := make([]string, n)
	for i := range names {
		names[i] = fmt.Sprintf("http://10.0.%d.%d:8080", i/250, i%250+1)
	}
	return names
}

func equalMembers(n int) []Member {
	ms := make([]Member, n)
	for i, name := range memberNames(n) {
		ms[i] = Member{Name: name}
	}
	return ms
}

// testKeys returns n distinct keys of 16 characters, like session ids.
func testKeys(n int, seed uint64) [][]byte {
	const alphabet = "0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"
	rng := rand.New(rand.NewPCG(seed, 0x9e3779b97f4a7c15))
	buf := make([]byte, 16*n)
	keys := make([][]byte, n)
	for i := range keys {
		k := buf[16*i : 16*i+16 : 16*i+16]
		for half := 0; half < 16; half += 8 {
			// 8 characters from 48 random bits, 6 bits each.
			bits := rng.Uint64()
			for j := range 8 {
				k[half+j] = alphabet[bits&63%uint64(len(alphabet))]
				bits >>= 6
			}
		}
		keys[i] = k
	}
	return keys
}

func mustNew(t testing.TB, members []Member, cfg Config) *Ring {
	t.Helper()
	r, err := New(members, cfg)
	if err != nil {
		t.Fatalf("New(%d members, %+v): %v", len(members), cfg, err)
	}
	return r
}

// ownerNames returns the owner table by member name.
func ownerNames(r *Ring) []string {
	out := make([]string, r.Config().Partitions)
	for p := range out {
		if o := r.Owner(p); o >= 0 {
			out[p] = r.Member(o).Name
		}
	}
	return out
}

// diffOwners fails t at the first partition whose owner differs.
func diffOwners(t *testing.T, what string, got, want *Ring) {
	t.Helper()
	g, w := ownerNames(got), ownerNames(want)
	if len(g) != len(w) {
		t.Fatalf("%s: %d partitions, want %d", what, len(g), len(w))
	}
	for p := range g {
		if g[p] != w[p] {
			t.Fatalf("%s: partition %d owned by %q, want %q", what, p, g[p], w[p])
		}
	}
}

type libUnit string

func (u libUnit) String() string { return string(u) }

type libHasher struct{}

func (libHasher) Sum64(b []byte) uint64 { return xxhash.Sum64(b) }

// libraryOwners builds the ring with github.com/buraksezer/consistent and
// returns its owner table by member name.
func libraryOwners(members []Member, cfg Config) []string {
	sorted, _, err := normalize(members)
	if err != nil {
		panic(err)
	}
	var units []consistent.Member
	unitOf := map[string]string{}
	for _, m := range sorted {
		for w := 0; w < m.Weight; w++ {
			name := m.Name
			if w > 0 {
				name += weightSep + strconv.Itoa(w)
			}
			units = append(units, libUnit(name))
			unitOf[name] = m.Name
		}
	}
	c := consistent.New(units, consistent.Config{
		Hasher:            libHasher{},
		PartitionCount:    cfg.Partitions,
		ReplicationFactor: cfg.Replication,
		Load:              cfg.Load,
	})
	out := make([]string, cfg.Partitions)
	for p := range out {
		out[p] = unitOf[c.GetPartitionOwner(p).String()]
	}
	return out
}

func weighted(weights ...int) []Member {
	ms := equalMembers(len(weights))
	for i, w := range weights {
		ms[i].Weight = w
	}
	return ms
}

func TestMatchesLibrary(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		cfg     Config
	}{
		{"one member", equalMembers(1), Config{271, 20, 1.25}},
		{"three, library defaults", equalMembers(3), Config{271, 20, 1.25}},
		{"ten, tight bound", equalMembers(10), Config{1021, 7, 1.01}},
		{"one point each", equalMembers(5), Config{509, 1, 1.2}},
		{"as many units as partitions", equalMembers(13), Config{13, 3, 1.0001}},
		{"weighted", weighted(1, 2, 3, 5, 0), Config{4099, 50, 1.1}},
		{"heavy weight", weighted(1, 40), Config{2003, 10, 1.05}},
		{"thirty, default shape", equalMembers(30), DefaultConfig()},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tc.members, tc.cfg)
			got, want := ownerNames(r), libraryOwners(tc.members, tc.cfg)
			for p := range want {
				if got[p] != want[p] {
					t.Fatalf("partition %d: owner %q, library says %q", p, got[p], want[p])
				}
			}
		})
	}
}

func TestOrderDoesNotMatter(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
	}{
		{"equal", equalMembers(12)},
		{"weighted", weighted(1, 2, 3, 5, 1, 4, 0, 2)},
	}
	keys := testKeys(20000, 1)
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			ref := mustNew(t, tc.members, DefaultConfig())
			refLoc := make([]string, len(keys))
			for k, key := range keys {
				refLoc[k] = ref.Member(ref.Locate(key)).Name
			}
			rng := rand.New(rand.NewPCG(2, 3))
			for order := range 10 {
				shuffled := slices.Clone(tc.members)
				rng.Shuffle(len(shuffled), func(i, j int) { shuffled[i], shuffled[j] = shuffled[j], shuffled[i] })
				r := mustNew(t, shuffled, DefaultConfig())
				diffOwners(t, fmt.Sprintf("order %d", order), r, ref)
				for k, key := range keys {
					if got := r.Member(r.Locate(key)).Name; got != refLoc[k] {
						t.Fatalf("order %d: key %q goes to %q, want %q", order, key, got, refLoc[k])
					}
				}
				for i := range r.Len() {
					if r.Member(i) != ref.Member(i) || r.Owned(i) != ref.Owned(i) {
						t.Fatalf("order %d: member %d is %+v owning %d, want %+v owning %d",
							order, i, r.Member(i), r.Owned(i), ref.Member(i), ref.Owned(i))
					}
				}
			}
		})
	}
}

func TestEveryMemberUsed(t *testing.T) {
	keys := testKeys(100000, 4)
	for _, n := range []int{1, 2, 3, 5, 10, 20, 50, 100} {
		t.Run(strconv.Itoa(n), func(t *testing.T) {
			r := mustNew(t, equalMembers(n), DefaultConfig())
			got := make([]int, n)
			for _, key := range keys {
				got[r.Locate(key)]++
			}
			total := 0
			for i := range n {
				total += r.Owned(i)
				if r.Owned(i) == 0 || got[i] == 0 {
					t.Errorf("member %s owns %d partitions and gets %d keys", r.Member(i).Name, r.Owned(i), got[i])
				}
				if r.Owned(i) > r.LoadBound() {
					t.Errorf("member %s owns %d partitions, over the bound %d", r.Member(i).Name, r.Owned(i), r.LoadBound())
				}
			}
			if total != r.Config().Partitions {
				t.Errorf("members own %d partitions in all, want %d", total, r.Config().Partitions)
			}
		})
	}
}

func TestValidate(t *testing.T) {
	ok := Config{Partitions: 271, Replication: 20, Load: 1.25}
	with := func(f func(*Config)) Config { c := ok; f(&c); return c }
	tests := []struct {
		name  string
		cfg   Config
		units int
		valid bool
	}{
		{"ok", ok, 3, true},
		{"no members", ok, 0, true},
		{"as many units as partitions", ok, 271, true},
		{"load just over 1", with(func(c *Config) { c.Load = math.Nextafter(1, 2) }), 3, true},
		{"default", DefaultConfig(), 100 * MaxWeight, true},
		{"zero partitions", with(func(c *Config) { c.Partitions = 0 }), 3, false},
		{"negative partitions", with(func(c *Config) { c.Partitions = -1 }), 3, false},
		{"zero replication", with(func(c *Config) { c.Replication = 0 }), 3, false},
		{"negative replication", with(func(c *Config) { c.Replication = -5 }), 3, false},
		{"load 1", with(func(c *Config) { c.Load = 1 }), 3, false},
		{"load below 1", with(func(c *Config) { c.Load = 0.5 }), 3, false},
		{"zero load", with(func(c *Config) { c.Load = 0 }), 3, false},
		{"negative load", with(func(c *Config) { c.Load = -1.25 }), 3, false},
		{"NaN load", with(func(c *Config) { c.Load = math.NaN() }), 3, false},
		{"infinite load", with(func(c *Config) { c.Load = math.Inf(1) }), 3, false},
		{"more units than partitions", ok, 272, false},
		{"negative units", ok, -1, false},
		{"most points", Config{Partitions: 1 << 20, Replication: math.MaxInt32 / 1000, Load: 1.1}, 1000, true},
		{"too many points", Config{Partitions: 1 << 20, Replication: math.MaxInt32/1000 + 1, Load: 1.1}, 1000, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			err := tc.cfg.Validate(tc.units)
			if (err == nil) != tc.valid {
				t.Fatalf("Validate(%d) of %+v = %v, want valid %v", tc.units, tc.cfg, err, tc.valid)
			}
			if tc.units < 0 || tc.units > 300 {
				return // building 10000 members is for the benchmarks
			}
			// New must agree with Validate, and never panic.
			r, err := New(equalMembers(tc.units), tc.cfg)
			if (err == nil) != tc.valid {
				t.Fatalf("New(%d members) of %+v = %v, want valid %v", tc.units, tc.cfg, err, tc.valid)
			}
			if err == nil && r.Len() != tc.units {
				t.Fatalf("ring has %d members, want %d", r.Len(), tc.units)
			}
		})
	}
}

// TestLibraryFailsWhereValidateRejects shows why Validate rejects what it
// does: given those shapes the library panics, or quietly builds a ring of
// another shape, or leaves members without partitions.
func TestLibraryFailsWhereValidateRejects(t *testing.T) {
	build := func(n int, cfg Config) (owners []string, panicked bool) {
		defer func() {
			if recover() != nil {
				panicked = true
			}
		}()
		members := make([]consistent.Member, n)
		for i, name := range memberNames(n) {
			members[i] = libUnit(name)
		}
		c := consistent.New(members, consistent.Config{
			Hasher: libHasher{}, PartitionCount: cfg.Partitions, ReplicationFactor: cfg.Replication, Load: cfg.Load,
		})
		for p := 0; ; p++ {
			m := c.GetPartitionOwner(p)
			if m == nil {
				break
			}
			owners = append(owners, m.String())
		}
		return owners, false
	}
	tests := []struct {
		name string
		n    int
		cfg  Config
	}{
		{"NaN load", 3, Config{271, 20, math.NaN()}},
		{"load below 1", 50, Config{271, 20, 0.5}},
		{"negative load", 3, Config{271, 20, -1}},
		{"zero load", 3, Config{271, 20, 0}},
		{"negative replication", 3, Config{271, -1, 1.25}},
		{"zero replication", 3, Config{271, 0, 1.25}},
		{"zero partitions", 3, Config{0, 20, 1.25}},
		{"more members than partitions", 20, Config{11, 20, 1.25}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if err := tc.cfg.Validate(tc.n); err == nil {
				t.Fatalf("Validate accepts %+v for %d members", tc.cfg, tc.n)
			}
			owners, panicked := build(tc.n, tc.cfg)
			if panicked {
				return
			}
			used := map[string]bool{}
			for _, o := range owners {
				used[o] = true
			}
			cfgReplaced := tc.cfg.Partitions != len(owners) || tc.cfg.Replication == 0 || tc.cfg.Load == 0
			if !cfgReplaced && len(used) == tc.n {
				t.Fatalf("library builds a sound ring from %+v", tc.cfg)
			}
		})
	}
}

func TestNewRejectsMembers(t *testing.T) {
	cfg := Config{Partitions: 271, Replication: 20, Load: 1.25}
	tests := []struct {
		name    string
		members []Member
		valid   bool
	}{
		{"ok", []Member{{Name: "a"}, {Name: "b", Weight: 3}}, true},
		{"weight 0 is 1", []Member{{Name: "a", Weight: 0}}, true},
		{"max weight", []Member{{Name: "a", Weight: MaxWeight}}, true},
		{"duplicate", []Member{{Name: "a"}, {Name: "b"}, {Name: "a", Weight: 2}}, false},
		{"empty name", []Member{{Name: "a"}, {Name: ""}}, false},
		{"NUL in name", []Member{{Name: "a\x00b"}}, false},
		{"NUL at end", []Member{{Name: "a"}, {Name: "a\x00"}}, false},
		{"negative weight", []Member{{Name: "a", Weight: -1}}, false},
		{"weight over max", []Member{{Name: "a", Weight: MaxWeight + 1}}, false},
		{"units over partitions", []Member{{Name: "a", Weight: 100}, {Name: "b", Weight: 100}, {Name: "c", Weight: 72}}, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r, err := New(tc.members, cfg)
			if (err == nil) != tc.valid {
				t.Fatalf("New(%+v) = %v, want valid %v", tc.members, err, tc.valid)
			}
			if err == nil && r.Member(0).Weight == 0 {
				t.Fatalf("weight 0 not normalized to 1: %+v", r.Member(0))
			}
		})
	}
}

func TestNewDoesNotKeepCallersSlice(t *testing.T) {
	ms := []Member{{Name: "b"}, {Name: "a"}}
	r := mustNew(t, ms, Config{Partitions: 31, Replication: 4, Load: 1.5})
	ms[0].Name = "z"
	if r.Member(0).Name != "a" || r.Member(1).Name != "b" || r.Index("b") != 1 || r.Index("z") != -1 {
		t.Fatalf("ring changed with the caller's slice: %+v %+v", r.Member(0), r.Member(1))
	}
}

func TestWithoutEqualsNewWithoutMember(t *testing.T) {
	tests := []struct {
		name    string
		members []Member
		cfg     Config
	}{
		{"equal", equalMembers(7), DefaultConfig()},
		{"weighted", weighted(1, 3, 2, 5), DefaultConfig()},
		{"tight bound", equalMembers(9), Config{Partitions: 1021, Replication: 10, Load: 1.02}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, tc.members, tc.cfg)
			for i := range r.Len() {
				w := r.Without(i)
				if w2 := r.Without(i); w2 != w {
					t.Fatalf("Without(%d) built twice", i)
				}
				rest := slices.Clone(tc.members)
				rest = slices.DeleteFunc(rest, func(m Member) bool { return m.Name == r.Member(i).Name })
				want := mustNew(t, rest, tc.cfg)
				if w.Len() != want.Len() || w.Index(r.Member(i).Name) != -1 {
					t.Fatalf("Without(%d) has %d members, want %d without %s", i, w.Len(), want.Len(), r.Member(i).Name)
				}
				diffOwners(t, fmt.Sprintf("Without(%d)", i), w, want)
			}
		})
	}
}

func TestWithoutConcurrent(t *testing.T) {
	r := mustNew(t, equalMembers(4), Config{Partitions: 1021, Replication: 50, Load: 1.1})
	const goroutines = 16
	got := make([][]*Ring, goroutines)
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range r.Len() {
				got[g] = append(got[g], r.Without((i+g)%r.Len()))
			}
		})
	}
	wg.Wait()
	for i := range r.Len() {
		want := r.Without(i)
		for g := range goroutines {
			if got[g][(i-g%r.Len()+r.Len())%r.Len()] != want {
				t.Fatalf("goroutine %d got another ring for Without(%d)", g, i)
			}
		}
		if want.Len() != r.Len()-1 {
			t.Fatalf("Without(%d) has %d members", i, want.Len())
		}
	}
}

// bindsIn reports whether the load bound turned any partition away from a
// unit of r: only a unit at the bound refuses one.
func bindsIn(r *Ring) bool {
	for i := range r.Len() {
		if r.Owned(i) >= r.LoadBound()*r.Member(i).Weight {
			return true
		}
	}
	return false
}

// TestOnlyRemovedMembersKeysMove checks that a member leaving moves only its
// own partitions when the bound binds in neither ring, and no more than
// 1.10 times those where it does.
func TestOnlyRemovedMembersKeysMove(t *testing.T) {
	tests := []struct {
		name string
		n    int
		cfg  Config
		// mustBeFree: the bound must not bind in any of these rings, so
		// the exact check runs for every removal.
		mustBeFree bool
	}{
		{"loose bound", 12, Config{Partitions: 4099, Replication: 100, Load: 2}, true},
		{"default, 3", 3, DefaultConfig(), true},
		{"default, 5", 5, DefaultConfig(), false},
		{"default, 20", 20, DefaultConfig(), false},
	}
	exact := 0
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			r := mustNew(t, equalMembers(tc.n), tc.cfg)
			for i := range r.Len() {
				w := r.Without(i)
				free := !bindsIn(r) && !bindsIn(w)
				if tc.mustBeFree && !free {
					t.Fatalf("the bound binds without member %d", i)
				}
				moved, removed := 0, r.Owned(i)
				for p := range r.Config().Partitions {
					before, after := r.Member(r.Owner(p)).Name, w.Member(w.Owner(p)).Name
					if before == after {
						continue
					}
					moved++
					if free && r.Owner(p) != i {
						t.Fatalf("without member %d, partition %d moves from %s, which stays", i, p, before)
					}
				}
				if free {
					exact++
					if moved != removed {
						t.Fatalf("without member %d, %d partitions move, want its %d", i, moved, removed)
					}
				}
				if ratio := float64(moved) / float64(removed); ratio > 1.10 {
					t.Errorf("without member %d, %d partitions move: %.3f times its %d", i, moved, ratio, removed)
				}
			}
		})
	}
	if exact == 0 {
		t.Fatal("the exact check never ran")
	}
}

func TestEmptyRing(t *testing.T) {
	for _, members := range [][]Member{nil, {}} {
		r := mustNew(t, members, DefaultConfig())
		if r.Len() != 0 || r.LoadBound() != 0 || r.Index("a") != -1 {
			t.Fatalf("empty ring: Len %d, LoadBound %d", r.Len(), r.LoadBound())
		}
		for _, key := range testKeys(100, 5) {
			p := r.Partition(key)
			if p < 0 || p >= DefaultConfig().Partitions {
				t.Fatalf("partition %d out of range", p)
			}
			if got := r.Locate(key); got != -1 {
				t.Fatalf("Locate on empty ring = %d, want -1", got)
			}
		}
	}
	one := mustNew(t, equalMembers(1), DefaultConfig())
	if got := one.Without(0).Locate([]byte("key")); got != -1 {
		t.Fatalf("Locate on the ring without its only member = %d, want -1", got)
	}
}

func TestWeights(t *testing.T) {
	weights := []int{1, 2, 3, 5}
	r := mustNew(t, weighted(weights...), DefaultConfig())
	keys := testKeys(200000, 6)
	got := make([]int, r.Len())
	for _, key := range keys {
		got[r.Locate(key)]++
	}
	total := 0
	for _, w := range weights {
		total += w
	}
	for i := range r.Len() {
		m := r.Member(i)
		want := float64(m.Weight) / float64(total)
		share := float64(got[i]) / float64(len(keys))
		parts := float64(r.Owned(i)) / float64(r.Config().Partitions)
		t.Logf("%s weight %d: key share %.4f, partition share %.4f, want %.4f", m.Name, m.Weight, share, parts, want)
		if math.Abs(share/want-1) > 0.10 || math.Abs(parts/want-1) > 0.10 {
			t.Errorf("%s weight %d: key share %.4f, partition share %.4f, want %.4f ±10%%", m.Name, m.Weight, share, parts, want)
		}
	}
	// Per unit of weight, owned partitions stay under the bound.
	for i := range r.Len() {
		if r.Owned(i) > r.LoadBound()*r.Member(i).Weight {
			t.Errorf("member %d owns %d > %d × %d", i, r.Owned(i), r.Member(i).Weight, r.LoadBound())
		}
	}
}

func TestLoadBound(t *testing.T) {
	tests := []struct {
		units int
		cfg   Config
		want  int
	}{
		{3, Config{271, 20, 1.25}, 113}, // ceil(271/3*1.25) = ceil(112.9)
		{1, Config{271, 20, 1.25}, 271},
		{10, Config{1000, 20, 1.1}, 111}, // 100 * 1.1 is 110.00000000000001 in floating point, as in the library
		{3, Config{271, 20, 1e300}, 271},
		{3, Config{271, 20, math.MaxFloat64}, 271},
	}
	for _, tc := range tests {
		r := mustNew(t, equalMembers(tc.units), tc.cfg)
		if got := r.LoadBound(); got != tc.want {
			t.Errorf("%d units, %+v: LoadBound %d, want %d", tc.units, tc.cfg, got, tc.want)
		}
	}
}

func TestLocateDoesNotAllocate(t *testing.T) {
	r := mustNew(t, equalMembers(10), DefaultConfig())
	key := []byte("session-4f2a9c71e0")
	if n := testing.AllocsPerRun(1000, func() { _ = r.Locate(key) }); n != 0 {
		t.Errorf("Locate allocates %v times per call", n)
	}
	if n := testing.AllocsPerRun(1000, func() { _ = r.Partition(key) }); n != 0 {
		t.Errorf("Partition allocates %v times per call", n)
	}
}

// TestSortPointsCollisions checks the one case the library comparison cannot
// reach: two points with the same hash. The library keeps one unit per hash,
// the one added last, and both places on the ring go to it.
func TestSortPointsCollisions(t *testing.T) {
	const top = 1 << 63
	points := []point{{9, 0}, {top + 5, 0}, {3, 1}, {top + 5, 2}, {top + 5, 1}, {9, 3}, {1, 3}}
	s := sortPoints(points)
	wantHashes := []uint64{1, 3, 9, 9, top + 5, top + 5, top + 5}
	wantUnits := []int32{3, 1, 3, 3, 2, 2, 2}
	if !slices.Equal(s.hashes, wantHashes) || !slices.Equal(s.units, wantUnits) {
		t.Fatalf("sortPoints = %v %v, want %v %v", s.hashes, s.units, wantHashes, wantUnits)
	}
}

// TestSortPointsSearch checks the bucketed sort and search against a plain
// sort and binary search, for ring sizes around the bucket boundaries.
func TestSortPointsSearch(t *testing.T) {
	rng := rand.New(rand.NewPCG(8, 9))
	tests := []struct {
		n    int
		mask uint64 // keeps hashes in few buckets when small
	}{
		{1, math.MaxUint64}, {2, math.MaxUint64}, {3, math.MaxUint64},
		{7, math.MaxUint64}, {8, math.MaxUint64}, {9, math.MaxUint64},
		{100, math.MaxUint64}, {1000, math.MaxUint64}, {4097, math.MaxUint64},
		{100, 1<<58 - 1}, {1000, 1<<48 - 1}, // buckets of 50 and 1000 points
	}
	for _, tc := range tests {
		n := tc.n
		points := make([]point, n)
		for i := range points {
			h := rng.Uint64() & tc.mask
			if i%5 == 4 {
				h = points[rng.IntN(i)].hash // some equal hashes
			}
			points[i] = point{hash: h, unit: int32(rng.IntN(10))}
		}
		want := slices.Clone(points)
		slices.SortFunc(want, func(a, b point) int {
			if a.hash != b.hash {
				return cmp.Compare(a.hash, b.hash)
			}
			return cmp.Compare(a.unit, b.unit)
		})
		s := sortPoints(slices.Clone(points))
		for j := range want {
			wantUnit := want[j].unit
			for k := j + 1; k < n && want[k].hash == want[j].hash; k++ {
				wantUnit = want[k].unit
			}
			if s.hashes[j] != want[j].hash || s.units[j] != wantUnit {
				t.Fatalf("n=%d: point %d is %x of unit %d, want %x of unit %d", n, j, s.hashes[j], s.units[j], want[j].hash, wantUnit)
			}
		}
		probes := []uint64{0, 1, math.MaxUint64, math.MaxUint64 - 1, 1 << 63}
		for _, pt := range points {
			probes = append(probes, pt.hash, pt.hash-1, pt.hash+1)
		}
		for range 1000 {
			probes = append(probes, rng.Uint64())
		}
		for _, h := range probes {
			wantJ, _ := slices.BinarySearch(s.hashes, h)
			if got := s.search(h); got != wantJ {
				t.Fatalf("n=%d: search(%x) = %d, want %d", n, h, got, wantJ)
			}
		}
	}
}
