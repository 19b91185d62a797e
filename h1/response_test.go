package h1

import "testing"

func TestResponseAccepted(t *testing.T) {
	type want struct {
		minor, status int
		reason        string
		length        int64
		chunked       bool
		close         bool
	}
	cases := []struct {
		name string
		in   string
		want want
	}{
		{"ok", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", want{1, 200, "OK", 5, false, false}},
		{"no reason", "HTTP/1.1 200\r\n\r\n", want{1, 200, "", -1, false, false}},
		{"empty reason", "HTTP/1.1 404 \r\n\r\n", want{1, 404, "", -1, false, false}},
		{"reason with spaces, tab, obs-text", "HTTP/1.1 500 Internal\tServer Err\xe9ur \r\n\r\n", want{1, 500, "Internal\tServer Err\xe9ur ", -1, false, false}},
		{"chunked", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", want{1, 200, "OK", -1, true, false}},
		{"HTTP/1.0", "HTTP/1.0 200 OK\r\n\r\n", want{0, 200, "OK", -1, false, true}},
		{"HTTP/1.0 keep-alive", "HTTP/1.0 200 OK\r\nConnection: keep-alive\r\nContent-Length: 0\r\n\r\n", want{0, 200, "OK", 0, false, false}},
		{"close", "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n", want{1, 200, "OK", -1, false, true}},
		{"100", "HTTP/1.1 100 Continue\r\n\r\n", want{1, 100, "Continue", -1, false, false}},
		{"204 with zero length", "HTTP/1.1 204 No Content\r\nContent-Length: 0\r\n\r\n", want{1, 204, "No Content", 0, false, false}},
		{"304 with length", "HTTP/1.1 304 Not Modified\r\nContent-Length: 99\r\n\r\n", want{1, 304, "Not Modified", 99, false, false}},
		{"304 chunked", "HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", want{1, 304, "Not Modified", -1, true, false}},
		{"999", "HTTP/1.1 999 X\r\n\r\n", want{1, 999, "X", -1, false, false}},
		{"no Host needed", "HTTP/1.1 200 OK\r\nContent-Length: 1\r\n\r\n", want{1, 200, "OK", 1, false, false}},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			if err := r.Parse([]byte(tc.in), Limits{}); err != nil {
				t.Fatalf("Parse(%q): %v", tc.in, err)
			}
			got := want{r.Minor, r.Status, string(r.Reason), r.ContentLength, r.Chunked, r.Close}
			if got != tc.want {
				t.Errorf("Parse(%q)\n got %+v\nwant %+v", tc.in, got, tc.want)
			}
		})
	}
}

func TestResponseRefused(t *testing.T) {
	cases := []struct{ name, in string }{
		{"empty", "\r\n"},
		{"short", "HTTP/1.1 20\r\n\r\n"},
		{"two-digit status", "HTTP/1.1 20 OK\r\n\r\n"},
		{"four-digit status", "HTTP/1.1 2000 OK\r\n\r\n"},
		{"status below 100", "HTTP/1.1 099 X\r\n\r\n"},
		{"signed status", "HTTP/1.1 +20 OK\r\n\r\n"},
		{"two spaces", "HTTP/1.1  200 OK\r\n\r\n"},
		{"tab after status", "HTTP/1.1 200\tOK\r\n\r\n"},
		{"HTTP/2.0", "HTTP/2.0 200 OK\r\n\r\n"},
		{"HTTP/1.2", "HTTP/1.2 200 OK\r\n\r\n"},
		{"lower-case version", "http/1.1 200 OK\r\n\r\n"},
		{"NUL in reason", "HTTP/1.1 200 O\x00K\r\n\r\n"},
		{"bare CR in reason", "HTTP/1.1 200 O\rK\r\n\r\n"},
		{"bare LF", "HTTP/1.1 200 OK\nContent-Length: 0\r\n\r\n"},
		{"obs-fold", "HTTP/1.1 200 OK\r\nX: a\r\n b\r\n\r\n"},
		{"space before colon", "HTTP/1.1 200 OK\r\nContent-Length : 0\r\n\r\n"},
		{"CL and TE", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"two equal CL", "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 5\r\n\r\n"},
		{"CL list", "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n"},
		{"TE gzip", "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"},
		{"two TE", "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"TE on HTTP/1.0", "HTTP/1.0 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"TE on 204", "HTTP/1.1 204 No Content\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"TE on 1xx", "HTTP/1.1 103 Early Hints\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"length on 204", "HTTP/1.1 204 No Content\r\nContent-Length: 5\r\n\r\n"},
		{"length on 1xx", "HTTP/1.1 100 Continue\r\nContent-Length: 5\r\n\r\n"},
		{"too many fields", "HTTP/1.1 200 OK\r\n" + repeat("X: y\r\n", 101) + "\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var r Response
			err := r.Parse([]byte(tc.in), Limits{})
			if e, ok := err.(*Error); !ok || e.Status != 502 {
				t.Fatalf("Parse(%q) = %v, want status 502", tc.in, err)
			}
		})
	}
}

