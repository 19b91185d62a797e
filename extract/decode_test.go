package extract

import (
	"bytes"
	"compress/flate"
	"compress/gzip"
	"compress/zlib"
	"errors"
	"io"
	"strconv"
	"strings"
	"testing"
	"testing/iotest"
)

// compress returns b written through the compressor that wrap makes.
func compress(t testing.TB, b []byte, wrap func(io.Writer) io.WriteCloser) []byte {
	var out bytes.Buffer
	w := wrap(&out)
	w.Write(b)
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return out.Bytes()
}

func gzipped(t testing.TB, b []byte) []byte {
	return compress(t, b, func(w io.Writer) io.WriteCloser { return gzip.NewWriter(w) })
}

func zlibbed(t testing.TB, b []byte) []byte {
	return compress(t, b, func(w io.Writer) io.WriteCloser { return zlib.NewWriter(w) })
}

func deflated(t testing.TB, b []byte) []byte {
	return compress(t, b, func(w io.Writer) io.WriteCloser {
		fw, _ := flate.NewWriter(w, flate.BestCompression)
		return fw
	})
}

// peekDecoded runs PeekDecoded over body through wrap and checks that it
// read no more than len(raw) bytes and recorded them all.
func peekDecoded(t *testing.T, body []byte, rawLimit, decLimit int, enc string, s Scanner, wrap func(io.Reader) io.Reader) (n int, got verdict, eof bool, err error) {
	t.Helper()
	s.Reset()
	cr := &countingReader{r: wrap(bytes.NewReader(body))}
	raw := make([]byte, rawLimit)
	n, key, res, eof, err := PeekDecoded(cr, raw, make([]byte, decLimit), enc, s)
	if n != cr.n || n > rawLimit {
		t.Errorf("recorded %d bytes, read %d, limit %d", n, cr.n, rawLimit)
	}
	if !bytes.Equal(raw[:n], body[:n]) {
		t.Errorf("raw does not hold the bytes read")
	}
	return n, mkAnswer(key, res), eof, err
}

func TestPeekDecoded(t *testing.T) {
	doc := []byte(`<a><b>` + strings.Repeat("filler ", 200) + `</b><sessionId>s-42</sessionId></a>`)
	for _, c := range []struct {
		enc  string
		body []byte
	}{
		{"gzip", gzipped(t, doc)},
		{"x-gzip", gzipped(t, doc)},
		{" GZIP ", gzipped(t, doc)},
		{"deflate", zlibbed(t, doc)},
		{"Deflate", deflated(t, doc)},
		{"", doc},
		{"identity", doc},
	} {
		for _, r := range readers {
			n, got, eof, err := peekDecoded(t, c.body, len(c.body)+10, len(doc)+10, c.enc, newXML("sessionId"), r.wrap)
			if got != found("s-42") || err != nil {
				t.Errorf("%q via %s reader: got %v, err %v", c.enc, r.name, got, err)
			}
			if c.enc != "deflate" && c.enc != "Deflate" && c.enc != "" && c.enc != "identity" && (n != len(c.body) || !eof) {
				t.Errorf("%q via %s reader: read %d of %d bytes, eof %v", c.enc, r.name, n, len(c.body), eof)
			}
		}
	}
}

func TestPeekDecodedLimits(t *testing.T) {
	// A bomb: megabytes of zeros compress to a few kilobytes, with the key
	// past them.
	doc := append(bytes.Repeat([]byte{' '}, 8<<20), "<id>k</id>"...)
	body := gzipped(t, doc)
	s := newXML("id")
	n, got, _, err := peekDecoded(t, body, len(body), 64<<10, "gzip", s, iotest.HalfReader)
	if got != notFound || err != nil || n >= len(body) {
		t.Errorf("bomb: got %v, err %v, read %d of %d", got, err, n, len(body))
	}
	// The raw limit bounds what is read, whatever the decoder wants.
	n, got, eof, err := peekDecoded(t, body, 100, 64<<20, "gzip", s, iotest.OneByteReader)
	if got != notFound || err != nil || n != 100 || eof {
		t.Errorf("raw limit: got %v, err %v, read %d, eof %v", got, err, n, eof)
	}
}

