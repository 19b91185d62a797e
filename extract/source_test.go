package extract

import (
	"strings"
	"testing"
)

func TestParseSources(t *testing.T) {
	for _, c := range []struct {
		spec string
		want []string // String of each source
		body []bool
	}{
		{"xml:sessionId", []string{"xml:sessionId"}, []bool{true}},
		{" header:X-Session , cookie:sid,query:s ", []string{"header:X-Session", "cookie:sid", "query:s"}, []bool{false, false, false}},
		{"xml:{urn:a}id,json:items.0.id,form:sid", []string{"xml:{urn:a}id", "json:items.0.id", "form:sid"}, []bool{true, true, true}},
		{"xml:{}id", []string{"xml:{}id"}, []bool{true}},
		{"form:a b", []string{"form:a b"}, []bool{true}},
		{`header:X,regex:k=(\d+),(\d+)`, []string{"header:X", `regex:k=(\d+),(\d+)`}, []bool{false, true}},
		{`regex:a{1,2}(b),xml:id`, []string{`regex:a{1,2}(b),xml:id`}, []bool{true}},
	} {
		got, err := ParseSources(c.spec)
		if err != nil {
			t.Errorf("%q: %v", c.spec, err)
			continue
		}
		var names []string
		for i, s := range got {
			names = append(names, s.String())
			if s.FromBody() != c.body[i] {
				t.Errorf("%q: %v FromBody %v", c.spec, s, s.FromBody())
			}
		}
		if strings.Join(names, "|") != strings.Join(c.want, "|") {
			t.Errorf("%q: got %q, want %q", c.spec, names, c.want)
		}
		if _, err := NewChain(got); err != nil {
			t.Errorf("%q: NewChain: %v", c.spec, err)
		}
	}
}

func TestParseSourcesErrors(t *testing.T) {
	for _, c := range []struct{ spec, want string }{
		{"", "no key source"},
		{"  ", "no key source"},
		{"jsn:a", `key source "jsn:a": unknown kind "jsn"`},
		{"sessionId", `key source "sessionId": want KIND:NAME`},
		{"xml:", `key source "xml:": empty name`},
		{"xml:a,,xml:b", `key source 2 is empty`},
		{"xml:a,", `key source 2 is empty`},
		{"xml:s:id", `key source "xml:s:id": "s:id": give the local name without a prefix`},
		{"xml:{urn:a id", `key source "xml:{urn:a id": "{urn:a id": no } after the namespace`},
		{"xml:{urn:a}", `key source "xml:{urn:a}": no element name`},
		{"xml:a b", `key source "xml:a b": "a b" is not an XML name`},
		{"xml:1a", `key source "xml:1a": "1a" is not an XML name`},
		{"json:a..b", `key source "json:a..b": path "a..b" has an empty segment`},
		{"json:.a", `key source "json:.a": path ".a" has an empty segment`},
		{"regex:(", `key source "regex:(": error parsing regexp`},
		{`regex:\d+`, `key source "regex:\\d+": the pattern needs a capture group`},
		{"xml:id,Header:X", `key source "Header:X": unknown kind "Header"`},
	} {
		_, err := ParseSources(c.spec)
		if err == nil || !strings.HasPrefix(err.Error(), c.want) {
			t.Errorf("%q: got error %v, want %q", c.spec, err, c.want)
		}
	}
}

func TestAccepts(t *testing.T) {
	src := func(k Kind) Source { return Source{Kind: k, Name: "a"} }
	for _, c := range []struct {
		kind Kind
		mt   string
		want bool
	}{
		{JSON, "application/json", true},
		{JSON, "application/problem+json", true},
		{JSON, "application/+json", false},
		{JSON, "text/json", false},
		{JSON, "application/jsonx", false},
		{JSON, "", false},
		{Form, "application/x-www-form-urlencoded", true},
		{Form, "multipart/form-data", false},
		{XML, "application/json", true},
		{XML, "", true},
		{Regex, "text/plain", true},
		{Header, "", true},
	} {
		if got := src(c.kind).Accepts(c.mt); got != c.want {
			t.Errorf("%v accepts %q: %v, want %v", c.kind, c.mt, got, c.want)
		}
	}
}

func TestKindString(t *testing.T) {
	for k, want := range map[Kind]string{Header: "header", Regex: "regex", 0: "kind(0)", 99: "kind(99)"} {
		if got := k.String(); got != want {
			t.Errorf("Kind(%d): %q, want %q", k, got, want)
		}
	}
}

func TestNewChainChecksHandMadeSources(t *testing.T) {
	for _, s := range []Source{{Kind: JSON, Name: "a..b"}, {Kind: Regex, Name: "x"}, {Kind: XML, Name: ""}, {Kind: 42, Name: "x"}} {
		if _, err := NewChain([]Source{s}); err == nil && s.FromBody() {
			t.Errorf("%v: no error", s)
		}
	}
	if _, err := NewChain([]Source{{Kind: Regex, Name: `k=(\d)`}, {Kind: XML, Name: "{urn:a}id"}}); err != nil {
		t.Errorf("valid hand-made sources: %v", err)
	}
}
