package h1

import (
	"bytes"
	"strings"
	"testing"
)

func TestChunkedAccepted(t *testing.T) {
	cases := []struct {
		name, in, content string
		rest              string // bytes after the body
	}{
		{"empty body", "0\r\n\r\n", "", ""},
		{"one chunk", "5\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"next message follows", "5\r\nhello\r\n0\r\n\r\nGET /", "hello", "GET /"},
		{"upper and lower hex", "A\r\n0123456789\r\nb\r\n0123456789a\r\n0\r\n\r\n", "01234567890123456789a", ""},
		{"leading zeros", "0005\r\nhello\r\n000\r\n\r\n", "hello", ""},
		{"sixteen digits", "0000000000000005\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"extensions", "5;a=b;c=\"d e\"\r\nhello\r\n0;last\r\n\r\n", "hello", ""},
		{"extension with tab and obs-text", "5;a=\tb\xff\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"empty extension", "5;\r\nhello\r\n0\r\n\r\n", "hello", ""},
		{"CRLF inside data", "4\r\n\r\n\r\n\r\n0\r\n\r\n", "\r\n\r\n", ""},
		{"trailers", "5\r\nhello\r\n0\r\nX-Sum: 1\r\nX-Empty:\r\nY:  v \t\r\n\r\n", "hello", ""},
		{"many chunks", "1\r\na\r\n1\r\nb\r\n1\r\nc\r\n0\r\n\r\n", "abc", ""},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			p := []byte(tc.in)
			var c Chunked
			content, n, done, err := drain(&c, p)
			if err != nil || !done {
				t.Fatalf("%q: done %v, %v", tc.in, done, err)
			}
			if string(content) != tc.content || string(p[n:]) != tc.rest {
				t.Errorf("%q: content %q rest %q, want %q %q", tc.in, content, p[n:], tc.content, tc.rest)
			}
			if k, data, d, err := c.Next(p[n:]); k != 0 || data != nil || !d || err != nil {
				t.Errorf("after done: Next = %d %q %v %v, want 0 nil true nil", k, data, d, err)
			}
			checkSplits(t, p)
		})
	}
}

func TestChunkedRefused(t *testing.T) {
	cases := []struct{ name, in string }{
		{"empty size", "\r\nhello\r\n0\r\n\r\n"},
		{"plus sign", "+5\r\nhello\r\n0\r\n\r\n"},
		{"minus sign", "-5\r\nhello\r\n0\r\n\r\n"},
		{"leading space", " 5\r\nhello\r\n0\r\n\r\n"},
		{"trailing space", "5 \r\nhello\r\n0\r\n\r\n"},
		{"space before extension", "5 ;a\r\nhello\r\n0\r\n\r\n"},
		{"tab", "5\t\r\nhello\r\n0\r\n\r\n"},
		{"0x prefix", "0x5\r\nhello\r\n0\r\n\r\n"},
		{"underscore", "1_0\r\n"},
		{"not hex", "zz\r\nhello\r\n0\r\n\r\n"},
		{"seventeen digits", "00000000000000005\r\nhello\r\n0\r\n\r\n"},
		{"over 2^63-1", "8000000000000000\r\n"},
		{"16 f", "ffffffffffffffff\r\n"},
		{"bare LF after size", "5\nhello\r\n0\r\n\r\n"},
		{"bare CR after size", "5\rhello\r\n0\r\n\r\n"},
		{"CR in extension", "5;a\rb\r\nhello\r\n0\r\n\r\n"},
		{"NUL in extension", "5;a\x00\r\nhello\r\n0\r\n\r\n"},
		{"DEL in extension", "5;a\x7f\r\nhello\r\n0\r\n\r\n"},
		{"LF in extension", "5;a\nb\r\nhello\r\n0\r\n\r\n"},
		{"long extension", "5;" + strings.Repeat("x", MaxChunkLine) + "\r\nhello\r\n0\r\n\r\n"},
		{"data too long", "5\r\nhello!\r\n0\r\n\r\n"},
		{"data too short", "5\r\nhell\r\n0\r\n\r\n"},
		{"bare LF after data", "5\r\nhello\n0\r\n\r\n"},
		{"CR CR LF after data", "5\r\nhello\r\r\n0\r\n\r\n"},
		{"bare LF after last chunk", "0\n\r\n"},
		{"bare LF final", "0\r\n\n"},
		{"final CR then junk", "0\r\n\rX"},
		{"trailer bare LF", "0\r\nX: 1\n\r\n"},
		{"trailer obs-fold", "0\r\nX: 1\r\n 2\r\n\r\n"},
		{"trailer starts with space", "0\r\n X: 1\r\n\r\n"},
		{"trailer space before colon", "0\r\nX : 1\r\n\r\n"},
		{"trailer no colon", "0\r\nX\r\n\r\n"},
		{"trailer empty name", "0\r\n: 1\r\n\r\n"},
		{"trailer NUL", "0\r\nX: \x00\r\n\r\n"},
		{"trailer bare CR", "0\r\nX: a\rb\r\n\r\n"},
		{"trailer Content-Length", "0\r\nContent-Length: 5\r\n\r\n"},
		{"trailer content-length any case", "0\r\ncOnTeNt-LeNgTh: 5\r\n\r\n"},
		{"trailer Transfer-Encoding", "0\r\nTransfer-Encoding: chunked\r\n\r\n"},
		{"trailer Trailer", "0\r\nTrailer: X\r\n\r\n"},
		{"trailer Host", "0\r\nHost: a\r\n\r\n"},
		{"trailer too large", "0\r\n" + strings.Repeat("X: "+strings.Repeat("v", 1000)+"\r\n", 66) + "\r\n"},
		{"too much overhead", strings.Repeat("1;"+strings.Repeat("e", 1000)+"\r\nx\r\n", 20) + "0\r\n\r\n"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var c Chunked
			p := []byte(tc.in)
			_, n, done, err := drain(&c, p)
			if err == nil || done {
				t.Fatalf("%q: done %v err %v, want a refusal", tc.in, done, err)
			}
			checkRefusal(t, err, 400)
			if k, _, _, err2 := c.Next(p[n:]); k != 0 || err2 != err {
				t.Errorf("after a refusal: Next = %d, %v; want 0, %v", k, err2, err)
			}
			checkSplits(t, p)
		})
	}
}

