package hashring

import (
	"fmt"
	"testing"

	"github.com/buraksezer/consistent"
)

// sink keeps results alive so the compiler cannot drop the work.
var sink int

func BenchmarkLocate(b *testing.B) {
	keys := testKeys(1024, 7)
	for i := range keys {
		keys[i] = keys[i][:14] // a typical key: 10 to 20 bytes
	}
	for _, n := range []int{3, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			r := mustNew(b, equalMembers(n), DefaultConfig())
			b.ReportAllocs()
			i := 0
			for b.Loop() {
				sink += r.Locate(keys[i&1023])
				i++
			}
		})
	}
}

func BenchmarkNew(b *testing.B) {
	for _, n := range []int{3, 20, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := equalMembers(n)
			b.ReportAllocs()
			for b.Loop() {
				r, err := New(members, DefaultConfig())
				if err != nil {
					b.Fatal(err)
				}
				sink += r.Len()
			}
		})
	}
}

// BenchmarkNewLibrary builds the same rings with the library itself, for
// comparison with BenchmarkNew: its New re-sorts the whole ring for every
// member added.
func BenchmarkNewLibrary(b *testing.B) {
	cfg := DefaultConfig()
	for _, n := range []int{3, 20, 100} {
		b.Run(fmt.Sprintf("members=%d", n), func(b *testing.B) {
			members := make([]consistent.Member, n)
			for i, name := range memberNames(n) {
				members[i] = libUnit(name)
			}
			b.ReportAllocs()
			for b.Loop() {
				c := consistent.New(members, consistent.Config{
					Hasher: libHasher{}, PartitionCount: cfg.Partitions, ReplicationFactor: cfg.Replication, Load: cfg.Load,
				})
				sink += len(c.GetMembers())
			}
		})
	}
}
