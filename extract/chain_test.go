package extract

import (
	"strings"
	"testing"
	"testing/iotest"
)

func mustChain(t testing.TB, spec string) *Chain {
	t.Helper()
	sources, err := ParseSources(spec)
	if err != nil {
		t.Fatal(err)
	}
	c, err := NewChain(sources)
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func TestChain(t *testing.T) {
	for _, c := range []struct {
		name, spec, in string
		want           verdict
		winner         int
	}{
		{"first source wins", "xml:id,regex:k=(\\d+)", `<id>7</id> k=9`, found("7"), 0},
		{"first absent, later wins", "xml:nope,regex:k=(\\d+)", `<id>7</id> k=9`, found("9"), 1},
		{"first empty, later wins", "xml:id,regex:k=(\\d+)", `<id/> k=9`, found("9"), 1},
		{"later source found first", "json:a,xml:id", `{"x":"<id>1</id>","a":"2"}`, found("2"), 0},
		{"earlier source absent at the end", "json:b,xml:id", `{"x":"<id>1</id>","a":"2"}`, found("1"), 1},
		{"non-body sources keep their place", "header:X,xml:id,cookie:c,form:sid", `sid=5`, found("5"), 3},
		{"none", "xml:id,json:a", `plain text`, notFound, -1},
		{"same body, three syntaxes", "json:sid,form:sid,xml:sid", `sid=<sid>x</sid>`, found("<sid>x</sid>"), 1},
	} {
		t.Run(c.name, func(t *testing.T) {
			ch := mustChain(t, c.spec)
			checkScanner(t, ch, c.in, c.want)
			scanWhole(ch, []byte(c.in))
			if ch.Winner() != c.winner {
				t.Errorf("winner %d, want %d", ch.Winner(), c.winner)
			}
		})
	}
}

// TestChainAnswersEarly checks that the chain reads no further than the
// earliest source that wins needs, and no less than the sources before it.
func TestChainAnswersEarly(t *testing.T) {
	tail := strings.Repeat(" pad", 100)
	c := mustChain(t, `xml:id,json:a`)
	in := []byte(`<id>7</id>` + tail)
	cr := &countingReader{r: iotest.OneByteReader(strings.NewReader(string(in)))}
	n, key, res, _, _ := Peek(cr, make([]byte, len(in)), c)
	if res != Found || string(key) != "7" || n != len(`<id>7</id>`) || cr.n != n {
		t.Errorf("got %q %v after %d bytes (%d read), want the key right after its end tag", key, res, n, cr.n)
	}
	// A regex source decides only at the end, so a key found after it
	// waits for the end too. (A regex entry takes the rest of a spec, so
	// this order is made by hand.)
	c, err := NewChain([]Source{{Kind: Regex, Name: `k=(\d+)`}, {Kind: XML, Name: "id"}})
	if err != nil {
		t.Fatal(err)
	}
	if _, res := c.Scan(in, false); res != NeedMore {
		t.Errorf("regex undecided: got %v, want need-more", res)
	}
	if key, res := c.Scan(in, true); res != Found || string(key) != "7" || c.Winner() != 1 {
		t.Errorf("at the end: %q %v winner %d", key, res, c.Winner())
	}
}

func TestChainLimitAndAccept(t *testing.T) {
	c := mustChain(t, "xml:a,header:X,xml:b,json:c")
	in := []byte(`<b>2</b>`)
	c.Reset()
	c.Limit(1)
	if got := mkAnswer(c.Scan(in, true)); got != notFound {
		t.Errorf("limited to the first source: got %v", got)
	}
	c.Reset()
	c.Limit(3)
	if got := mkAnswer(c.Scan(in, true)); got != found("2") || c.Winner() != 2 {
		t.Errorf("limited to three sources: got %v, winner %d", got, c.Winner())
	}
	c.Reset()
	if got := mkAnswer(c.Scan(in, true)); got != found("2") {
		t.Errorf("Reset lifts the limit: got %v", got)
	}

	c = mustChain(t, "json:a,xml:a")
	in = []byte(`{"a":"j"}`)
	c.Reset()
	c.Accept("application/xml")
	if got := mkAnswer(c.Scan(in, true)); got != notFound {
		t.Errorf("JSON source on an XML body: got %v", got)
	}
	c.Reset()
	c.Accept("application/json")
	if got := mkAnswer(c.Scan(in, true)); got != found("j") || c.Winner() != 0 {
		t.Errorf("JSON body: got %v winner %d", got, c.Winner())
	}
}

func TestChainWithNothingToDoReadsNothing(t *testing.T) {
	c := mustChain(t, "header:X,json:a")
	c.Reset()
	c.Accept("text/plain")
	if c.Active() {
		t.Fatal("Active with no source taking part")
	}
	cr := &countingReader{r: strings.NewReader(`{"a":"1"}`)}
	if n, _, res, _, _ := Peek(cr, make([]byte, 64), c); n != 0 || cr.n != 0 || res != NotFound {
		t.Errorf("read %d bytes, res %v; want nothing read", cr.n, res)
	}
	c.Reset()
	if !c.Active() {
		t.Error("not Active after Reset")
	}
}

// TestChainCutShort checks that a chain passes on a cut window to the
// sources whose key can end with the stream.
func TestChainCutShort(t *testing.T) {
	c := mustChain(t, "form:sid")
	in := []byte("a=1&sid=abcdef")
	if got := peekWith(t, c, in, len(in)-2, iotest.OneByteReader); got != notFound {
		t.Errorf("cut form field: got %v", got)
	}
	if got := peekWith(t, c, in, len(in)+1, iotest.OneByteReader); got != found("abcdef") {
		t.Errorf("whole form field: got %v", got)
	}
}

func TestChainAllocs(t *testing.T) {
	c := mustChain(t, "header:X,xml:{urn:session}sessionId,json:a.b,form:sid,xml:sessionId")
	for _, in := range []struct{ body, mediaType string }{
		{soapDoc, "text/xml"},
		{`{"a":{"b":"c\u00e9"}}`, "application/json"},
		{"x=1&sid=a%20b", "application/x-www-form-urlencoded"},
	} {
		b := []byte(in.body)
		allocs := testing.AllocsPerRun(100, func() {
			c.Reset()
			c.Limit(5)
			c.Accept(in.mediaType)
			if _, res := c.Scan(b, true); res != Found {
				t.Fatalf("%.20q: no key", in.body)
			}
		})
		if allocs != 0 {
			t.Errorf("%.20q: %v allocations per scan, want 0", in.body, allocs)
		}
	}
}
