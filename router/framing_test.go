package router

import (
	"bufio"
	"bytes"
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"errors"
	"fmt"
	"io"
	"log"
	"math/big"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// framingEcho answers 400 to ambiguous framing, else echoes the request.
func framingEcho(w http.ResponseWriter, r *http.Request) {
	if err := framingError(r); err != nil {
		http.Error(w, "framing: "+err.Error(), http.StatusBadRequest)
		return
	}
	body, err := io.ReadAll(r.Body)
	if err != nil {
		http.Error(w, "body: "+err.Error(), http.StatusBadRequest)
		return
	}
	fmt.Fprintf(w, "%s %s %q", r.Method, r.RequestURI, body)
}

// startFramingServer serves h on a guarded listener, wrapped by wrap.
func startFramingServer(t *testing.T, wrap func(net.Listener) net.Listener, h http.Handler) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{
		Handler:           h,
		ConnContext:       ConnContext,
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          log.New(io.Discard, "", 0),
	}
	done := make(chan struct{})
	go func() {
		defer close(done)
		_ = srv.Serve(GuardListener(wrap(ln)))
	}()
	t.Cleanup(func() {
		srv.Close()
		<-done
	})
	return ln.Addr().String()
}

func noWrap(ln net.Listener) net.Listener { return ln }

// framingExchange writes raw on conn, all at once or a byte per write, and
// returns "status body" for every response read until the server closes.
func framingExchange(t *testing.T, conn net.Conn, raw string, oneByte bool) []string {
	t.Helper()
	conn.SetDeadline(time.Now().Add(20 * time.Second))
	written := make(chan struct{})
	go func() {
		defer close(written)
		if !oneByte {
			conn.Write([]byte(raw))
			return
		}
		for i := range len(raw) {
			if _, err := conn.Write([]byte{raw[i]}); err != nil {
				return
			}
		}
	}()
	var got []string
	br := bufio.NewReader(conn)
	for {
		resp, err := http.ReadResponse(br, nil)
		if err != nil {
			break
		}
		body, _ := io.ReadAll(resp.Body)
		got = append(got, fmt.Sprintf("%d %s", resp.StatusCode, body))
	}
	conn.Close()
	<-written
	return got
}

func dialNoDelay(t *testing.T, addr string) net.Conn {
	t.Helper()
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	if err := conn.(*net.TCPConn).SetNoDelay(true); err != nil {
		t.Fatal(err)
	}
	return conn
}

// checkReplies compares replies with want, each "status" or "status
// substring-of-body".
func checkReplies(t *testing.T, got, want []string) {
	t.Helper()
	ok := len(got) == len(want)
	for i := 0; ok && i < len(want); i++ {
		status, sub, _ := strings.Cut(want[i], " ")
		gotStatus, gotBody, _ := strings.Cut(got[i], " ")
		ok = status == gotStatus && strings.Contains(gotBody, sub)
	}
	if !ok {
		t.Errorf("replies:\n\t%s\nwant:\n\t%s", strings.Join(got, "\n\t"), strings.Join(want, "\n\t"))
	}
}

const (
	framingEnd      = "GET /end HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
	framingEndReply = `200 GET /end ""`
	ambiguousAfter  = "400 earlier request on the connection has ambiguous framing"
)

func postCL(target, body string) string {
	return fmt.Sprintf("POST %s HTTP/1.1\r\nHost: x\r\nContent-Length: %d\r\n\r\n%s", target, len(body), body)
}

func postChunked(target string, chunks ...string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "POST %s HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n", target)
	for _, c := range chunks {
		fmt.Fprintf(&b, "%x\r\n%s\r\n", len(c), c)
	}
	b.WriteString("0\r\n\r\n")
	return b.String()
}

// headerLike is body content that looks like field lines.
const headerLike = "x\r\n Folded: y\r\nContent-Length: 9\r\nTransfer-Encoding: chunked\r\n\r\nGET / HTTP/1.0\r\n\r\n"

type framingCase struct {
	name string
	raw  string
	want []string
}