func TestPeekDecodedFaults(t *testing.T) {
	s := newXML("id")
	var filler strings.Builder
	for i := range 2000 {
		filler.WriteString(strconv.Itoa(i * i))
	}
	doc := []byte(`<id>k</id>` + filler.String())
	body := gzipped(t, doc)

	// A corrupt stream is not an error: the scanner sees what decoded.
	for _, at := range []int{len(body) - 4, len(body) - 20} { // the CRC; the deflate data
		bad := bytes.Clone(body)
		bad[at] ^= 0xff
		if _, got, _, err := peekDecoded(t, bad, 16<<10, 16<<10, "gzip", s, iotest.OneByteReader); got != found("k") || err != nil {
			t.Errorf("corrupt at %d of %d, after the key: got %v, err %v", at, len(body), got, err)
		}
	}
	if _, got, _, err := peekDecoded(t, gzipped(t, []byte("<a/>"+filler.String()+"<id>k</id>"))[:500], 16<<10, 16<<10, "gzip", s, iotest.OneByteReader); got != notFound || err != nil {
		t.Errorf("truncated stream: got %v, err %v", got, err)
	}
	if _, got, _, err := peekDecoded(t, []byte("not gzip at all"), 1<<10, 1<<10, "gzip", s, iotest.OneByteReader); got != notFound || err != nil {
		t.Errorf("not gzip: got %v, err %v", got, err)
	}
	if _, got, _, err := peekDecoded(t, nil, 1<<10, 1<<10, "deflate", s, iotest.OneByteReader); got != notFound || err != nil {
		t.Errorf("empty deflate body: got %v, err %v", got, err)
	}

	// A read error is reported.
	boom := errors.New("boom")
	r := io.MultiReader(bytes.NewReader(body[:10]), iotest.ErrReader(boom))
	s.Reset()
	_, _, res, _, err := PeekDecoded(r, make([]byte, 1<<10), make([]byte, 1<<10), "gzip", s)
	if res != NotFound || !errors.Is(err, boom) {
		t.Errorf("read error: res %v, err %v", res, err)
	}

	// An unknown coding is not read.
	cr := &countingReader{r: bytes.NewReader(body)}
	s.Reset()
	n, _, res, _, err := PeekDecoded(cr, make([]byte, 1<<10), make([]byte, 1<<10), "br", s)
	if n != 0 || cr.n != 0 || res != NotFound || !errors.Is(err, ErrUnsupportedEncoding) {
		t.Errorf("br: read %d, res %v, err %v", cr.n, res, err)
	}
	if _, _, _, _, err := PeekDecoded(bytes.NewReader(body), nil, nil, "gzip, br", s); !errors.Is(err, ErrUnsupportedEncoding) {
		t.Errorf("a list of codings: err %v", err)
	}
}

// TestPeekDecodedCutShort checks that a form field ended by the decoded
// stream counts, and one cut by the decoded limit does not.
func TestPeekDecodedCutShort(t *testing.T) {
	body := gzipped(t, []byte("a=1&sid=abcdef"))
	c := mustChain(t, "form:sid")
	if _, got, _, _ := peekDecoded(t, body, 1<<10, 1<<10, "gzip", c, iotest.OneByteReader); got != found("abcdef") {
		t.Errorf("whole body: got %v", got)
	}
	if _, got, _, _ := peekDecoded(t, body, 1<<10, 12, "gzip", c, iotest.OneByteReader); got != notFound {
		t.Errorf("decoded limit inside the field: got %v", got)
	}
}

func TestPeekDecodedAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("the race detector's sync.Pool drops items")
	}
	doc := soapEnvelope(4<<10, true)
	s := newXML("sessionId")
	raw, dec := make([]byte, 64<<10), make([]byte, 64<<10)
	for _, c := range []struct {
		enc  string
		body []byte
	}{{"gzip", gzipped(t, doc)}, {"deflate", zlibbed(t, doc)}, {"deflate", deflated(t, doc)}} {
		r := bytes.NewReader(c.body)
		allocs := testing.AllocsPerRun(50, func() {
			r.Reset(c.body)
			s.Reset()
			if _, _, res, _, _ := PeekDecoded(r, raw, dec, c.enc, s); res != Found {
				t.Fatalf("%s: no key", c.enc)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per peek, want 0", c.enc, allocs)
		}
	}
}

// BenchmarkChainGzip is the whole path for a compressed body: a chain of
// sources over a gzip body decoded into a bounded window.
func BenchmarkChainGzip(b *testing.B) {
	doc := soapEnvelope(64<<10, true)
	body := gzipped(b, doc)
	c := mustChain(b, "header:X-Session,json:session.id,xml:{urn:session}sessionId")
	raw, dec := make([]byte, 64<<10), make([]byte, 128<<10)
	r := bytes.NewReader(body)
	b.SetBytes(int64(len(doc)))
	b.ReportAllocs()
	for b.Loop() {
		r.Reset(body)
		c.Reset()
		c.Accept("text/xml")
		if _, _, res, _, _ := PeekDecoded(r, raw, dec, "gzip", c); res != Found {
			b.Fatal("no key")
		}
	}
}
