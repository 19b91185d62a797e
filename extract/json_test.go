package extract

import (
	"bytes"
	"encoding/json"
	"io"
	"strconv"
	"strings"
	"testing"
)

var jsonCases = []struct {
	name string
	path string
	in   string
	want verdict
}{
	{"simple", "a.b.c", `{"a":{"b":{"c":"x"}}}`, found("x")},
	{"top level", "sid", `{"user":"u","sid":"s-1"}`, found("s-1")},
	{"array index", "items.1.id", `{"items":[{"id":"i0"},{"id":"i1"}]}`, found("i1")},
	{"array index zero", "items.0.id", `{"items":[{"id":"i0"},{"id":"i1"}]}`, found("i0")},
	{"array of scalars", "a.2", `{"a":[1,[2],3,4]}`, found("3")},
	{"index past the end", "a.5", `{"a":[1,2]}`, notFound},
	{"root array", "1.id", `[{"id":1},{"id":2}]`, found("2")},
	{"numeric segment names a key", "0", `{"0":"zero"}`, found("zero")},
	{"leading zero is no index", "a.01", `[0,1]`, notFound},
	{"number verbatim", "a", `{"a":-1.50e+3}`, found("-1.50e+3")},
	{"integer", "a", `{"a":42}`, found("42")},
	{"zero", "a", `{"a":0}`, found("0")},
	{"true", "a", `{"a":true}`, found("true")},
	{"false", "a", `{"a":false}`, found("false")},
	{"null", "a", `{"a":null}`, notFound},
	{"object", "a", `{"a":{"b":1}}`, notFound},
	{"array", "a", `{"a":[1]}`, notFound},
	{"empty string", "a", `{"a":""}`, notFound},
	{"space is a key", "a", `{"a":" "}`, found(" ")},
	{"whitespace everywhere", "a.b", " \n{ \"a\" :\t{\r\"b\" : \"v\" } } ", found("v")},
	{"path in a string", "id", `{"note":"{\"id\":\"fake\"}","id":"real"}`, found("real")},
	{"path in a key", "a.b", `{"a.b":"no","a":{"b":"yes"}}`, found("yes")},
	{"key as a value", "a", `["a","b",{"x":"a"},{"a":"yes"}]`, notFound},
	{"same key deeper", "id", `{"x":{"id":"deep"},"id":"top"}`, found("top")},
	{"same key shallower", "x.id", `{"id":"top","x":{"id":"deep"}}`, found("deep")},
	{"wrong container kind", "a.0", `{"a":{"x":1}}`, notFound},
	{"escaped key", "séssion", `{"s\u00e9ssion":"v"}`, found("v")},
	{"quote in a key", `a"b`, `{"a\"b":"v"}`, found("v")},
	{"escaped value", "a", `{"a":"caf\u00e9 \"q\" \\ \/ \b\f\n\r\t"}`, found("café \"q\" \\ / \b\f\n\r\t")},
	{"surrogate pair", "a", `{"a":"\ud83d\ude00"}`, found("\U0001F600")},
	{"lone surrogate", "a", `{"a":"\ud83dx"}`, found("\uFFFDx")},
	{"surrogate then other escape", "a", `{"a":"\ud83d\u0041"}`, found("\uFFFDA")},
	{"low surrogate alone", "a", `{"a":"\ude00"}`, found("\uFFFD")},
	{"invalid UTF-8", "a", "{\"a\":\"x\xffy\"}", found("x\uFFFDy")},
	{"valid UTF-8", "a", `{"a":"日本"}`, found("日本")},
	{"escaped NUL", "a", `{"a":"\u0000"}`, found("\x00")},
	{"long string with an escape", "a", `{"a":"0123456789abcdef\"xyz0123456789"}`, found(`0123456789abcdef"xyz0123456789`)},
	{"long string with a control character", "a", "{\"a\":\"0123456789abcdef\x01xyz\"}", notFound},
	{"long string with invalid UTF-8", "a", "{\"a\":\"0123456789abcdef\xffxyz\"}", found("0123456789abcdef\uFFFDxyz")},
	{"long non-ASCII key", "ключ_0123456789", `{"ключ_0123456789":"v"}`, found("v")},
	{"long key with invalid UTF-8", "ab\uFFFDcdefghijklmnop", "{\"ab\xffcdefghijklmnop\":\"v\"}", found("v")},
	{"first of duplicate keys", "a", `{"a":"1","a":"2"}`, found("1")},
	{"path through a duplicate", "a.b", `{"a":{"x":1},"a":{"b":"2"}}`, found("2")},
	{"null first", "a", `{"a":null,"a":"2"}`, notFound},
	{"found before a fault", "a", `{"a":"v",}`, found("v")},
	{"found before garbage", "a", `{"a":1]`, notFound},

	{"skipped container", "k", `{"skip":{"a":[1,-2.5e3,true,false,null,"s\"\u00e9\\",{"b":[]},[],""], "c" : { } ,"d":0},"k":"v"}`, found("v")},
	{"skipped container, spaced", "k", "{ \"skip\" : [ { \"a\" : 1 } , [ ] , \"x\" ] , \"k\" : \"v\" }", found("v")},

	{"scalar document", "a", `"a"`, notFound},
	{"skipped: missing comma", "k", `{"skip":[1 2],"k":"v"}`, notFound},
	{"skipped: missing colon", "k", `{"skip":{"a" 1},"k":"v"}`, notFound},
	{"skipped: bad number", "k", `{"skip":[01],"k":"v"}`, notFound},
	{"skipped: bad escape", "k", `{"skip":["\x"],"k":"v"}`, notFound},
	{"skipped: bad unicode escape", "k", `{"skip":["\u12g4"],"k":"v"}`, notFound},
	{"skipped: control character", "k", "{\"skip\":[\"a\tb\"],\"k\":\"v\"}", notFound},
	{"skipped: bad literal", "k", `{"skip":[tru],"k":"v"}`, notFound},
	{"skipped: trailing comma", "k", `{"skip":[1,],"k":"v"}`, notFound},
	{"skipped: wrong bracket", "k", `{"skip":[1},"k":"v"}`, notFound},
	{"skipped: key not a string", "k", `{"skip":{a:1},"k":"v"}`, notFound},
	{"empty document", "a", ``, notFound},
	{"not there", "b", `{"a":1}`, notFound},
	{"unterminated number", "a", `{"a":12`, notFound},
	{"unterminated string", "a", `{"a":"x`, notFound},
	{"no delimiter after the value", "a", `{"a":"x"`, notFound},
	{"bad number", "a", `{"a":01}`, notFound},
	{"bad fraction", "a", `{"a":1.}`, notFound},
	{"bad exponent", "a", `{"a":1e}`, notFound},
	{"plus sign", "a", `{"a":+1}`, notFound},
	{"letters after a number", "a", `{"a":1x}`, notFound},
	{"bad literal", "a", `{"a":tru}`, notFound},
	{"single quotes", "a", `{'a':1}`, notFound},
	{"no colon", "a", `{"a" 1}`, notFound},
	{"control character", "a", "{\"a\":\"x\ny\"}", notFound},
	{"bad escape", "a", `{"a":"\x"}`, notFound},
	{"short unicode escape", "a", `{"a":"\u12"}`, notFound},
	{"trailing comma before", "b", `{"a":1,}`, notFound},
	{"mismatched bracket", "b", `{"a":[1}, "b":2}`, notFound},
	{"after the document", "b", `{"a":1} {"b":2}`, notFound},
	{"deep but within bounds", "a", strings.Repeat("[", maxJSONDepth-1) + `{"a":1}` + strings.Repeat("]", maxJSONDepth-1), notFound},
	{"within bounds on the path", strings.Repeat("0.", maxJSONDepth-1) + "a", strings.Repeat("[", maxJSONDepth-1) + `{"a":1}` + strings.Repeat("]", maxJSONDepth-1), found("1")},
	{"too deep", "x", strings.Repeat("[", maxJSONDepth+1) + strings.Repeat("]", maxJSONDepth+1) + `,{"x":1}`, notFound},
}

