package extract

import "testing"

var benchSizes = []struct {
	name string
	size int
}{{"1KiB", 1 << 10}, {"64KiB", 64 << 10}}

// benchDocs calls bench with a document of each size in benchSizes, made
// by build, with the key at its start and at its end, and the name of the
// sub-benchmarks for it: SIZE/start or SIZE/end. Each benchmark writes out
// the loop for its reference, the standard library's way to find the key:
// what that allocates depends on what the compiler inlines into the loop,
// so benchDocs is not inlined, leaving each loop compiled as if written
// out in the benchmark itself.
//
//go:noinline
func benchDocs(build func(size int, keyAtEnd bool) []byte, bench func(name string, doc []byte)) {
	for _, sz := range benchSizes {
		for _, at := range []string{"start", "end"} {
			bench(sz.name+"/"+at, build(sz.size, at == "end"))
		}
	}
}

// benchScanner measures s over doc as the router runs it, a reused scanner
// seeing the body arrive in 4 KiB reads, but without the copy into the peek
// buffer, which the router pays whatever finds the key.
func benchScanner(b *testing.B, s Scanner, doc []byte, want string) {
	b.Helper()
	if key, _ := scanChunks(s, doc, 4<<10); string(key) != want {
		b.Fatalf("got key %q, want %q", key, want)
	}
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, res := scanChunks(s, doc, 4<<10); res != Found {
			b.Fatal("no key")
		}
	}
}

// scanChunks feeds doc to s in windows growing by chunk bytes.
func scanChunks(s Scanner, doc []byte, chunk int) ([]byte, Result) {
	s.Reset()
	for n := 0; ; {
		n = min(n+chunk, len(doc))
		key, res := s.Scan(doc[:n], n == len(doc))
		if res != NeedMore {
			return key, res
		}
	}
}