func framingCases() []framingCase {
	keepAlive, keepAliveWant := framingKeepAlive(60)
	return []framingCase{
		{"CL then TE", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + framingEnd,
			[]string{"400 both Content-Length and Transfer-Encoding", ambiguousAfter}},
		{"TE then CL", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 5\r\n\r\n5\r\nhello\r\n0\r\n\r\n" + framingEnd,
			[]string{"400 both Content-Length and Transfer-Encoding", ambiguousAfter}},
		{"duplicate identical CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\ncontent-length: 3\r\n\r\nabc" + framingEnd,
			[]string{"400 more than one Content-Length", ambiguousAfter}},
		{"CL list", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3, 3\r\n\r\nabc",
			[]string{"400 400 Bad Request"}}, // net/http refuses it itself
		{"differing CL", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 4\r\n\r\nabcd",
			[]string{"400 400 Bad Request"}},
		{"TE gzip, chunked", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: gzip, chunked\r\n\r\n0\r\n\r\n",
			[]string{"501 Unsupported transfer encoding"}},
		{"space before colon", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length : 3\r\n\r\nabc",
			[]string{"400 400 Bad Request"}},
		{"obs-fold SP", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n b\r\n\r\n" + framingEnd,
			[]string{"400 obsolete line folding", ambiguousAfter}},
		{"obs-fold HTAB", "GET /a HTTP/1.1\r\nHost: x\r\nX-A: a\r\n\tb\r\n\r\n" + framingEnd,
			[]string{"400 obsolete line folding", ambiguousAfter}},
		{"obs-fold completing Content-Length", "POST /a HTTP/1.1\r\nHost: x\r\nContent-Length:\r\n 3\r\n\r\nabc" + framingEnd,
			[]string{"400 obsolete line folding", ambiguousAfter}},
		{"HTTP/1.0 with TE", "POST /a HTTP/1.0\r\nConnection: keep-alive\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n0\r\n\r\n",
			// net/http then reads "5" as a request line.
			[]string{"400 HTTP/1.0 request has a Transfer-Encoding", "400 400 Bad Request"}},
		{"clean CL", postCL("/a", "hello") + framingEnd,
			[]string{`200 POST /a "hello"`, framingEndReply}},
		{"clean chunked, extensions, trailers",
			"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: Chunked\r\nTrailer: X-T\r\n\r\n" +
				"4;name=val\r\nwiki\r\n5 \r\npedia\r\n1;a;b=\"c d\"\r\n!\r\n0;last\r\nX-T: t\r\nX-U: u\r\n\r\n" + framingEnd,
			[]string{`200 POST /a "wikipedia!"`, framingEndReply}},
		{"pipelined clean, bad, clean", postCL("/1", "one") +
			"POST /2 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n3\r\ntwo\r\n0\r\n\r\n" + framingEnd,
			[]string{`200 POST /1 "one"`, "400 both Content-Length and Transfer-Encoding", ambiguousAfter}},
		{"pipelined clean, clean, bad", postCL("/1", "one") + postChunked("/2", "tw", "o") +
			"GET /3 HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-A: a\r\n b\r\n\r\n",
			[]string{`200 POST /1 "one"`, `200 POST /2 "two"`, "400 obsolete line folding"}},
		{"keep-alive sequence", keepAlive, keepAliveWant},
		{"bare LF", "POST /a HTTP/1.1\nHost: x\nContent-Length: 5\n\nhello" + "GET /end HTTP/1.1\nHost: x\nConnection: close\n\n",
			[]string{`200 POST /a "hello"`, framingEndReply}},
		{"bare LF, CL and TE", "POST /a HTTP/1.1\nHost: x\nTransfer-Encoding: chunked\nContent-Length: 5\n\n5\r\nhello\r\n0\r\n\r\n" + framingEnd,
			[]string{"400 both Content-Length and Transfer-Encoding", ambiguousAfter}},
		{"field lines in a CL body", postCL("/a", headerLike) + framingEnd,
			[]string{fmt.Sprintf("200 POST /a %q", headerLike), framingEndReply}},
		{"field lines in chunk data", postChunked("/a", headerLike, "\r\n \r\n") + framingEnd,
			[]string{fmt.Sprintf("200 POST /a %q", headerLike+"\r\n \r\n"), framingEndReply}},
		{"Expect: 100-continue", "POST /a HTTP/1.1\r\nHost: x\r\nExpect: 100-continue\r\nContent-Length: 5\r\n\r\nhello" + framingEnd,
			[]string{"100", `200 POST /a "hello"`, framingEndReply}},
		{"GET without body", "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" + framingEnd,
			[]string{`200 GET /a ""`, framingEndReply}},
		{"OPTIONS * answered by net/http", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n" + postCL("/b", "b") + framingEnd,
			[]string{"200", `200 POST /b "b"`, framingEndReply}},
		{"OPTIONS * with two CL", "OPTIONS * HTTP/1.1\r\nHost: x\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx" + framingEnd,
			[]string{"200", ambiguousAfter}},
		{"CRLF after a POST body", postCL("/a", "hello") + "\r\n\r\n" + postCL("/b", "b") + "\n" + framingEnd,
			[]string{`200 POST /a "hello"`, `200 POST /b "b"`, framingEndReply}},
		{"malformed chunk size", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nhello\r\n0\r\n\r\n",
			[]string{"400 body: "}},
		{"chunk size with bare LF", "POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n5\nhello\r\n0\r\n\r\n",
			[]string{"400 body: "}},
	}
}

