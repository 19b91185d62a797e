package h1

import (
	"strings"
	"testing"
)

// reqWant is what a request head should parse into.
type reqWant struct {
	method, target string
	minor          int
	host           string // "<nil>" for no Host field
	length         int64
	chunked        bool
	close          bool
	upgrade        bool
	expect         bool
}

// hostOK is the usual Host line, so the cases show only what they test.
const hostOK = "Host: a\r\n"

func TestRequestAccepted(t *testing.T) {
	get := func(target string) reqWant { return reqWant{"GET", target, 1, "a", -1, false, false, false, false} }
	cases := []struct {
		name string
		in   string
		want reqWant
	}{
		{"origin-form", "GET /p HTTP/1.1\r\n" + hostOK + "\r\n", get("/p")},
		{"query and escapes", "GET /a%20b?x=%zz&y HTTP/1.1\r\n" + hostOK + "\r\n", get("/a%20b?x=%zz&y")},
		{"root", "GET / HTTP/1.1\r\n" + hostOK + "\r\n", get("/")},
		{"absolute-form", "GET http://x.example:80/p?q HTTP/1.1\r\nHost: x.example:80\r\n\r\n", reqWant{"GET", "http://x.example:80/p?q", 1, "x.example:80", -1, false, false, false, false}},
		{"absolute-form, no path, any case", "GET HTTPS://X.example HTTP/1.1\r\nHost: x.EXAMPLE\r\n\r\n", reqWant{"GET", "HTTPS://X.example", 1, "x.EXAMPLE", -1, false, false, false, false}},
		{"absolute-form, query only", "GET http://a?q HTTP/1.1\r\n" + hostOK + "\r\n", get("http://a?q")},
		{"absolute-form, IPv6", "GET http://[2001:db8::1]:8080/ HTTP/1.1\r\nHost: [2001:db8::1]:8080\r\n\r\n", reqWant{"GET", "http://[2001:db8::1]:8080/", 1, "[2001:db8::1]:8080", -1, false, false, false, false}},
		{"absolute-form on HTTP/1.0 without Host", "GET http://x/ HTTP/1.0\r\n\r\n", reqWant{"GET", "http://x/", 0, "<nil>", -1, false, true, false, false}},
		{"CONNECT with Host without port", "CONNECT x.example:443 HTTP/1.1\r\nHost: x.example\r\n\r\n", reqWant{"CONNECT", "x.example:443", 1, "x.example", -1, false, false, false, false}},
		{"OPTIONS *", "OPTIONS * HTTP/1.1\r\n" + hostOK + "\r\n", reqWant{"OPTIONS", "*", 1, "a", -1, false, false, false, false}},
		{"CONNECT", "CONNECT x.example:443 HTTP/1.1\r\nHost: x.example:443\r\n\r\n",
			reqWant{"CONNECT", "x.example:443", 1, "x.example:443", -1, false, false, false, false}},
		{"extension method", "M-SEARCH / HTTP/1.1\r\n" + hostOK + "\r\n", reqWant{"M-SEARCH", "/", 1, "a", -1, false, false, false, false}},
		{"HTTP/1.0 without Host closes", "GET / HTTP/1.0\r\n\r\n", reqWant{"GET", "/", 0, "<nil>", -1, false, true, false, false}},
		{"HTTP/1.0 keep-alive", "GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", reqWant{"GET", "/", 0, "<nil>", -1, false, false, false, false}},
		{"HTTP/1.0 keep-alive and close", "GET / HTTP/1.0\r\nConnection: keep-alive, close\r\n\r\n", reqWant{"GET", "/", 0, "<nil>", -1, false, true, false, false}},
		{"close", "GET / HTTP/1.1\r\n" + hostOK + "Connection: CLOSE\r\n\r\n", reqWant{"GET", "/", 1, "a", -1, false, true, false, false}},
		{"close in a second Connection", "GET / HTTP/1.1\r\n" + hostOK + "Connection: x\r\nConnection: close\r\n\r\n", reqWant{"GET", "/", 1, "a", -1, false, true, false, false}},
		{"content-length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 42\r\n\r\n", reqWant{"POST", "/", 1, "a", 42, false, false, false, false}},
		{"content-length zero", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 0\r\n\r\n", reqWant{"POST", "/", 1, "a", 0, false, false, false, false}},
		{"content-length with OWS", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: \t7 \r\n\r\n", reqWant{"POST", "/", 1, "a", 7, false, false, false, false}},
		{"content-length max", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 9223372036854775807\r\n\r\n", reqWant{"POST", "/", 1, "a", 1<<63 - 1, false, false, false, false}},
		{"content-length leading zeros", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 007\r\n\r\n", reqWant{"POST", "/", 1, "a", 7, false, false, false, false}},
		{"chunked", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked\r\n\r\n", reqWant{"POST", "/", 1, "a", -1, true, false, false, false}},
		{"chunked any case", "POST / HTTP/1.1\r\n" + hostOK + "transfer-encoding: ChUnKeD\r\n\r\n", reqWant{"POST", "/", 1, "a", -1, true, false, false, false}},
		{"upgrade", "GET / HTTP/1.1\r\n" + hostOK + "Connection: keep-alive, Upgrade\r\nUpgrade: websocket\r\n\r\n", reqWant{"GET", "/", 1, "a", -1, false, false, true, false}},
		{"upgrade on HTTP/1.0", "GET / HTTP/1.0\r\nConnection: upgrade, keep-alive\r\nUpgrade: websocket\r\n\r\n", reqWant{"GET", "/", 0, "<nil>", -1, false, false, false, false}},
		{"upgrade field without the option", "GET / HTTP/1.1\r\n" + hostOK + "Upgrade: websocket\r\n\r\n", get("/")},
		{"upgrade option without the field", "GET / HTTP/1.1\r\n" + hostOK + "Connection: upgrade\r\n\r\n", get("/")},
		{"expect", "POST / HTTP/1.1\r\n" + hostOK + "Expect: 100-Continue\r\nContent-Length: 1\r\n\r\n", reqWant{"POST", "/", 1, "a", 1, false, false, false, true}},
		{"expect on HTTP/1.0", "POST / HTTP/1.0\r\nExpect: 100-continue\r\nContent-Length: 1\r\n\r\n", reqWant{"POST", "/", 0, "<nil>", 1, false, true, false, false}},
		{"empty Host", "GET / HTTP/1.1\r\nHost:\r\n\r\n", reqWant{"GET", "/", 1, "", -1, false, false, false, false}},
		{"Host with port and IPv6", "GET / HTTP/1.1\r\nHost: [::1]:8080\r\n\r\n", reqWant{"GET", "/", 1, "[::1]:8080", -1, false, false, false, false}},
		{"value OWS trimmed, HTAB and obs-text kept", "GET / HTTP/1.1\r\n" + hostOK + "X: \t a\tb\xff \t\r\n\r\n", get("/")},
		{"empty value", "GET / HTTP/1.1\r\n" + hostOK + "X:\r\n\r\n", get("/")},
		{"Trailer naming an ordinary field", "POST / HTTP/1.1\r\n" + hostOK + "Trailer: X-Sum\r\nTransfer-Encoding: chunked\r\n\r\n", reqWant{"POST", "/", 1, "a", -1, true, false, false, false}},
		{"reason-like bytes in the target", "GET /!$&'()*+,;=:@~-._ HTTP/1.1\r\n" + hostOK + "\r\n", get("/!$&'()*+,;=:@~-._")},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			if err := r.Parse([]byte(tc.in), Limits{}); err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			host := "<nil>"
			if r.Host != nil {
				host = string(r.Host)
			}
			got := reqWant{string(r.Method), string(r.Target), r.Minor, host, r.ContentLength, r.Chunked, r.Close, r.Upgrade, r.Expect100}
			if got != tc.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestRequestFields(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: a\r\nX-A:  one \r\nx-a: two\r\nEmpty:\r\nObs: caf\xe9\r\n\r\n"
	var r Request
	if err := r.Parse([]byte(in), Limits{}); err != nil {
		t.Fatal(err)
	}
	want := []struct{ name, value string }{{"Host", "a"}, {"X-A", "one"}, {"x-a", "two"}, {"Empty", ""}, {"Obs", "caf\xe9"}}
	if len(r.Fields) != len(want) {
		t.Fatalf("%d fields, want %d", len(r.Fields), len(want))
	}
	for i, w := range want {
		if f := r.Fields[i]; string(f.Name) != w.name || string(f.Value) != w.value || f.Hop {
			t.Errorf("field %d: %q: %q hop %v, want %q: %q", i, f.Name, f.Value, f.Hop, w.name, w.value)
		}
	}
	for _, c := range []struct{ name, want string }{{"x-a", "one"}, {"X-A", "one"}, {"host", "a"}, {"empty", ""}} {
		if v := r.Field(c.name); v == nil || string(v) != c.want {
			t.Errorf("Field(%q) = %q, want %q", c.name, v, c.want)
		}
	}
	if v := r.Field("missing"); v != nil {
		t.Errorf("Field(missing) = %q, want nil", v)
	}
	if !r.IsMethod("GET") || r.IsMethod("get") || r.IsMethod("GE") {
		t.Error("IsMethod compares exactly")
	}
}

func TestRequestHop(t *testing.T) {
	in := "GET / HTTP/1.1\r\nHost: a\r\n" +
		"Connection: keep-alive, X-Secret, content-length, HOST\r\n" +
		"Keep-Alive: 5\r\nProxy-Connection: x\r\nTE: trailers\r\nUpgrade: h2c\r\n" +
		"Proxy-Authenticate: x\r\nProxy-Authorization: x\r\nTrailer: X-Sum\r\n" +
		"x-secret: 1\r\nX-Kept: 2\r\nContent-Length: 0\r\n\r\n"
	var r Request
	if err := r.Parse([]byte(in), Limits{}); err != nil {
		t.Fatal(err)
	}
	hop := map[string]bool{
		"Host": false, "Connection": true, "Keep-Alive": true, "Proxy-Connection": true, "TE": true,
		"Upgrade": true, "Proxy-Authenticate": true, "Proxy-Authorization": true, "Trailer": false,
		"x-secret": true, "X-Kept": false, "Content-Length": false,
	}
	for _, f := range r.Fields {
		if f.Hop != hop[string(f.Name)] {
			t.Errorf("%s: Hop %v, want %v", f.Name, f.Hop, hop[string(f.Name)])
		}
	}
	var c Request
	if err := c.Parse([]byte("POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	if !c.Fields[1].Hop {
		t.Error("Transfer-Encoding is hop-by-hop")
	}
}

func TestRequestRefused(t *testing.T) {
	long := func(n int) string { return strings.Repeat("X: y\r\n", n) }
	cases := []struct {
		name   string
		in     string
		status int
	}{
		// Start line.
		{"empty first line", "\r\n", 400},
		{"bare LF first line", "\n", 400},
		{"leading CRLF", "\r\nGET / HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"no target", "GET HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"two spaces", "GET  / HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"trailing space", "GET / HTTP/1.1 \r\n" + hostOK + "\r\n", 400},
		{"tab separator", "GET\t/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"leading space", " GET / HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"method not a token", "G(T / HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"empty method", " / HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"lower-case version", "GET / http/1.1\r\n" + hostOK + "\r\n", 400},
		{"version too long", "GET / HTTP/1.10\r\n" + hostOK + "\r\n", 400},
		{"version HTTP/1", "GET / HTTP/1\r\n" + hostOK + "\r\n", 400},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n" + hostOK + "\r\n", 505},
		{"HTTP/1.2", "GET / HTTP/1.2\r\n" + hostOK + "\r\n", 505},
		{"HTTP/2.0", "GET / HTTP/2.0\r\n" + hostOK + "\r\n", 505},
		{"HTTP/3.0", "GET / HTTP/3.0\r\n" + hostOK + "\r\n", 505},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\n", 505},
		// Targets.
		{"control byte in target", "GET /a\x01 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"DEL in target", "GET /a\x7f HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"obs-text in target", "GET /caf\xe9 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"fragment", "GET /a#b HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"bad escape", "GET /a%zz HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"short escape", "GET /a%4 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"relative", "GET a/b HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"asterisk with GET", "GET * HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"asterisk and more", "OPTIONS *x HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"authority-form without CONNECT", "GET x.example:443 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"CONNECT with a path", "CONNECT /x HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"CONNECT without port", "CONNECT x.example HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"CONNECT with empty port", "CONNECT x.example: HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"CONNECT with long port", "CONNECT x.example:123456 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"CONNECT with absolute URI", "CONNECT http://x.example:443 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"other scheme", "GET ftp://x/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"userinfo", "GET http://u@x/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"empty authority", "GET http:///p HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"two colons", "GET http://x:1:2/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"IPv4 in brackets", "GET http://[1.2.3.4]/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"IPv6 zone", "GET http://[fe80::1%25en0]/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"junk after IPv6", "GET http://[::1]x/ HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		{"bad escape in absolute path", "GET http://x/%g0 HTTP/1.1\r\n" + hostOK + "\r\n", 400},
		// Line endings.
		{"bare LF ends a field", "GET / HTTP/1.1\r\nHost: a\nX: y\r\n\r\n", 400},
		{"bare LF request line", "GET / HTTP/1.1\nHost: a\r\n\r\n", 400},
		{"bare LF blank line", "GET / HTTP/1.1\r\nHost: a\r\n\n", 400},
		{"all bare LF", "GET / HTTP/1.1\nHost: a\n\n", 400},
		{"bare CR in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\rb\r\n\r\n", 400},
		{"bare CR ends a field", "GET / HTTP/1.1\r\nHost: a\rX: b\r\n\r\n", 400},
		{"bare CR in request line", "GET /\r HTTP/1.1\r\nHost: a\r\n\r\n", 400},
		{"CR CR LF", "GET / HTTP/1.1\r\nHost: a\r\r\n\r\n", 400},
		{"no blank line", "GET / HTTP/1.1\r\nHost: a\r\n", 400},
		{"bytes after the head", "GET / HTTP/1.1\r\nHost: a\r\n\r\nX", 400},
		// Field lines.
		{"obs-fold", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n b\r\n\r\n", 400},
		{"obs-fold with tab", "GET / HTTP/1.1\r\nHost: a\r\nX: a\r\n\tb\r\n\r\n", 400},
		{"first field folded", "GET / HTTP/1.1\r\n Host: a\r\n\r\n", 400},
		{"space before colon", "GET / HTTP/1.1\r\nHost: a\r\nX : b\r\n\r\n", 400},
		{"tab before colon", "GET / HTTP/1.1\r\nHost: a\r\nX\t: b\r\n\r\n", 400},
		{"no colon", "GET / HTTP/1.1\r\nHost: a\r\nXb\r\n\r\n", 400},
		{"empty name", "GET / HTTP/1.1\r\nHost: a\r\n: b\r\n\r\n", 400},
		{"name not a token", "GET / HTTP/1.1\r\nHost: a\r\nX(y): b\r\n\r\n", 400},
		{"obs-text in name", "GET / HTTP/1.1\r\nHost: a\r\nX\xe9: b\r\n\r\n", 400},
		{"NUL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x00b\r\n\r\n", 400},
		{"DEL in value", "GET / HTTP/1.1\r\nHost: a\r\nX: a\x7fb\r\n\r\n", 400},
		{"control byte in value", "GET / HTTP/1.1\r\nHost: a\r\nX: \x1b[m\r\n\r\n", 400},
		{"too many fields", "GET / HTTP/1.1\r\nHost: a\r\n" + long(100) + "\r\n", 431},
		// Host.
		{"no Host on HTTP/1.1", "GET / HTTP/1.1\r\n\r\n", 400},
		{"no Host with absolute-form", "GET http://x/ HTTP/1.1\r\n\r\n", 400},
		{"two Host", "GET / HTTP/1.1\r\nHost: a\r\nHost: a\r\n\r\n", 400},
		{"two Host on HTTP/1.0", "GET / HTTP/1.0\r\nHost: a\r\nhost: b\r\n\r\n", 400},
		{"space in Host", "GET / HTTP/1.1\r\nHost: a b\r\n\r\n", 400},
		{"slash in Host", "GET / HTTP/1.1\r\nHost: a/b\r\n\r\n", 400},
		{"obs-text in Host", "GET / HTTP/1.1\r\nHost: caf\xe9\r\n\r\n", 400},
		{"Host differs from absolute-form", "GET http://internal/ HTTP/1.1\r\nHost: public\r\n\r\n", 400},
		{"Host without the port of absolute-form", "GET http://x:80/ HTTP/1.1\r\nHost: x\r\n\r\n", 400},
		{"userinfo in Host", "GET / HTTP/1.1\r\nHost: u@a\r\n\r\n", 400},
		// Content-Length.
		{"two equal Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5\r\nContent-Length: 5\r\n\r\n", 400},
		{"two Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5\r\ncontent-length: 6\r\n\r\n", 400},
		{"Content-Length list", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5, 5\r\n\r\n", 400},
		{"Content-Length list no space", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5,5\r\n\r\n", 400},
		{"empty Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length:\r\n\r\n", 400},
		{"signed Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: +5\r\n\r\n", 400},
		{"negative Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: -5\r\n\r\n", 400},
		{"hex Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 0x5\r\n\r\n", 400},
		{"space in Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5 5\r\n\r\n", 400},
		{"Content-Length overflow", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 9223372036854775808\r\n\r\n", 400},
		{"Content-Length too many digits", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 00000000000000000005\r\n\r\n", 400},
		{"Content-Length underscores", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 1_0\r\n\r\n", 400},
		// Transfer-Encoding.
		{"CL then TE", "POST / HTTP/1.1\r\n" + hostOK + "Content-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE then CL", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n", 400},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"unknown TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n", 400},
		{"two TE", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"TE chunked twice", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked, chunked\r\n\r\n", 400},
		{"TE chunked, identity", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked, identity\r\n\r\n", 501},
		{"TE gzip, chunked", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: gzip, chunked\r\n\r\n", 501},
		{"TE gzip", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: gzip\r\n\r\n", 501},
		{"TE identity", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: identity\r\n\r\n", 501},
		{"TE xchunked", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: xchunked\r\n\r\n", 501},
		{"TE empty", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding:\r\n\r\n", 400},
		{"TE empty element", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked,\r\n\r\n", 400},
		{"TE with parameter", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: chunked;q=1\r\n\r\n", 400},
		{"TE quoted", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: \"chunked\"\r\n\r\n", 400},
		{"TE folded", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding:\r\n chunked\r\n\r\n", 400},
		{"TE with space before colon", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding : chunked\r\n\r\n", 400},
		{"TE with vertical tab", "POST / HTTP/1.1\r\n" + hostOK + "Transfer-Encoding: \x0bchunked\r\n\r\n", 400},
		{"Trailer names Content-Length", "POST / HTTP/1.1\r\n" + hostOK + "Trailer: content-length\r\nTransfer-Encoding: chunked\r\n\r\n", 400},
		{"Trailer names Transfer-Encoding", "POST / HTTP/1.1\r\n" + hostOK + "Trailer: X, Transfer-Encoding\r\n\r\n", 400},
		{"Trailer names Trailer", "POST / HTTP/1.1\r\n" + hostOK + "Trailer: trailer\r\n\r\n", 400},
		{"Trailer names Host", "POST / HTTP/1.1\r\n" + hostOK + "Trailer: Host\r\n\r\n", 400},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Request
			err := r.Parse([]byte(tc.in), Limits{})
			e, ok := err.(*Error)
			if !ok || e.Status != tc.status {
				t.Fatalf("Parse(%q) = %v, want status %d", tc.in, err, tc.status)
			}
		})
	}
}

func TestRequestMaxFields(t *testing.T) {
	in := []byte("GET / HTTP/1.1\r\nHost: a\r\nX: 1\r\nY: 2\r\n\r\n")
	var r Request
	for _, c := range []struct {
		max    int
		status int
	}{{0, 0}, {3, 0}, {2, 431}, {1, 431}} {
		err := r.Parse(in, Limits{MaxFields: c.max})
		if got := statusOf(err); got != c.status {
			t.Errorf("MaxFields %d: %v, want status %d", c.max, err, c.status)
		}
	}
	if err := r.Parse([]byte("GET / HTTP/1.1\r\nHost: a\r\n"+strings.Repeat("X: y\r\n", 99)+"\r\n"), Limits{}); err != nil {
		t.Errorf("100 fields under the default limit: %v", err)
	}
}

// statusOf is the Status of an *Error, or 0 for nil.
func statusOf(err error) int {
	if err == nil {
		return 0
	}
	return err.(*Error).Status
}

func TestRequestReuse(t *testing.T) {
	var r Request
	if err := r.Parse([]byte("POST / HTTP/1.0\r\nHost: a\r\nConnection: close, upgrade\r\nUpgrade: x\r\nContent-Length: 3\r\nA: 1\r\nB: 2\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	if err := r.Parse([]byte("GET / HTTP/1.1\r\nHost: b\r\n\r\n"), Limits{}); err != nil {
		t.Fatal(err)
	}
	if len(r.Fields) != 1 || r.ContentLength != -1 || r.Close || r.Upgrade || r.Chunked || string(r.Host) != "b" || r.Minor != 1 {
		t.Errorf("second parse kept state of the first: %+v", r)
	}
	if cap(r.Fields) < 6 {
		t.Errorf("Fields capacity %d not kept", cap(r.Fields))
	}
}

func TestRequestBody(t *testing.T) {
	cases := []struct {
		in   string
		kind BodyKind
		has  bool
	}{
		{"GET / HTTP/1.1\r\nHost: a\r\n\r\n", NoBody, false},
		{"POST / HTTP/1.1\r\nHost: a\r\n\r\n", NoBody, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 0\r\n\r\n", NoBody, false},
		{"POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", LengthBody, true},
		{"GET / HTTP/1.1\r\nHost: a\r\nContent-Length: 3\r\n\r\n", LengthBody, true},
		{"POST / HTTP/1.1\r\nHost: a\r\nTransfer-Encoding: chunked\r\n\r\n", ChunkedBody, true},
		{"POST / HTTP/1.0\r\n\r\n", NoBody, false},
	}
	for _, c := range cases {
		var r Request
		if err := r.Parse([]byte(c.in), Limits{}); err != nil {
			t.Fatal(err)
		}
		if r.Body() != c.kind || r.HasBody() != c.has {
			t.Errorf("%q: Body %v HasBody %v, want %v %v", c.in, r.Body(), r.HasBody(), c.kind, c.has)
		}
	}
}

func TestErrorText(t *testing.T) {
	var r Request
	err := r.Parse([]byte("GET / HTTP/1.1\r\n\r\n"), Limits{})
	if err == nil || err.Error() != "h1: 400 missing host" {
		t.Errorf("Error() = %v", err)
	}
	for c, in := range codeInfo[1:] {
		if in.reason == "" || strings.ToLower(in.reason[:1]) != in.reason[:1] || strings.HasSuffix(in.reason, ".") {
			t.Errorf("code %d: reason %q is not short, lower-case and without a period", c+1, in.reason)
		}
		switch in.status {
		case 400, 431, 501, 505:
		default:
			t.Errorf("code %d: status %d", c+1, in.status)
		}
	}
}