// checkSplits checks that feeding p in two pieces, split at every position,
// and one byte at a time, gives what feeding it whole gives.
func checkSplits(t *testing.T, p []byte) {
	t.Helper()
	var c Chunked
	content, n, done, err := drain(&c, p)
	checkChunked(t, p, -1)
	step := 1 + len(p)/512 // every position of short bodies, a sample of long ones
	for split := 0; split <= len(p); split += step {
		var c2 Chunked
		a, na, da, ea := drain(&c2, p[:split])
		if !da && ea == nil {
			b, nb, db, eb := drain(&c2, p[split:])
			a, na, da, ea = append(a, b...), na+nb, db, eb
		}
		if !bytes.Equal(a, content) || na != n || da != done || ea != err {
			t.Fatalf("%q split at %d: %q %d %v %v; whole: %q %d %v %v", p, split, a, na, da, ea, content, n, done, err)
		}
	}
	c.Reset()
	var got []byte
	var i int
	var d bool
	var e error
	for i < len(p) && !d && e == nil {
		k, data, dd, ee := c.Next(p[i : i+1])
		if k > 1 || len(data) > k {
			t.Fatalf("one byte: consumed %d, data %q", k, data)
		}
		got, i, d, e = append(got, data...), i+k, dd, ee
	}
	if !bytes.Equal(got, content) || i != n || d != done || e != err {
		t.Fatalf("%q byte by byte: %q %d %v %v; whole: %q %d %v %v", p, got, i, d, e, content, n, done, err)
	}
}

// Data is returned as one run per call, at most what the chunk holds, and
// Next stops right after it.
func TestChunkedDataRuns(t *testing.T) {
	p := []byte("3\r\nabc\r\n2\r\nde\r\n0\r\n\r\n")
	var c Chunked
	var runs []string
	for off := 0; ; {
		n, data, done, err := c.Next(p[off:])
		if err != nil {
			t.Fatal(err)
		}
		if data != nil {
			runs = append(runs, string(data))
			if &data[len(data)-1] != &p[off+n-1] {
				t.Fatal("Next did not stop right after the data")
			}
		}
		off += n
		if done {
			if off != len(p) {
				t.Fatalf("done at %d of %d", off, len(p))
			}
			break
		}
	}
	if strings.Join(runs, "|") != "abc|de" {
		t.Errorf("runs %q", runs)
	}
	if !c.Done() {
		t.Error("Done after the end")
	}
	c.Reset()
	if c.Done() {
		t.Error("Done after Reset")
	}
	if n, _, done, err := c.Next(nil); n != 0 || done || err != nil {
		t.Errorf("Next(nil) = %d %v %v", n, done, err)
	}
}

// A chunk larger than the bytes at hand is returned in pieces.
func TestChunkedLargeChunk(t *testing.T) {
	var c Chunked
	n, data, done, err := c.Next([]byte("7fffffffffffffff\r\nabc"))
	if err != nil || done || string(data) != "abc" || n != 21 {
		t.Fatalf("Next = %d %q %v %v", n, data, done, err)
	}
	n, data, _, err = c.Next([]byte("defg"))
	if err != nil || string(data) != "defg" || n != 4 {
		t.Fatalf("Next = %d %q %v", n, data, err)
	}
	if c.size != 1<<63-1-7 {
		t.Errorf("left %d", c.size)
	}
}