// framingKeepAlive returns n requests of assorted framings on one
// connection, and the replies to them.
func framingKeepAlive(n int) (string, []string) {
	var raw strings.Builder
	var want []string
	for i := range n {
		target := fmt.Sprintf("/%d", i)
		body := strings.Repeat(string(rune('a'+i%26)), i)
		switch i % 4 {
		case 0:
			raw.WriteString("GET " + target + " HTTP/1.1\r\nHost: x\r\n\r\n")
			body = ""
		case 1:
			raw.WriteString(postCL(target, body))
		case 2:
			raw.WriteString(postChunked(target, body, body))
			body += body
		case 3:
			fmt.Fprintf(&raw, "PUT %s HTTP/1.1\nHost: x\nContent-Length: %d\n\n%s", target, len(body), body)
		}
		want = append(want, fmt.Sprintf("200 %s %s %q", map[int]string{0: "GET", 1: "POST", 2: "POST", 3: "PUT"}[i%4], target, body))
	}
	raw.WriteString(framingEnd)
	return raw.String(), append(want, framingEndReply)
}

func TestFramingOverTheWire(t *testing.T) {
	addr := startFramingServer(t, noWrap, http.HandlerFunc(framingEcho))
	for _, mode := range []string{"whole", "byte-at-a-time"} {
		t.Run(mode, func(t *testing.T) {
			for _, tc := range framingCases() {
				t.Run(tc.name, func(t *testing.T) {
					got := framingExchange(t, dialNoDelay(t, addr), tc.raw, mode != "whole")
					checkReplies(t, got, tc.want)
				})
			}
		})
	}
}

// trackerVerdicts feeds raw to a tracker and takes one verdict per target.
func trackerVerdicts(raw string, pieces int, requests ...string) []error {
	var t framingTracker
	for len(raw) > 0 {
		n := min(pieces, len(raw))
		t.feed([]byte(raw[:n]))
		raw = raw[n:]
	}
	var errs []error
	for _, r := range requests {
		method, target, _ := strings.Cut(r, " ")
		errs = append(errs, t.verdict(fingerprint(method, target), method == "OPTIONS" && target == "*"))
	}
	return errs
}