func repeat(s string, n int) string {
	b := make([]byte, 0, len(s)*n)
	for range n {
		b = append(b, s...)
	}
	return string(b)
}

func TestResponseBody(t *testing.T) {
	cases := []struct {
		in     string
		method string
		kind   BodyKind
	}{
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "GET", LengthBody},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "HEAD", NoBody},
		{"HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", "GET", NoBody},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "POST", ChunkedBody},
		{"HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n", "HEAD", NoBody},
		{"HTTP/1.1 200 OK\r\n\r\n", "GET", CloseBody},
		{"HTTP/1.0 200 OK\r\n\r\n", "GET", CloseBody},
		{"HTTP/1.1 200 OK\r\n\r\n", "HEAD", NoBody},
		{"HTTP/1.1 100 Continue\r\n\r\n", "POST", NoBody},
		{"HTTP/1.1 101 Switching Protocols\r\n\r\n", "GET", NoBody},
		{"HTTP/1.1 204 No Content\r\n\r\n", "GET", NoBody},
		{"HTTP/1.1 304 Not Modified\r\nContent-Length: 5\r\n\r\n", "GET", NoBody},
		{"HTTP/1.1 304 Not Modified\r\nTransfer-Encoding: chunked\r\n\r\n", "GET", NoBody},
		{"HTTP/1.1 200 Connection Established\r\n\r\n", "CONNECT", NoBody},
		{"HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\n", "CONNECT", NoBody},
		{"HTTP/1.1 407 Proxy Authentication Required\r\nContent-Length: 5\r\n\r\n", "CONNECT", LengthBody},
		{"HTTP/1.1 404 Not Found\r\n\r\n", "GET", CloseBody},
	}
	for _, c := range cases {
		var r Response
		if err := r.Parse([]byte(c.in), Limits{}); err != nil {
			t.Fatal(err)
		}
		if k := r.Body([]byte(c.method)); k != c.kind {
			t.Errorf("%q to %s: Body %v, want %v", c.in, c.method, k, c.kind)
		}
	}
}

func TestResponseFields(t *testing.T) {
	var r Response
	in := "HTTP/1.1 200 OK\r\nConnection: X-Hop\r\nX-Hop: 1\r\nContent-Type: text/xml\r\n\r\n"
	if err := r.Parse([]byte(in), Limits{}); err != nil {
		t.Fatal(err)
	}
	if v := r.Field("content-type"); string(v) != "text/xml" {
		t.Errorf("Field = %q", v)
	}
	if !r.Fields[0].Hop || !r.Fields[1].Hop || r.Fields[2].Hop {
		t.Errorf("Hop: %v %v %v", r.Fields[0].Hop, r.Fields[1].Hop, r.Fields[2].Hop)
	}
}