func TestJSON(t *testing.T) {
	for _, c := range jsonCases {
		t.Run(c.name, func(t *testing.T) {
			checkScanner(t, newJSON(c.path), c.in, c.want)
			if ref, ok := jsonRef([]byte(c.in), c.path); ok && ref != c.want {
				t.Errorf("encoding/json finds %v, the case wants %v", ref, c.want)
			}
		})
	}
}

func TestJSONLimit(t *testing.T) {
	in := `{"pad":"` + strings.Repeat("x", 100) + `","sid":"key"}`
	checkLimit(t, newJSON("sid"), in, len(in))
}

func TestJSONAllocs(t *testing.T) {
	for _, c := range []struct{ path, in string }{
		{"a.b", `{"x":[1,2,{"y":"z"}],"a":{"b":"plain"}}`},
		{"a.b", `{"a":{"b":"caf\u00e9"}}`},
		{"a.1", `{"a":[0,-1.5e3]}`},
	} {
		s := newJSON(c.path)
		b := []byte(c.in)
		allocs := testing.AllocsPerRun(100, func() {
			s.Reset()
			if _, res := s.Scan(b, true); res != Found {
				t.Fatalf("%s: no key", c.in)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per scan, want 0", c.in, allocs)
		}
	}
}

// jsonRef is the reference for the JSON scanner: encoding/json decodes doc
// into an any, with UseNumber, and the path is walked, a numeric segment
// indexing an array or naming a key. ok reports whether doc is valid and
// the answers can be compared: no object in it has duplicate keys (where
// encoding/json keeps the last and the scanner takes the first) and it is
// within the scanner's nesting bound.
func jsonRef(doc []byte, path string) (a verdict, ok bool) {
	if !json.Valid(doc) || !plainJSON(doc) {
		return notFound, false
	}
	d := json.NewDecoder(bytes.NewReader(doc))
	d.UseNumber()
	var v any
	if err := d.Decode(&v); err != nil {
		return notFound, false
	}
	for _, seg := range strings.Split(path, ".") {
		switch x := v.(type) {
		case map[string]any:
			v = x[seg]
		case []any:
			n, err := strconv.Atoi(seg)
			if err != nil || n < 0 || n >= len(x) || strconv.Itoa(n) != seg {
				return notFound, true
			}
			v = x[n]
		default:
			return notFound, true
		}
	}
	switch x := v.(type) {
	case string:
		if x != "" {
			return found(x), true
		}
	case json.Number:
		return found(string(x)), true
	case bool:
		return found(strconv.FormatBool(x)), true
	}
	return notFound, true
}

// plainJSON reports whether the valid document doc has no duplicate keys
// in an object and nests less deeply than the scanner's bound.
func plainJSON(doc []byte) bool {
	d := json.NewDecoder(bytes.NewReader(doc))
	type frame struct {
		keys    map[string]bool
		wantKey bool
	}
	var stack []*frame
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return true
		}
		if err != nil {
			return false
		}
		var top *frame
		if len(stack) > 0 {
			top = stack[len(stack)-1]
		}
		if top != nil && top.keys != nil && top.wantKey {
			if k, isKey := tok.(string); isKey {
				if top.keys[k] {
					return false
				}
				top.keys[k] = true
				top.wantKey = false
				continue
			}
		}
		switch tok {
		case json.Delim('{'):
			stack = append(stack, &frame{keys: map[string]bool{}, wantKey: true})
		case json.Delim('['):
			stack = append(stack, &frame{})
		case json.Delim('}'), json.Delim(']'):
			stack = stack[:len(stack)-1]
		}
		if len(stack) >= maxJSONDepth {
			return false
		}
		// A value was completed in an object: a key comes next.
		if len(stack) > 0 && tok != json.Delim('{') && tok != json.Delim('[') {
			if f := stack[len(stack)-1]; f.keys != nil {
				f.wantKey = true
			}
		}
	}
}

