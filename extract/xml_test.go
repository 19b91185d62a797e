package extract

import (
	"bytes"
	"encoding/xml"
	"io"
	"strings"
	"testing"
)

const soapDoc = `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:s="urn:session">
  <soapenv:Header>
    <s:sessionId>  abc-123  </s:sessionId>
  </soapenv:Header>
  <soapenv:Body><s:getBalance><s:account>42</s:account></s:getBalance></soapenv:Body>
</soapenv:Envelope>`

var xmlCases = []struct {
	name  string
	local string
	in    string
	want  verdict
}{
	{"simple", "id", `<a><id>123</id></a>`, found("123")},
	{"soap envelope", "sessionId", soapDoc, found("abc-123")},
	{"root element", "id", `<id>7</id>`, found("7")},
	{"any prefix", "id", `<a xmlns:s="urn:x"><s:id>p1</s:id></a>`, found("p1")},
	{"prefix of the name is no match", "id", `<idx>1</idx><xid>2</xid><id:x>3</id:x><id>4</id>`, found("4")},
	{"attributes", "id", `<id type="a>b/c" alt='/>'  q = "1" >k</id>`, found("k")},
	{"whitespace in tags", "id", "<id\n\t\r a='1'\n>k</id\n >", found("k")},
	{"attribute named like the key", "id", `<a id="5"><id>2</id></a>`, found("2")},
	{"markup in an attribute value", "id", `<a v="id>1" w='&lt;id>2'><id>3</id></a>`, found("3")},
	{"no space between attributes", "id", `<id a="1"b="2">k</id>`, found("k")},
	{"trimmed", "id", "<id>\n\t  key with spaces \r\n</id>", found("key with spaces")},
	{"entities", "id", `<id>a&amp;b&lt;&gt;&quot;&apos;</id>`, found(`a&b<>"'`)},
	{"character references", "id", `<id>&#65;&#x42;&#x1F600;&#0067;</id>`, found("AB\U0001F600C")},
	{"reference to a surrogate", "id", `<id>&#xD800;</id>`, found("\uFFFD")},
	{"reference to a space is trimmed", "id", `<id>&#32; x &#x20;</id>`, found("x")},
	{"references to line ends are kept", "id", `<id>a&#13;&#10;b</id>`, found("a\r\nb")},
	{"line ends normalised", "id", "<id>a\r\nb\rc\r\r\nd</id>", found("a\nb\nc\n\nd")},
	{"CDATA", "id", `<id><![CDATA[<x>&amp;]]]></id>`, found("<x>&amp;]")},
	{"CDATA line ends", "id", "<id><![CDATA[a\r\nb]]></id>", found("a\nb")},
	{"text and CDATA", "id", "<id> a<![CDATA[b]]>c&amp;<![CDATA[]]>d </id>", found("abc&d")},
	{"CDATA after leading space", "id", "<id>\n  <![CDATA[ k ]]>\n</id>", found("k")},
	{"comment in the key", "id", `<id>12<!-- <b>x</b> -->34</id>`, found("1234")},
	{"PI in the key", "id", `<id>12<?p x?>34</id>`, found("1234")},
	{"directive in the key", "id", `<id>12<!X a>34</id>`, found("1234")},
	{"match in a comment", "id", `<!-- <id>1</id> --><id>2</id>`, found("2")},
	{"comment with dashes", "id", `<!-- - -> -- ---><id>2</id>`, found("2")},
	{"match in a PI", "id", `<?xml version="1.0"?><?p <id>1</id> ?><id>2</id>`, found("2")},
	{"PI ends at the first ?>", "id", `<?p ?<id>?> <id>2</id>`, found("2")},
	{"match in CDATA", "id", `<x><![CDATA[<id>1</id>]]></x><id>2</id>`, found("2")},
	{"DOCTYPE", "id", `<!DOCTYPE r [<!ENTITY x "<id>1</id>"> <!-- <id>'> --> <!ATTLIST id a CDATA '>'>]><r><id>2</id></r>`, found("2")},
	{"DOCTYPE odd start", "id", `<!>id>1</id> x><id>2</id>`, found("2")},
	{"DOCTYPE nesting", "id", `<!D <> <id>1</id> ><id>2</id>`, found("2")},
	{"first match wins", "id", `<id>1</id><id>2</id>`, found("1")},
	{"arbitrary text", "id", `<id>user@example.com/é?x=1</id>`, found("user@example.com/é?x=1")},
	{"non-ASCII name", "ключ", `<ключ>v</ключ>`, found("v")},
	{"key cleanly found before garbage", "id", `<id>1</id><<<`, found("1")},
	{"other end tags are not checked", "id", `<a><b></a><id>1</id>`, found("1")},

	{"no element", "id", `<a><b>1</b></a>`, notFound},
	{"empty input", "id", ``, notFound},
	{"empty element", "id", `<id></id><id>2</id>`, notFound},
	{"self-closing element", "id", `<id/><id>2</id>`, notFound},
	{"self-closing with attributes", "id", `<id a="1" /><id>2</id>`, notFound},
	{"only whitespace", "id", "<id> \n\t</id><id>2</id>", notFound},
	{"only whitespace references", "id", "<id>&#32;&#x9;</id><id>2</id>", notFound},
	{"child element", "id", `<id><v>1</v></id><id>2</id>`, notFound},
	{"text around a child", "id", `<id>1<b/>2</id>`, notFound},
	{"nested match", "id", `<id><id>1</id></id>`, notFound},
	{"unclosed", "id", `<id>123`, notFound},
	{"end tag cut short", "id", `<id>123</id`, notFound},
	{"wrong end tag", "id", `<id>1</x>`, notFound},
	{"end tag with other prefix", "id", `<a:id>1</b:id>`, notFound},
	{"unknown entity", "id", `<id>a&nbsp;b</id>`, notFound},
	{"entity without semicolon", "id", `<id>a&amp b</id>`, notFound},
	{"bare ampersand", "id", `<id>a & b</id>`, notFound},
	{"reference to NUL", "id", `<id>&#0;</id>`, notFound},
	{"reference past Unicode", "id", `<id>&#x110000;</id>`, notFound},
	{"huge reference", "id", `<id>&#99999999999999999999;</id>`, notFound},
	{"empty reference", "id", `<id>&#;&#x;</id>`, notFound},
	{"uppercase X reference", "id", `<id>&#X41;</id>`, notFound},
	{"space after <", "id", `< id>1</id>`, notFound},
	{"unquoted attribute", "id", `<a b=c><id>1</id></a>`, notFound},
	{"attribute without value", "id", `<a b><id>1</id></a>`, notFound},
	{"bad comment opener", "id", `<!- x --><id>1</id>`, notFound},
	{"bad CDATA opener", "id", `<![CDATX[ ]]><id>1</id>`, notFound},
	{"unclosed comment", "id", `<!-- <id>1</id>`, notFound},
	{"slash not closing", "id", `<a / ><id>1</id>`, notFound},
	{"name with two colons", "id", `<a:b:id>1</a:b:id>`, notFound},
	{"end tag with attribute", "id", `<a></a b><id>1</id>`, notFound},
}

