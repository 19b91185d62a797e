package h1

import (
	"net/http"
	"net/textproto"
	"net/url"
	"strings"
	"testing"

	"golang.org/x/net/http/httpguts"
)

func TestIsToken(t *testing.T) {
	for c := range 256 {
		if IsToken(byte(c)) != httpguts.IsTokenRune(rune(c)) {
			t.Errorf("IsToken(%#x) = %v, httpguts says %v", c, IsToken(byte(c)), !IsToken(byte(c)))
		}
	}
}

// The byte tables agree with net/http's checks, byte for byte.
func TestByteTables(t *testing.T) {
	for c := range 256 {
		b := string([]byte{byte(c)})
		if hostByte[c] != httpguts.ValidHostHeader(b) {
			t.Errorf("Host byte %#x: ours %v, httpguts %v", c, hostByte[c], !hostByte[c])
		}
		if fieldByte[c] != httpguts.ValidHeaderFieldValue(b) {
			t.Errorf("field value byte %#x: ours %v, httpguts %v", c, fieldByte[c], !fieldByte[c])
		}
		if regNameByte[c] && !hostByte[c] {
			t.Errorf("authority byte %#x is not a Host byte", c)
		}
		if targetByte[c] && (c <= ' ' || c >= 0x7f) {
			t.Errorf("target byte %#x is not visible ASCII", c)
		}
	}
}

func TestHasToken(t *testing.T) {
	cases := []struct {
		value, token string
		want         bool
	}{
		{"close", "close", true},
		{"Close", "close", true},
		{"keep-alive, Upgrade", "upgrade", true},
		{" \tkeep-alive ,\tclose\t", "close", true},
		{"a,,b", "b", true},
		{"closed", "close", false},
		{"enclose", "close", false},
		{"close-ish, x", "close", false},
		{"", "close", false},
		{",", "close", false},
		{"\"close\"", "close", false},
		{"close;q=1", "close", false},
	}
	for _, c := range cases {
		if got := HasToken([]byte(c.value), c.token); got != c.want {
			t.Errorf("HasToken(%q, %q) = %v", c.value, c.token, got)
		}
		if got := httpguts.HeaderValuesContainsToken([]string{c.value}, c.token); got != c.want {
			t.Errorf("httpguts disagrees on %q %q: %v", c.value, c.token, got)
		}
	}
}

func TestMediaTypeIs(t *testing.T) {
	cases := []struct {
		value, mediaType string
		want             bool
	}{
		{"text/xml", "text/xml", true},
		{"Text/XML; charset=utf-8", "text/xml", true},
		{" text/xml ;charset=utf-8", "text/xml", true},
		{"text/xml\t", "text/xml", true},
		{"application/soap+xml; action=x", "application/soap+xml", true},
		{"text/xmlx", "text/xml", false},
		{"text/html; x=text/xml", "text/xml", false},
		{"", "text/xml", false},
		{";text/xml", "text/xml", false},
	}
	for _, c := range cases {
		if got := MediaTypeIs([]byte(c.value), c.mediaType); got != c.want {
			t.Errorf("MediaTypeIs(%q, %q) = %v", c.value, c.mediaType, got)
		}
	}
}

var queryCases = []struct {
	target, name string
}{
	{"/p?a=1&b=2", "b"},
	{"/p?a=1&a=2", "a"},
	{"/p?a", "a"},
	{"/p?a=", "a"},
	{"/p?=x", ""},
	{"/p?x=1", "a"},
	{"/p", "a"},
	{"/p?", "a"},
	{"/p?a=%41%42+c", "a"},
	{"/p?%61=1", "a"},
	{"/p?a+b=1", "a b"},
	{"/p?a%20b=1", "a b"},
	{"/p?a=%zz&a=2", "a"},
	{"/p?a%zz=1&a=3", "a"},
	{"/p?a=1;b=2&a=3", "a"},
	{"/p?a=1&&a=2", "a"},
	{"/p?a=b=c", "a"},
	{"/p?a=%", "a"},
	{"/p?a=%4", "a"},
	{"/p?sessionId=k%2F1&x", "sessionId"},
	{"/p?q=a?b", "q"},
	{"http://h/p?k=v", "k"},
	{"/p?k=%e9", "k"},
}

func TestAppendQueryValue(t *testing.T) {
	for _, c := range queryCases {
		checkQueryValue(t, c.target, c.name)
	}
}