var fuzzPaths = []string{"a", "a.b", "items.0.id", "0", "a.1", "ab", "id"}

func FuzzJSON(f *testing.F) {
	for _, c := range jsonCases {
		for i, p := range fuzzPaths {
			if p == c.path && len(c.in) < 2000 {
				f.Add([]byte(c.in), uint8(i), uint16(len(c.in)/2))
			}
		}
	}
	f.Add([]byte{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, uint8(0), uint16(0))
	f.Fuzz(func(t *testing.T, in []byte, which uint8, limit uint16) {
		path := fuzzPaths[int(which)%len(fuzzPaths)]
		s := newJSON(path)
		for _, doc := range [][]byte{in, genJSON(in)} {
			got := checkStreaming(t, s, doc, int(limit))
			if ref, ok := jsonRef(doc, path); ok && got != ref {
				t.Fatalf("%q at %s: scanner %v, encoding/json %v", doc, path, got, ref)
			}
		}
	})
}

// genJSON builds a JSON document from fuzz bytes read as a program, so
// that FuzzJSON sees mostly valid documents with the paths it looks for.
func genJSON(prog []byte) []byte {
	keys := []string{`"a"`, `"b"`, `"id"`, `"items"`, `"0"`, `"1"`, `"a\u0062"`, `"\u0061"`, `"a.b"`, `""`, `"c"`}
	scalars := []string{`"v"`, `""`, `"caf\u00e9"`, `"\ud83d\ude00"`, `"\ud83d"`, `"a\"b"`, `"{\"a\":1}"`,
		`0`, `-1.5e3`, `12`, `1E+2`, `true`, `false`, `null`, "\"\xff\"", `" "`}
	i := 0
	next := func() int {
		if i < len(prog) {
			i++
			return int(prog[i-1])
		}
		return 0
	}
	var b strings.Builder
	var value func(depth int)
	value = func(depth int) {
		op := next()
		if depth > 6 || i >= len(prog) {
			op = 2
		}
		switch op % 4 {
		case 0: // object
			b.WriteByte('{')
			for n := range next() % 4 {
				if n > 0 {
					b.WriteByte(',')
				}
				b.WriteString(keys[next()%len(keys)])
				b.WriteString(":")
				value(depth + 1)
			}
			b.WriteByte('}')
		case 1: // array
			b.WriteString("[ ")
			for n := range next() % 4 {
				if n > 0 {
					b.WriteString(" ,")
				}
				value(depth + 1)
			}
			b.WriteByte(']')
		default:
			b.WriteString(scalars[next()%len(scalars)])
		}
	}
	b.WriteString("{")
	for n := 0; i < len(prog); n++ {
		if n > 0 {
			b.WriteByte(',')
		}
		b.WriteString(keys[next()%len(keys)] + ":")
		value(1)
	}
	b.WriteString("}")
	return []byte(b.String())
}

func TestValidNumber(t *testing.T) {
	for _, n := range []string{"0", "7", "42", "-1", "-0", "10", "123", "0.5", "-0.5e-3", "1E+2", "1e2", "12.25"} {
		if !validNumber([]byte(n)) || !json.Valid([]byte(n)) {
			t.Errorf("%s: not valid", n)
		}
	}
	for _, n := range []string{"-", "01", "--", "1.", ".5", "1e", "1e+", "+1", "0x1", "1-", "00", "-01", "1.2.3", "1e2e3", "-."} {
		if validNumber([]byte(n)) || json.Valid([]byte(n)) {
			t.Errorf("%s: valid", n)
		}
	}
}