func TestXML(t *testing.T) {
	for _, c := range xmlCases {
		t.Run(c.name, func(t *testing.T) {
			checkScanner(t, newXML(c.local), c.in, c.want)
			ref, ok := xmlRef([]byte(c.in), func(n xml.Name) bool { return n.Local == c.local })
			if ok && ref != c.want {
				t.Errorf("encoding/xml finds %v, the case wants %v", ref, c.want)
			}
		})
	}
}

func TestXMLLimit(t *testing.T) {
	in := `<a><b>` + strings.Repeat("x", 100) + `</b><id>key</id></a>`
	keyEnd := strings.Index(in, "</id>") + len("</id>")
	s := newXML("id")
	checkLimit(t, s, in, keyEnd)
	if got := peekWith(t, s, []byte(in), keyEnd, readers[1].wrap); got != found("key") {
		t.Errorf("limit at the end of the key: got %v", got)
	}
}

// TestXMLReuse checks that one scanner serves many streams, keeping its
// buffer and not leaking the previous key.
func TestXMLReuse(t *testing.T) {
	s := newXML("id")
	for _, c := range []struct {
		in   string
		want verdict
	}{
		{`<id>a&amp;b</id>`, found("a&b")},
		{`<id>plain</id>`, found("plain")},
		{`<id></id>`, notFound},
		{`<id>x&lt;y</id>`, found("x<y")},
	} {
		if got := scanWhole(s, []byte(c.in)); got != c.want {
			t.Errorf("%q: got %v, want %v", c.in, got, c.want)
		}
	}
}

