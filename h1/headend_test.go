package h1

import (
	"strings"
	"testing"
)

func TestHeadEnd(t *testing.T) {
	cases := []struct {
		in  string
		end int
	}{
		{"", -1},
		{"\r", -1},
		{"\r\n", 2},
		{"\n", 1},
		{"\r\nGET / HTTP/1.1\r\n\r\n", 2},
		{"\nGET", 1},
		{"G", -1},
		{"GET / HTTP/1.1\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r", -1},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\nbody", 27},
		{"GET / HTTP/1.1\r\n\r\n", 18},
		{"GET / HTTP/1.1\n\n", 16},
		{"GET / HTTP/1.1\r\n\n", 17},
		{"GET / HTTP/1.1\n\r\n", 17},
		{"GET / HTTP/1.1\r\nX: a\r\r\n\r\n", 25},
		{"GET / HTTP/1.1\r\nX: a\r\n\r\r\n\r\n", 27},
		{"GET / HTTP/1.1\r\r\n\r\n", 19},
		{"GET / HTTP/1.1\r\n\rX\r\n\r\n", 22},
		{"\rGET / HTTP/1.1\r\n\r\n", 19},
	}
	for _, c := range cases {
		if end, _ := HeadEnd([]byte(c.in), 0); end != c.end {
			t.Errorf("HeadEnd(%q) = %d, want %d", c.in, end, c.end)
		}
		checkHeadEnd(t, []byte(c.in))
	}
}

// Fed one byte at a time, or in any two pieces, HeadEnd finds the same end
// and never goes back more than the two bytes after a line feed.
func TestHeadEndIncremental(t *testing.T) {
	inputs := append(append([]string{}, requestSeeds...), responseSeeds...)
	inputs = append(inputs, "GET / HTTP/1.1\r\n"+strings.Repeat("X-Long: "+strings.Repeat("v", 300)+"\r\n", 20)+"\r\n")
	for _, in := range inputs {
		buf := []byte(in)
		want, _ := HeadEnd(buf, 0)
		checkHeadEnd(t, buf)
		for split := 0; split <= len(buf); split++ {
			end, next := HeadEnd(buf[:split], 0)
			if end >= 0 {
				if end != want {
					t.Fatalf("%q: end %d in the first %d bytes, want %d", in, end, split, want)
				}
				continue
			}
			if next > split || next < split-2 && buf[next] != '\n' {
				t.Fatalf("%q: next %d after %d bytes", in, next, split)
			}
			if end, _ = HeadEnd(buf, next); end != want {
				t.Fatalf("%q: end %d resuming at %d, want %d", in, end, next, want)
			}
		}
	}
}

// What HeadEnd ends, Parse can parse: a head it finds is never refused as
// incomplete or as having bytes after its end.
func TestHeadEndThenParse(t *testing.T) {
	for _, in := range requestSeeds {
		buf := []byte(in)
		end, _ := HeadEnd(buf, 0)
		if end < 0 {
			continue
		}
		var r Request
		err := r.Parse(buf[:end], Limits{})
		if e, ok := err.(*Error); ok && (e == requestError(errIncomplete) || e == requestError(errTrailingBytes)) {
			t.Errorf("%q: %v", buf[:end], err)
		}
	}
}