// checkQueryValue compares AppendQueryValue with net/url's reading of the
// request-target.
func checkQueryValue(t *testing.T, target, name string) {
	t.Helper()
	got, ok := AppendQueryValue([]byte("pre:"), []byte(target), name)
	u, err := url.ParseRequestURI(target)
	if err != nil {
		return
	}
	vs, present := u.Query()[name]
	if ok != present || ok && string(got) != "pre:"+vs[0] || !ok && string(got) != "pre:" {
		t.Errorf("AppendQueryValue(%q, %q) = %q %v; net/url %q %v", target, name, got, ok, vs, present)
	}
}

var cookieCases = []struct {
	header, name string
}{
	{"a=1; b=2", "b"},
	{"a=1; b=2", "a"},
	{"a=1;b=2", "b"},
	{" a = 1 ", "a"},
	{"a= 1", "a"},
	{"a=\"1\"", "a"},
	{"a=\"1", "a"},
	{"a=\"", "a"},
	{"a=\"\"", "a"},
	{"a=1 2", "a"},
	{"a=1\"2", "a"},
	{"a=1\\2; a=3", "a"},
	{"a=caf\xe9; a=2", "a"},
	{"a", "a"},
	{"a=", "a"},
	{"A=1", "a"},
	{"a b=1; a=2", "a"},
	{";;a=1", "a"},
	{"x=1; sessionId=abc; y=2", "sessionId"},
	{"a=1", ""},
	{"=1", ""},
	{"a=\t1", "a"},
	{"a=1,b=2", "a"},
	{"a==1", "a"},
}

func TestAppendCookieValue(t *testing.T) {
	for _, c := range cookieCases {
		checkCookieValue(t, c.header, c.name)
	}
}

// checkCookieValue compares AppendCookieValue with net/http's
// (*Request).Cookie on a request with that one Cookie field.
func checkCookieValue(t *testing.T, header, name string) {
	t.Helper()
	if !httpguts.ValidHeaderFieldValue(header) {
		return // not a field value this package would hand over
	}
	header = textproto.TrimString(header) // as a parsed field value is
	got, ok := AppendCookieValue([]byte("pre:"), []byte(header), name)
	req := &http.Request{Header: http.Header{"Cookie": {header}}}
	ck, err := req.Cookie(name)
	if ok != (err == nil) || ok && string(got) != "pre:"+ck.Value || !ok && string(got) != "pre:" {
		t.Errorf("AppendCookieValue(%q, %q) = %q %v; net/http %v %v", header, name, got, ok, ck, err)
	}
}

func FuzzQueryValue(f *testing.F) {
	for _, c := range queryCases {
		f.Add(c.target, c.name)
	}
	f.Fuzz(func(t *testing.T, target, name string) { checkQueryValue(t, target, name) })
}

func FuzzCookieValue(f *testing.F) {
	for _, c := range cookieCases {
		f.Add(c.header, c.name)
	}
	f.Fuzz(func(t *testing.T, header, name string) { checkCookieValue(t, header, name) })
}

// fieldRun, eight bytes at a time, stops where a byte-by-byte scan stops:
// every byte value at every position, after bytes of each class.
func TestFieldRun(t *testing.T) {
	naive := func(s []byte) int {
		for i, c := range s {
			if !fieldByte[c] {
				return i
			}
		}
		return len(s)
	}
	s := make([]byte, 19)
	for _, before := range []byte{0, '\t', 0x1f, ' ', 'a', '~', 0x7f, 0x80, 0xff} {
		for c := range 256 {
			for pos := 1; pos < len(s); pos++ {
				for i := range s {
					s[i] = 'a'
				}
				s[pos-1], s[pos] = before, byte(c)
				if got, want := fieldRun(s), naive(s); got != want {
					t.Fatalf("fieldRun(%q) = %d, want %d", s, got, want)
				}
			}
		}
	}
}

// tokenIs folds case by setting bit 0x20, which is exact on token bytes.
func TestTokenIsFolding(t *testing.T) {
	for c := range 256 {
		if !IsToken(byte(c)) {
			continue
		}
		for _, l := range []byte("abcdefghijklmnopqrstuvwxyz0123456789-") {
			if (byte(c)|0x20 == l) != (lower(byte(c)) == l) {
				t.Errorf("token byte %q folds onto %q", byte(c), l)
			}
		}
	}
	for _, name := range []string{"te", "host", "expect", "upgrade", "trailer", "connection", "keep-alive",
		"content-length", "proxy-connection", "transfer-encoding", "proxy-authenticate", "proxy-authorization"} {
		if classify([]byte(name)) == kOther || classify([]byte(strings.ToUpper(name))) == kOther {
			t.Errorf("classify(%q) = kOther", name)
		}
	}
	for _, name := range []string{"hosts", "hos", "x-host", "content_length", "te-", "connectio"} {
		if classify([]byte(name)) != kOther {
			t.Errorf("classify(%q) = %d", name, classify([]byte(name)))
		}
	}
}