func TestXMLShrunkWindow(t *testing.T) {
	s := newXML("id")
	s.Scan([]byte("<a><b>"), false)
	if _, res := s.Scan([]byte("<a>"), false); res != NotFound {
		t.Fatalf("a window shorter than the last one: got %v, want not-found", res)
	}
}

func TestXMLAllocs(t *testing.T) {
	for _, in := range []string{soapDoc, `<a><id>a&amp;b<![CDATA[c]]></id></a>`} {
		s := newXMLNS("urn:session", "sessionId")
		p := newXML("id")
		b := []byte(in)
		allocs := testing.AllocsPerRun(100, func() {
			s.Reset()
			s.Scan(b, true)
			p.Reset()
			p.Scan(b, true)
		})
		if allocs != 0 {
			t.Errorf("%q: %v allocations per scan, want 0", in, allocs)
		}
	}
}

var xmlNSCases = []struct {
	name         string
	space, local string
	in           string
	want         verdict
}{
	{"default namespace", "urn:a", "id", `<r xmlns="urn:a"><id>1</id></r>`, found("1")},
	{"default namespace mismatch", "urn:b", "id", `<r xmlns="urn:a"><id>1</id></r>`, notFound},
	{"default namespace is not none", "", "id", `<r xmlns="urn:a"><id>1</id></r>`, notFound},
	{"no namespace", "", "id", `<r><id>1</id></r>`, found("1")},
	{"no namespace mismatch", "urn:a", "id", `<r><id>1</id></r>`, notFound},
	{"prefixed", "urn:a", "id", `<p:r xmlns:p="urn:a"><p:id>1</p:id></p:r>`, found("1")},
	{"declared in the same tag", "urn:a", "id", `<p:id xmlns:p="urn:a">1</p:id>`, found("1")},
	{"declared after other attributes", "urn:a", "id", `<p:id a="1" xmlns:p='urn:a' b="2">1</p:id>`, found("1")},
	{"mismatch skipped", "urn:a", "id", `<r xmlns:p="urn:b" xmlns:q="urn:a"><p:id>1</p:id><q:id>2</q:id></r>`, found("2")},
	{"redeclared inside", "urn:b", "id", `<r xmlns:p="urn:a"><x xmlns:p="urn:b"><p:id>1</p:id></x><p:id>2</p:id></r>`, found("1")},
	{"redeclared inside, outer sought", "urn:a", "id", `<r xmlns:p="urn:a"><x xmlns:p="urn:b"><p:id>1</p:id></x><p:id>2</p:id></r>`, found("2")},
	{"redeclared on a self-closing element", "urn:a", "id", `<r xmlns:p="urn:a"><x xmlns:p="urn:b"/><p:id>2</p:id></r>`, found("2")},
	{"redeclared twice in one tag", "urn:b", "id", `<r xmlns:p="urn:a" xmlns:p="urn:b"><p:id>1</p:id></r>`, found("1")},
	{"scope ends", "urn:a", "id", `<r><x xmlns:p="urn:a"></x><p:id>1</p:id></r>`, notFound},
	{"sibling scopes", "urn:a", "id", `<r><a xmlns:p="urn:b"><p:id>1</p:id></a><b xmlns:p="urn:a"><p:id>2</p:id></b></r>`, found("2")},
	{"default undeclared", "", "id", `<r xmlns="urn:a"><s xmlns=""><id>1</id></s><id>2</id></r>`, found("1")},
	{"default restored", "urn:a", "id", `<r xmlns="urn:a"><s xmlns=""><id>1</id></s><id>2</id></r>`, found("2")},
	{"prefix and default", "urn:b", "id", `<r xmlns="urn:a" xmlns:p="urn:b"><id>2</id><p:id>1</p:id></r>`, found("1")},
	{"prefix and default, default sought", "urn:a", "id", `<r xmlns:p="urn:b" xmlns="urn:a"><p:id>1</p:id><id>2</id></r>`, found("2")},
	{"unbound prefix", "urn:a", "id", `<p:id>1</p:id>`, notFound},
	{"unbound prefix is not no namespace", "", "id", `<p:id>1</p:id><id>2</id>`, found("2")},
	{"xml prefix", xmlURL, "id", `<r><xml:id>1</xml:id></r>`, found("1")},
	{"reference in the URI", "urn:a&b", "id", `<r xmlns:p="urn:a&amp;b"><p:id>1</p:id></r>`, found("1")},
	{"bad reference in the URI", "urn:a", "id", `<r xmlns:p="urn:a&bad;"><p:id>1</p:id></r>`, notFound},
	{"empty first match", "urn:a", "id", `<r xmlns:p="urn:a"><id/><p:id/><p:id>2</p:id></r>`, notFound},
	{"soap", "urn:session", "sessionId", soapDoc, found("abc-123")},
	{"soap other namespace", "urn:other", "sessionId", soapDoc, notFound},
	{"wrong end tag", "urn:a", "id", `<a xmlns:p="urn:a"><b></a><p:id>1</p:id>`, notFound},
	{"stray end tag", "urn:a", "id", `</a><id xmlns="urn:a">1</id>`, notFound},
	{"attribute with two colons", "urn:a", "id", `<r a:b:c="1"><id xmlns="urn:a">1</id></r>`, notFound},
	{"deep but within bounds", "", "id", strings.Repeat("<a>", maxXMLDepth-1) + "<id>1</id>", found("1")},
	{"too deep", "", "id", strings.Repeat("<a>", maxXMLDepth) + "<id>1</id>", notFound},
	{"too many declarations", "urn:a", "id", "<r" + strings.Repeat(` xmlns:p="urn:b"`, maxXMLBindings+1) + `><id xmlns="urn:a">1</id></r>`, notFound},
}

