package extract

import (
	"bytes"
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

// verdict is what a scanner concluded: the key when Found, else "".
type verdict struct {
	key string
	res Result
}

func found(key string) verdict { return verdict{key, Found} }

var notFound = verdict{res: NotFound}

func (a verdict) String() string {
	if a.res == Found {
		return "found " + quoteBytes(a.key)
	}
	return a.res.String()
}

func quoteBytes(s string) string {
	if len(s) > 80 {
		s = s[:80] + "..."
	}
	return "\"" + strings.ToValidUTF8(s, "\uFFFD") + "\""
}

func mkAnswer(key []byte, res Result) verdict {
	if res != Found {
		return verdict{res: res}
	}
	return verdict{string(key), res}
}

// scanWhole feeds in to s as one final window.
func scanWhole(s Scanner, in []byte) verdict {
	s.Reset()
	return mkAnswer(s.Scan(in, true))
}

// scanGrowing feeds in one byte at a time, each window a fresh copy so a
// scanner cannot rely on bytes past its window, and checks that an answer,
// once given, is given again.
func scanGrowing(t testing.TB, s Scanner, in []byte) verdict {
	t.Helper()
	s.Reset()
	buf := make([]byte, len(in))
	for i := 0; i <= len(in); i++ {
		if i > 0 {
			buf[i-1] = in[i-1]
		}
		w := buf[:i:i]
		got := mkAnswer(s.Scan(w, i == len(in)))
		if got.res == NeedMore {
			continue
		}
		if again := mkAnswer(s.Scan(w, true)); again != got {
			t.Errorf("answered %v, then %v", got, again)
		}
		return got
	}
	t.Errorf("NeedMore on the final window")
	return verdict{res: NeedMore}
}

// scanSplit feeds in as two windows, the first k bytes then all.
func scanSplit(s Scanner, in []byte, k int) verdict {
	s.Reset()
	if a := mkAnswer(s.Scan(in[:k:k], false)); a.res != NeedMore {
		return a
	}
	return mkAnswer(s.Scan(in, true))
}

// countingReader counts the bytes read through it.
type countingReader struct {
	r io.Reader
	n int
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += n
	return n, err
}

// peekWith runs Peek over in through wrap with a buffer of size limit and
// checks it read no more than limit bytes.
func peekWith(t testing.TB, s Scanner, in []byte, limit int, wrap func(io.Reader) io.Reader) verdict {
	t.Helper()
	s.Reset()
	cr := &countingReader{r: wrap(bytes.NewReader(in))}
	buf := make([]byte, limit)
	n, key, res, _, err := Peek(cr, buf, s)
	if err != nil && !errors.Is(err, iotest.ErrTimeout) {
		t.Errorf("Peek: %v", err)
	}
	if cr.n > limit || n != cr.n {
		t.Errorf("Peek read %d bytes (reported %d) with a limit of %d", cr.n, n, limit)
	}
	if !bytes.Equal(buf[:n], in[:n]) {
		t.Errorf("Peek's buffer does not hold the bytes read")
	}
	return mkAnswer(key, res)
}

var readers = []struct {
	name string
	wrap func(io.Reader) io.Reader
}{
	{"plain", func(r io.Reader) io.Reader { return r }},
	{"one-byte", iotest.OneByteReader},
	{"half", iotest.HalfReader},
	{"data-err", iotest.DataErrReader},
}

// checkScanner checks that s gives want for in however the stream arrives:
// whole, byte by byte, in two parts, and through Peek with several readers.
func checkScanner(t *testing.T, s Scanner, in string, want verdict) {
	t.Helper()
	b := []byte(in)
	if got := scanWhole(s, b); got != want {
		t.Errorf("whole: got %v, want %v", got, want)
	}
	if got := scanGrowing(t, s, b); got != want {
		t.Errorf("byte by byte: got %v, want %v", got, want)
	}
	for k := range len(b) {
		if got := scanSplit(s, b, k); got != want {
			t.Errorf("split at %d: got %v, want %v", k, got, want)
			break
		}
	}
	// A buffer the stream fills exactly is cut short for all Peek knows,
	// which matters to scanners whose key can end with the stream.
	slacks := []int{0, 7}
	if _, ok := s.(cutter); ok {
		slacks = slacks[1:]
	}
	for _, r := range readers {
		for _, slack := range slacks {
			if got := peekWith(t, s, b, len(b)+slack, r.wrap); got != want {
				t.Errorf("Peek via %s reader, limit %d: got %v, want %v", r.name, len(b)+slack, got, want)
			}
		}
	}
}

// checkLimit checks that a key lying past the limit is not found and that
// Peek stops reading at the limit.
func checkLimit(t *testing.T, s Scanner, in string, keyEnd int) {
	t.Helper()
	for _, limit := range []int{0, 1, keyEnd / 2, keyEnd - 1} {
		for _, r := range readers {
			if got := peekWith(t, s, []byte(in), limit, r.wrap); got != notFound {
				t.Errorf("limit %d via %s reader: got %v, want not-found", limit, r.name, got)
			}
		}
	}
}

// checkStreaming checks the properties every scanner has on any input:
// fed whole or byte by byte it answers the same; Peek never reads past its
// limit; and a key found within a limit is the key of the whole stream.
func checkStreaming(t *testing.T, s Scanner, in []byte, limit int) verdict {
	t.Helper()
	whole := scanWhole(s, in)
	if whole.res == NeedMore {
		t.Fatalf("NeedMore on a final window")
	}
	if got := scanGrowing(t, s, in); got != whole {
		t.Fatalf("byte by byte %v, whole %v", got, whole)
	}
	limit = min(limit, len(in)+1)
	got := peekWith(t, s, in, limit, readers[1].wrap)
	if got.res == Found && got != whole {
		t.Fatalf("with a limit of %d found %v, whole %v", limit, got, whole)
	}
	if limit > len(in) && got != whole {
		t.Fatalf("Peek with room for everything %v, whole %v", got, whole)
	}
	return whole
}