func TestFramingVerdicts(t *testing.T) {
	for _, tc := range []struct {
		name     string
		raw      string
		requests []string
		want     []error
	}{
		{"clean", "GET / HTTP/1.1\r\nHost: x\r\n\r\n", []string{"GET /"}, []error{nil}},
		{"CL+TE", "POST / HTTP/1.1\r\nContent-Length: 1\r\nTransfer-Encoding: chunked\r\n\r\n",
			[]string{"POST /", "GET /next"}, []error{errFramingContentLengthWithTE, errFramingAfterAmbiguous}},
		{"upper-case names", "POST / HTTP/1.1\r\nCONTENT-LENGTH: 1\r\nTRANSFER-ENCODING: chunked\r\n\r\n",
			[]string{"POST /"}, []error{errFramingContentLengthWithTE}},
		{"duplicate CL", "POST / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 1\r\n\r\nx", []string{"POST /"}, []error{errFramingDuplicateContentLength}},
		{"CL list", "POST / HTTP/1.1\r\nContent-Length: 1,1\r\n\r\nx", []string{"POST /"}, []error{errFramingContentLengthList}},
		{"CL sign", "POST / HTTP/1.1\r\nContent-Length: +1\r\n\r\nx", []string{"POST /"}, []error{errFramingBadContentLength}},
		{"CL empty", "POST / HTTP/1.1\r\nContent-Length: \r\n\r\n", []string{"POST /"}, []error{errFramingBadContentLength}},
		{"CL overflow", "POST / HTTP/1.1\r\nContent-Length: 9223372036854775808\r\n\r\n", []string{"POST /"}, []error{errFramingBadContentLength}},
		{"CL max", "POST / HTTP/1.1\r\nContent-Length: 009223372036854775807 \r\n\r\n", []string{"POST /"}, []error{nil}},
		{"TE on HTTP/1.0", "POST / HTTP/1.0\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"POST /"}, []error{errFramingTransferEncodingHTTP10}},
		{"TE twice", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\nTransfer-Encoding: chunked\r\n\r\n", []string{"POST /"}, []error{errFramingBadTransferEncoding}},
		{"TE identity", "POST / HTTP/1.1\r\nTransfer-Encoding: identity\r\n\r\n", []string{"POST /"}, []error{errFramingBadTransferEncoding}},
		{"TE folded", "POST / HTTP/1.1\r\nTransfer-Encoding:\r\n chunked\r\n\r\n", []string{"POST /"}, []error{errFramingObsFold}},
		{"obs-fold first line", "GET / HTTP/1.1\r\n X: y\r\n\r\n", []string{"GET /"}, []error{errFramingObsFold}},
		{"no colon", "GET / HTTP/1.1\r\nX\r\n\r\n", []string{"GET /"}, []error{errFramingNoColon}},
		{"space in name", "GET / HTTP/1.1\r\nContent-Length : 1\r\n\r\n", []string{"GET /"}, []error{errFramingBadFieldName}},
		{"empty name", "GET / HTTP/1.1\r\n: 1\r\n\r\n", []string{"GET /"}, []error{errFramingBadFieldName}},
		{"garbage request line", "GET\r\n\r\n", []string{"GET "}, []error{errFramingUntracked}},
		{"HTTP/0.9", "GET / HTTP/0.9\r\n\r\n", []string{"GET /"}, []error{errFramingUntracked}},
		{"HTTP/1.9 frames as 1.1", "POST / HTTP/1.9\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /", "GET /b"}, []error{nil, nil}},
		{"HTTP/2 preface", "PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n\x00\x00", []string{"GET /h2", "GET /h2"}, []error{nil, nil}},
		{"PRI with fields", "PRI * HTTP/2.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET /b HTTP/1.1\r\n\r\n",
			[]string{"PRI *", "GET /b"}, []error{nil, nil}},
		{"mismatch", "GET /a HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", []string{"GET /b", "GET /b"}, []error{errFramingDesync, errFramingDesync}},
		{"no head", "", []string{"GET /"}, []error{errFramingDesync}},
		{"OPTIONS * skipped", "OPTIONS * HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", []string{"GET /b"}, []error{nil}},
		{"OPTIONS * served", "OPTIONS * HTTP/1.1\r\n\r\nGET /b HTTP/1.1\r\n\r\n", []string{"OPTIONS *", "GET /b"}, []error{nil, nil}},
		{"CRLF after POST", "POST / HTTP/1.1\r\nContent-Length: 1\r\n\r\nx\r\n\r\nGET /b HTTP/1.1\r\n\r\n", []string{"POST /", "GET /b"}, []error{nil, nil}},
		{"five CRLF bytes after POST", "POST / HTTP/1.1\r\n\r\n\r\n\r\n\nGET /b HTTP/1.1\r\n\r\n", []string{"POST /", "GET /b"}, []error{nil, errFramingUntracked}},
		{"CRLF after GET", "GET / HTTP/1.1\r\n\r\n\r\nGET /b HTTP/1.1\r\n\r\n", []string{"GET /", "GET /b"}, []error{nil, errFramingUntracked}},
		{"malformed chunk", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n5x\r\nhello\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /", "GET /b"}, []error{nil, errFramingAfterBadBody}},
		{"chunk data without CRLF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1\r\nxy\r\n0\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /", "GET /b"}, []error{nil, errFramingAfterBadBody}},
		{"obs-fold in trailer", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\nX: a\r\n b\r\n\r\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /", "GET /b"}, []error{nil, errFramingAfterBadBody}},
		{"trailer ends with bare LF", "POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nGET /b HTTP/1.1\r\n\r\n",
			[]string{"POST /", "GET /b"}, []error{nil, nil}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, pieces := range []int{len(tc.raw) + 1, 1, 3} {
				got := trackerVerdicts(tc.raw, pieces, tc.requests...)
				for i := range got {
					if !errors.Is(got[i], tc.want[i]) {
						t.Errorf("pieces of %d: request %q: got %v, want %v", pieces, tc.requests[i], got[i], tc.want[i])
					}
				}
			}
		})
	}
}

func TestFramingUnguarded(t *testing.T) {
	r := httptest.NewRequest("POST", "/", strings.NewReader("x"))
	if err := framingError(r); err != nil {
		t.Errorf("unguarded request: %v", err)
	}
	if connIsTLS(r.Context()) {
		t.Error("unguarded request is TLS")
	}
	c1, c2 := net.Pipe()
	defer c1.Close()
	defer c2.Close()
	if ctx := ConnContext(context.Background(), c1); ctx != context.Background() {
		t.Error("ConnContext changed the context of an unguarded connection")
	}
}

// TestFramingBounded checks that heads no handler takes do not pile up.
func TestFramingBounded(t *testing.T) {
	var tr framingTracker
	head := []byte("GET / HTTP/1.1\r\n\r\n")
	for range 2 * maxPendingHeads {
		tr.feed(head)
	}
	if tr.end != endLost || cap(tr.q.buf) > maxPendingHeads {
		t.Fatalf("after %d heads: end %v, queue capacity %d", 2*maxPendingHeads, tr.end, cap(tr.q.buf))
	}
	for i := range maxPendingHeads {
		if err := tr.verdict(fingerprint("GET", "/"), false); err != nil {
			t.Fatalf("verdict %d: %v", i, err)
		}
	}
	if err := tr.verdict(fingerprint("GET", "/"), false); err != errFramingUntracked {
		t.Fatalf("past the bound: %v", err)
	}
}

// replayConn reads raw over and over.
type replayConn struct {
	net.Conn
	raw []byte
	off int
}

func (c *replayConn) Read(p []byte) (int, error) {
	n := copy(p, c.raw[c.off:])
	c.off = (c.off + n) % len(c.raw)
	return n, nil
}

// readRequests reads n requests' worth of bytes from c in reads of up to
// 4 KiB, as net/http does, taking each request's verdict from g if set.
func readRequests(c net.Conn, g *guardConn, raw []byte, buf []byte, n int) error {
	for range n {
		for left := len(raw); left > 0; {
			k, err := c.Read(buf[:min(len(buf), left)])
			if err != nil {
				return err
			}
			left -= k
		}
		if g != nil {
			if err := g.verdict("POST", "/soap"); err != nil {
				return err
			}
		}
	}
	return nil
}

func benchRequests() map[string][]byte {
	chunks := make([]string, 16)
	for i := range chunks {
		chunks[i] = strings.Repeat("c", 4<<10)
	}
	head := "POST /soap HTTP/1.1\r\nHost: peekroute.test\r\nUser-Agent: bench/1.0\r\nContent-Type: text/xml; charset=utf-8\r\nSOAPAction: \"urn:x\"\r\n"
	return map[string][]byte{
		"cl-1KiB":       []byte(head + "Content-Length: 1024\r\n\r\n" + strings.Repeat("b", 1024)),
		"chunked-64KiB": []byte(strings.Replace(postChunked("/soap", chunks...), "POST /soap HTTP/1.1\r\nHost: x\r\n", head, 1)),
	}
}

func TestFramingZeroAllocs(t *testing.T) {
	buf := make([]byte, 4<<10)
	for name, raw := range benchRequests() {
		g := &guardConn{Conn: &replayConn{raw: raw}}
		if err := readRequests(g, g, raw, buf, 1); err != nil {
			t.Fatal(err)
		}
		allocs := testing.AllocsPerRun(100, func() {
			if err := readRequests(g, g, raw, buf, 1); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: %v allocations per request", name, allocs)
		}
	}
}

func BenchmarkFraming(b *testing.B) {
	for _, name := range []string{"cl-1KiB", "chunked-64KiB"} {
		raw := benchRequests()[name]
		buf := make([]byte, 4<<10)
		b.Run(name+"/bare", func(b *testing.B) {
			c := &replayConn{raw: raw}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := readRequests(c, nil, raw, buf, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
		b.Run(name+"/guarded", func(b *testing.B) {
			g := &guardConn{Conn: &replayConn{raw: raw}}
			b.SetBytes(int64(len(raw)))
			b.ReportAllocs()
			for b.Loop() {
				if err := readRequests(g, g, raw, buf, 1); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}

func TestFramingTLS(t *testing.T) {
	serverCfg, pool := framingTLSConfigs(t)
	addr := startFramingServer(t, func(ln net.Listener) net.Listener { return tls.NewListener(ln, serverCfg) },
		http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			if err := framingError(r); err != nil {
				http.Error(w, "framing: "+err.Error(), http.StatusBadRequest)
				return
			}
			fmt.Fprintf(w, "tls=%v request-tls=%v", connIsTLS(r.Context()), r.TLS != nil)
		}))
	conn := tls.Client(dialNoDelay(t, addr), &tls.Config{RootCAs: pool, ServerName: "localhost", NextProtos: []string{"h2", "http/1.1"}})
	raw := "GET /a HTTP/1.1\r\nHost: x\r\n\r\n" +
		"POST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\r\n" + framingEnd
	got := framingExchange(t, conn, raw, false)
	checkReplies(t, got, []string{"200 tls=true request-tls=false", "400 both Content-Length and Transfer-Encoding", ambiguousAfter})
	if p := conn.ConnectionState().NegotiatedProtocol; p != "http/1.1" {
		t.Errorf("negotiated %q", p)
	}

	plain := startFramingServer(t, noWrap, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprintf(w, "tls=%v", connIsTLS(r.Context()))
	}))
	got = framingExchange(t, dialNoDelay(t, plain), framingEnd, false)
	checkReplies(t, got, []string{"200 tls=false"})
}

// framingTLSConfigs returns a server config with a fresh self-signed
// certificate for localhost, offering only HTTP/1.1, and a pool trusting it.
func framingTLSConfigs(t *testing.T) (*tls.Config, *x509.CertPool) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(1),
		Subject:      pkix.Name{CommonName: "localhost"},
		DNSNames:     []string{"localhost"},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	pool := x509.NewCertPool()
	pool.AddCert(cert)
	cfg := &tls.Config{
		Certificates: []tls.Certificate{{Certificate: [][]byte{der}, PrivateKey: key}},
		NextProtos:   []string{"http/1.1"},
	}
	return cfg, pool
}

// Fuzzing: the tracker against net/http's own reading of the same bytes.

// trackedHead is what the tracker's events say about one request.
type trackedHead struct {
	start, end int64 // end: past the empty line, or where a violation was met
	err        error // the head's violation
	trailer    int64 // start of the trailer section, or -1
	bodyEnd    int64 // or -1
	bodyLength int64
	bodyErr    error
}

type trackedStream struct {
	heads  []trackedHead
	end    trackEnd
	endOff int64
	events []framingEvent
}

// trackStream feeds data to a tracker in pieces of the given size, taking
// each verdict as soon as its head is read, as handlers would.
func trackStream(data []byte, piece int) (trackedStream, *framingTracker) {
	var s trackedStream
	t := &framingTracker{}
	t.trace = func(e framingEvent) { s.events = append(s.events, e) }
	for rest := data; len(rest) > 0; {
		n := min(piece, len(rest))
		t.feed(rest[:n])
		rest = rest[n:]
		for {
			if _, ok := t.q.pop(); !ok {
				break
			}
		}
	}
	for _, e := range s.events {
		s.apply(e)
	}
	return s, t
}

func (s *trackedStream) apply(e framingEvent) {
	var h *trackedHead
	if len(s.heads) > 0 {
		h = &s.heads[len(s.heads)-1]
	}
	switch e.kind {
	case evHead:
		s.heads = append(s.heads, trackedHead{start: e.off, end: -1, trailer: -1, bodyEnd: -1})
	case evHeadEnd:
		h.end = e.off
	case evViolation:
		h.end, h.err = e.off, e.err
	case evTrailer:
		h.trailer = e.off
	case evBodyEnd:
		h.bodyEnd, h.bodyLength = e.off, e.body
	case evBodyViolation:
		h.bodyErr = e.err
	case evEnd:
		s.end, s.endOff = e.end, e.off
	}
}

// oracleHeadAmbiguous says, independently of the tracker, whether a head
// net/http accepted is one the guard must refuse.
func oracleHeadAmbiguous(head []byte, req *http.Request) bool {
	cl, te := 0, 0
	for _, line := range strings.Split(string(head), "\n")[1:] {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		if line[0] == ' ' || line[0] == '\t' {
			return true
		}
		name, _, _ := strings.Cut(line, ":")
		if strings.Contains(name, " ") {
			return true
		}
		switch strings.ToLower(name) {
		case "content-length":
			cl++
		case "transfer-encoding":
			te++
		}
	}
	http10 := req.ProtoMajor == 1 && req.ProtoMinor == 0
	return cl > 1 || cl > 0 && te > 0 || te > 0 && http10
}

// hasFieldLines says whether a head has a line between its request line and
// its empty line.
func hasFieldLines(head []byte) bool {
	lines := strings.SplitN(string(head), "\n", 3)
	return len(lines) > 1 && strings.TrimSuffix(lines[1], "\r") != ""
}

// oracleTrailerMalformed says whether a trailer section net/http accepted
// holds obs-fold or a field name with a space.
func oracleTrailerMalformed(trailer []byte) bool {
	for _, line := range strings.Split(string(trailer), "\n") {
		line = strings.TrimSuffix(line, "\r")
		if line == "" {
			break
		}
		name, _, _ := strings.Cut(line, ":")
		if line[0] == ' ' || line[0] == '\t' || strings.Contains(name, " ") {
			return true
		}
	}
	return false
}

func numLeadingCRorLF(v []byte) (n int) {
	for _, b := range v {
		if b != '\r' && b != '\n' {
			break
		}
		n++
	}
	return n
}

// checkAgainstNetHTTP reads data as net/http's server loop does and checks
// that the tracker found each request head and body where net/http did,
// flagging exactly the heads the oracle calls ambiguous. It stops at the
// first request net/http would refuse or serve as the last one.
func checkAgainstNetHTTP(t *testing.T, data []byte, s trackedStream) {
	rd := bytes.NewReader(data)
	br := bufio.NewReaderSize(rd, 4096) // the server's read buffer
	consumed := func() int64 { return int64(len(data) - rd.Len() - br.Buffered()) }
	lastPOST := false
	for i := 0; ; i++ {
		if lastPOST {
			// conn.readRequest's tolerance of a CRLF after a POST body.
			peek, _ := br.Peek(4)
			br.Discard(numLeadingCRorLF(peek))
		}
		start := consumed()
		req, err := http.ReadRequest(br)
		if err != nil {
			return
		}
		headEnd := consumed()
		preface := req.Method == "PRI" && req.RequestURI == "*" && req.Proto == "HTTP/2.0"
		if req.ProtoMajor != 1 && !preface {
			return // 505
		}
		if i >= len(s.heads) {
			t.Fatalf("net/http read request %d at [%d, %d); the tracker ended (%v) at %d", i, start, headEnd, s.end, s.endOff)
		}
		h := s.heads[i]
		if h.start != start {
			t.Fatalf("request %d: net/http starts it at %d, the tracker at %d", i, start, h.start)
		}
		// Not len(req.Header) == 0: http.ReadRequest drops Host, which
		// keeps net/http from taking the head for the preface.
		if preface && !hasFieldLines(data[start:headEnd]) {
			if s.end != endSwitched || s.endOff != headEnd {
				t.Fatalf("HTTP/2 preface ending at %d: the tracker ended %v at %d", headEnd, s.end, s.endOff)
			}
			return
		}
		if want := oracleHeadAmbiguous(data[start:headEnd], req); want || h.err != nil {
			if !want || h.err == nil {
				t.Fatalf("request %d, head %q: tracker says %v, oracle says ambiguous=%v", i, data[start:headEnd], h.err, want)
			}
			return
		}
		if h.end != headEnd {
			t.Fatalf("request %d: net/http ends its head at %d, the tracker at %d", i, headEnd, h.end)
		}
		lastPOST = req.Method == "POST"
		n, err := io.Copy(io.Discard, req.Body)
		if err != nil {
			return // net/http closes the connection after a body it cannot read
		}
		if !checkBody(t, i, data, h, req, n, consumed()) {
			return
		}
	}
}

// checkBody compares a body net/http read whole, of n bytes ending at end,
// with the tracker's view; false: tracking rightly stopped there.
func checkBody(t *testing.T, i int, data []byte, h trackedHead, req *http.Request, n, end int64) bool {
	chunked := len(req.TransferEncoding) > 0
	if chunked && (h.trailer < 0 || h.trailer > end) {
		t.Fatalf("request %d: chunked body ending at %d, the tracker found no trailer section (%d)", i, end, h.trailer)
	}
	var malformed bool
	if chunked {
		malformed = oracleTrailerMalformed(data[h.trailer:end])
	}
	if h.bodyErr != nil || malformed {
		if h.bodyErr == nil || !malformed {
			t.Fatalf("request %d, trailer %q: tracker says %v, oracle says malformed=%v", i, data[h.trailer:end], h.bodyErr, malformed)
		}
		return false
	}
	if h.bodyEnd != end || h.bodyLength != n {
		t.Fatalf("request %d: net/http reads a body of %d bytes ending at %d, the tracker %d ending at %d", i, n, end, h.bodyLength, h.bodyEnd)
	}
	return true
}

var framingSeeds = []string{
	"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
	"PRI * HTTP/2.0\r\n\r\nSM\r\n\r\n",
	"PRI * HTTP/2.0\r\nHost: x\r\nContent-Length: 1\r\n\r\nxGET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nContent-Length: 3\r\n\r\nabc\r\n\r\n\nGET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3;x=y\r\nabc\r\n0\r\nA: b\r\n c\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\nA b: c\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n0\r\n\nGET / HTTP/1.1\r\n\r\n",
	"GET / HTTP/1.0\r\nTransfer-Encoding: gzip\r\n\r\n",
	"GET / HTTP/1.1\r\nX: a\r\n\r\n\r\nGET / HTTP/1.1\r\n\r\n",
	"OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\nCONNECT a:1 HTTP/1.1\r\n\r\n",
	"GET /\x7f HTTP/1.1\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n00000000000000001\r\na\r\n0\r\n\r\n",
	"POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n1 \t\r\na\r\n0\r\n\r\n",
}

func FuzzFraming(f *testing.F) {
	for _, s := range framingSeeds {
		f.Add([]byte(s))
	}
	for _, tc := range framingCases() {
		f.Add([]byte(tc.raw))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		whole, tr := trackStream(data, len(data)+1)
		if cap(tr.q.buf) > maxPendingHeads {
			t.Fatalf("queue grew to %d", cap(tr.q.buf))
		}
		for _, piece := range []int{1, 7} {
			if split, _ := trackStream(data, piece); !sameEvents(split.events, whole.events) {
				t.Fatalf("in pieces of %d: events\n%v\nwhole:\n%v", piece, split.events, whole.events)
			}
		}
		checkAgainstNetHTTP(t, data, whole)
	})
}

func sameEvents(a, b []framingEvent) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}
