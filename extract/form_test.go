package extract

import (
	"bytes"
	"net/url"
	"strings"
	"testing"
	"testing/iotest"
)

var formCases = []struct {
	name  string
	field string
	in    string
	want  verdict
}{
	{"simple", "sid", `a=1&sid=abc&b=2`, found("abc")},
	{"first field", "sid", `sid=abc&b=2`, found("abc")},
	{"last field", "sid", `a=1&sid=abc`, found("abc")},
	{"only field", "sid", `sid=abc`, found("abc")},
	{"plus and escapes in the value", "sid", `sid=a+b%2Fc%3d%E2%82%AC`, found("a b/c=€")},
	{"escapes in the name", "session id", `session+id=1&s%65ssion%20id=2`, found("1")},
	{"escaped name", "sid", `%73id=v`, found("v")},
	{"lower-case escapes", "sid", `sid=%2f%2F`, found("//")},
	{"equals in the value", "sid", `sid=a=b`, found("a=b")},
	{"name must match whole", "sid", `xsid=1&sidx=2&sid=3`, found("3")},
	{"empty fields", "sid", `&&sid=1&`, found("1")},
	{"first of several", "sid", `sid=1&sid=2`, found("1")},
	{"semicolon field skipped", "sid", `sid=1;x&sid=2`, found("2")},
	{"semicolon in another field", "sid", `a=1;b=2&sid=3`, found("3")},
	{"bad escape skipped", "sid", `sid=%zz&sid=ok`, found("ok")},
	{"short escape skipped", "sid", `sid=%4&sid=ok`, found("ok")},
	{"bad escape in the name", "sid", `s%id=1&sid=ok`, found("ok")},
	{"raw bytes kept", "sid", "sid=\xff x\n", found("\xff x\n")},
	{"space is a key", "sid", `sid=+`, found(" ")},

	{"not there", "sid", `a=1&b=2`, notFound},
	{"empty body", "sid", ``, notFound},
	{"empty value", "sid", `sid=&sid=2`, notFound},
	{"no equals", "sid", `sid&sid=2`, notFound},
	{"only bad fields", "sid", `sid=%&sid=1;`, notFound},
	{"case matters", "sid", `SID=1`, notFound},
}

func TestForm(t *testing.T) {
	for _, c := range formCases {
		t.Run(c.name, func(t *testing.T) {
			checkScanner(t, newForm(c.field), c.in, c.want)
			if ref := formRef([]byte(c.in), c.field); ref != c.want {
				t.Errorf("net/url finds %v, the case wants %v", ref, c.want)
			}
		})
	}
}

// TestFormCutShort checks that a last field cut by the limit is not taken
// for the whole value, while one that the stream ends is.
func TestFormCutShort(t *testing.T) {
	s := newForm("sid")
	in := []byte("a=1&sid=abcdef")
	for _, limit := range []int{10, len(in)} {
		if got := peekWith(t, s, in, limit, iotest.OneByteReader); got != notFound {
			t.Errorf("limit %d: got %v, want not-found", limit, got)
		}
	}
	if got := peekWith(t, s, in, len(in)+1, iotest.OneByteReader); got != found("abcdef") {
		t.Errorf("room for the whole body: got %v", got)
	}
	if got := peekWith(t, s, in, len(in), iotest.DataErrReader); got != found("abcdef") {
		t.Errorf("EOF with the last byte: got %v", got)
	}
	in = []byte("sid=abc&b=" + strings.Repeat("x", 50))
	if got := peekWith(t, s, in, 20, iotest.OneByteReader); got != found("abc") {
		t.Errorf("field closed by '&' within the limit: got %v", got)
	}
}

func TestFormAllocs(t *testing.T) {
	s := newForm("sid")
	for _, in := range []string{"a=1&sid=plain&b=2", "a=1&s%69d=a+b%21&b=2"} {
		b := []byte(in)
		allocs := testing.AllocsPerRun(100, func() {
			s.Reset()
			if _, res := s.Scan(b, true); res != Found {
				t.Fatalf("%s: no key", in)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per scan, want 0", in, allocs)
		}
	}
}

// formRef is the reference for the form scanner: the first value
// net/url.ParseQuery gives the field, empty meaning no key. ParseQuery's
// error only reports fields it skipped, which the scanner skips too.
func formRef(body []byte, field string) verdict {
	vals, _ := url.ParseQuery(string(body))
	if v := vals[field]; len(v) > 0 && v[0] != "" {
		return found(v[0])
	}
	return notFound
}

var fuzzFields = []string{"sid", "a b", "a", "é", "x=y"}

func FuzzForm(f *testing.F) {
	for _, c := range formCases {
		for i, name := range fuzzFields {
			if name == c.field {
				f.Add([]byte(c.in), uint8(i), uint16(len(c.in)/2))
			}
		}
	}
	f.Add([]byte("a+b=1&a%20b=2&%C3%A9=3&x%3Dy=4"), uint8(1), uint16(9))
	f.Fuzz(func(t *testing.T, in []byte, which uint8, limit uint16) {
		field := fuzzFields[int(which)%len(fuzzFields)]
		got := checkStreaming(t, newForm(field), in, int(limit))
		// Past ParseQuery's limit on fields it parses none.
		if bytes.Count(in, []byte("&")) < 10000 {
			if ref := formRef(in, field); got != ref {
				t.Fatalf("%q: scanner %v, net/url %v", in, got, ref)
			}
		}
	})
}