// withinBounds reports whether doc stays within the nesting and the
// declarations a namespace-aware scanner follows. Near the bounds it
// errs on the side of false.
func withinBounds(doc string) bool {
	d := xml.NewDecoder(strings.NewReader(doc))
	var scopes []int
	inScope := 0
	for {
		tok, err := d.Token()
		if err != nil {
			return true
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			n := 0
			for _, a := range tok.Attr {
				if a.Name.Space == "xmlns" || a.Name.Space == "" && a.Name.Local == "xmlns" {
					n++
				}
			}
			scopes = append(scopes, n)
			inScope += n
			if len(scopes) >= maxXMLDepth || inScope >= maxXMLBindings {
				return false
			}
		case xml.EndElement:
			inScope -= scopes[len(scopes)-1]
			scopes = scopes[:len(scopes)-1]
		}
	}
}

func TestXMLNS(t *testing.T) {
	for _, c := range xmlNSCases {
		t.Run(c.name, func(t *testing.T) {
			checkScanner(t, newXMLNS(c.space, c.local), c.in, c.want)
			ref, ok := xmlRef([]byte(c.in), func(n xml.Name) bool { return n.Space == c.space && n.Local == c.local })
			if ok && ref != c.want && withinBounds(c.in) {
				t.Errorf("encoding/xml finds %v, the case wants %v", ref, c.want)
			}
		})
	}
}

// xmlRef is the reference for the XML scanners: encoding/xml's first
// element matched by match, with the same rules (its character data
// trimmed; empty or with a child element it is no key). ok reports whether
// encoding/xml finds doc well-formed; only then does the answer count.
func xmlRef(doc []byte, match func(xml.Name) bool) (a verdict, ok bool) {
	d := xml.NewDecoder(bytes.NewReader(doc))
	d.Strict = true
	const (
		looking = iota
		inside
		decided
	)
	state, a := looking, notFound
	var text []byte
	for {
		tok, err := d.Token()
		if err == io.EOF {
			return a, true
		}
		if err != nil {
			return a, false
		}
		switch tok := tok.(type) {
		case xml.StartElement:
			if state == inside {
				state = decided
			} else if state == looking && match(tok.Name) {
				state = inside
			}
		case xml.EndElement:
			if state == inside {
				state = decided
				if k := bytes.Trim(text, " \t\n\r"); len(k) > 0 {
					a = found(string(k))
				}
			}
		case xml.CharData:
			if state == inside {
				text = append(text, tok...)
			}
		}
	}
}

func FuzzXML(f *testing.F) {
	for _, c := range xmlCases {
		if c.local == "id" {
			f.Add([]byte(c.in), uint16(len(c.in)/2))
		}
	}
	f.Add([]byte(strings.ReplaceAll(soapDoc, "sessionId", "id")), uint16(100))
	f.Fuzz(func(t *testing.T, in []byte, limit uint16) {
		s := newXML("id")
		match := func(n xml.Name) bool { return n.Local == "id" }
		for _, doc := range [][]byte{in, genXML(in)} {
			got := checkStreaming(t, s, doc, int(limit))
			if ref, ok := xmlRef(doc, match); ok && got != ref {
				t.Fatalf("%q: scanner %v, encoding/xml %v", doc, got, ref)
			}
		}
	})
}

