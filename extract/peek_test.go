package extract

import (
	"errors"
	"io"
	"strings"
	"testing"
	"testing/iotest"
)

func TestPeekScansBeforeReading(t *testing.T) {
	s := &countScanner{}
	r := &countingReader{r: strings.NewReader("abc")}
	n, _, res, _, err := Peek(r, make([]byte, 8), s)
	if n != 0 || r.n != 0 || res != NotFound || err != nil {
		t.Fatalf("Peek read %d bytes (%d), res %v, err %v; want nothing read", n, r.n, res, err)
	}
}

func TestPeekNoProgress(t *testing.T) {
	s := newXML("id")
	n, _, res, eof, err := Peek(emptyReader{}, make([]byte, 8), s)
	if n != 0 || res != NotFound || eof || !errors.Is(err, io.ErrNoProgress) {
		t.Fatalf("got n %d, res %v, eof %v, err %v; want io.ErrNoProgress", n, res, eof, err)
	}
}

func TestPeekReadError(t *testing.T) {
	boom := errors.New("boom")
	s := newXML("id")
	r := io.MultiReader(strings.NewReader("<id>1</id"), iotest.ErrReader(boom))
	n, _, res, eof, err := Peek(r, make([]byte, 64), s)
	if n != 9 || res != NotFound || eof || !errors.Is(err, boom) {
		t.Fatalf("got n %d, res %v, eof %v, err %v; want 9 bytes and boom", n, res, eof, err)
	}
	s.Reset()
	r = io.MultiReader(strings.NewReader("<id>1</id>"), iotest.ErrReader(boom))
	n, key, res, _, err := Peek(r, make([]byte, 64), s)
	if n != 10 || res != Found || string(key) != "1" || err != nil {
		t.Fatalf("got n %d, key %q, res %v, err %v; want the key before the error", n, key, res, err)
	}
}

// countScanner gives up at once.
type countScanner struct{ calls int }

func (c *countScanner) Scan([]byte, bool) ([]byte, Result) { c.calls++; return nil, NotFound }
func (c *countScanner) Reset()                             {}

type emptyReader struct{}

func (emptyReader) Read([]byte) (int, error) { return 0, nil }
