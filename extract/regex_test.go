package extract

import (
	"regexp"
	"strings"
	"testing"
	"testing/iotest"
)

func TestRegex(t *testing.T) {
	for _, c := range []struct {
		name, pattern, in string
		want              verdict
	}{
		{"capture", `sid=(\w+);`, `a=1; sid=abc; b=2`, found("abc")},
		{"leftmost match", `id:(\d+)`, `id:1 id:2`, found("1")},
		{"first group only", `(\d)(\d)`, `x12`, found("1")},
		{"group not taking part", `(?:a(\d)|b(\d))`, `b2 a1`, notFound},
		{"empty group", `sid=(\w*);`, `sid=;`, notFound},
		{"no match", `sid=(\w+)`, `nothing`, notFound},
		{"XML-ish", `<sessionId>([^<]+)</sessionId>`, `<x/><sessionId>s-1</sessionId>`, found("s-1")},
		{"commas", `k=(\d+),(\d+)`, `k=1,2`, found("1")},
	} {
		t.Run(c.name, func(t *testing.T) {
			checkScanner(t, newRegex(regexp.MustCompile(c.pattern)), c.in, c.want)
		})
	}
}

// TestRegexWaitsForTheEnd checks that the pattern runs only on the final
// window, where its leftmost match cannot change any more.
func TestRegexWaitsForTheEnd(t *testing.T) {
	s := newRegex(regexp.MustCompile(`n=(\d+)`))
	if _, res := s.Scan([]byte("n=12"), false); res != NeedMore {
		t.Fatalf("before the end: %v, want need-more", res)
	}
	if key, res := s.Scan([]byte("n=1234 "), true); res != Found || string(key) != "1234" {
		t.Fatalf("at the end: %q %v", key, res)
	}
}

func TestRegexCutShort(t *testing.T) {
	s := newRegex(regexp.MustCompile(`n=(\d+)`))
	in := []byte("x n=12345 y" + strings.Repeat(".", 20))
	if got := peekWith(t, s, in, 7, iotest.OneByteReader); got != notFound {
		t.Errorf("match running into the limit: got %v, want not-found", got)
	}
	if got := peekWith(t, s, in, 10, iotest.OneByteReader); got != found("12345") {
		t.Errorf("match closed within the limit: got %v", got)
	}
	if got := peekWith(t, s, in[:9], 9, iotest.DataErrReader); got != found("12345") {
		t.Errorf("match running to the end of the stream: got %v", got)
	}
}