// fuzzSpaces are the namespaces FuzzXMLNamespace looks in. encoding/xml
// leaves an unbound prefix as the element's namespace, where the scanner
// puts it in none; a URI with a colon can never be a prefix, so the two
// agree on these.
var fuzzSpaces = []string{"urn:a", "urn:b", "", xmlURL}

func FuzzXMLNamespace(f *testing.F) {
	for _, c := range xmlNSCases {
		for i, sp := range fuzzSpaces {
			if c.local == "id" && c.space == sp && len(c.in) < 2000 {
				f.Add([]byte(c.in), uint8(i), uint16(len(c.in)/2))
			}
		}
	}
	f.Fuzz(func(t *testing.T, in []byte, which uint8, limit uint16) {
		space := fuzzSpaces[int(which)%len(fuzzSpaces)]
		s := newXMLNS(space, "id")
		match := func(n xml.Name) bool { return n.Space == space && n.Local == "id" }
		for _, doc := range [][]byte{in, genXML(in)} {
			got := checkStreaming(t, s, doc, int(limit))
			ref, ok := xmlRef(doc, match)
			if ok && got != ref && withinBounds(string(doc)) {
				t.Fatalf("%q: scanner %v, encoding/xml %v", doc, got, ref)
			}
		}
	})
}

// genXML builds a document from fuzz bytes read as a program, so that the
// differential fuzz targets see mostly well-formed documents full of the
// constructs the scanners must get right. Each byte picks a construct and
// the next one, where needed, its variant.
func genXML(prog []byte) []byte {
	names := []string{"id", "a", "p:id", "q:id", "id", "b", "p:a", "xml:id", "idx"}
	attrs := []string{` x="1>/"`, ` xmlns:p="urn:a"`, ` xmlns:p="urn:b"`, ` xmlns="urn:a"`,
		` xmlns=""`, ` xmlns:q="urn:a"`, " y = '<!--'", ` xmlns:q="urn:a&amp;"`, ` xmlns:p=""`}
	texts := []string{"k1", " ", "\r\n", "&amp;", "&#65;", "&#x20;", "a b", "é", "&lt;id&gt;", "\r", "\t", "x]]y"}
	others := []string{"<!-- <id>c</id> -->", "<?pi <id>p</id>?>", "<![CDATA[ <id>d</id> ]]>",
		"<![CDATA[\r\n]]>", "<!DOCTYPE r [<!ENTITY e '<id>'>]>", "<![CDATA[]]>", "<?xml version='1.0'?>"}
	i := 0
	arg := func() int {
		i++
		if i < len(prog) {
			return int(prog[i])
		}
		return 0
	}
	pick := func(set []string) string { return set[arg()%len(set)] }
	var b strings.Builder
	var open []string
	for ; i < len(prog); i++ {
		switch prog[i] % 8 {
		case 1: // an element holding only text
			name := pick(names)
			b.WriteString("<" + name + pick(attrs) + ">")
			for range arg() % 4 {
				if c := arg(); c%3 == 0 {
					b.WriteString(others[c%len(others)])
				} else {
					b.WriteString(texts[c%len(texts)])
				}
			}
			b.WriteString("</" + name + ">")
		case 0:
			name := pick(names)
			b.WriteString("<" + name)
			shape := arg()
			for range shape % 3 {
				b.WriteString(pick(attrs))
			}
			if shape%5 == 0 {
				b.WriteString("/>")
			} else {
				b.WriteString(">")
				open = append(open, name)
			}
		case 2, 3:
			if len(open) > 0 {
				b.WriteString("</" + open[len(open)-1] + ">")
				open = open[:len(open)-1]
			}
		case 4, 5:
			b.WriteString(pick(texts))
		case 6:
			b.WriteString(pick(others))
		case 7:
			if c := arg(); c != '<' && c != '&' {
				b.WriteByte(byte(c))
			}
		}
	}
	for len(open) > 0 {
		b.WriteString("</" + open[len(open)-1] + ">")
		open = open[:len(open)-1]
	}
	return []byte(b.String())
}
