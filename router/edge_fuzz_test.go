package router_test

import (
	"bufio"
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"
)

// FuzzRawRequest sends raw bytes to a live router and checks that it keeps
// serving and never forwards a request whose framing differs from what it
// accepted: every request a backend reads whole is one that net/http's own
// parser reads from the same bytes, with the same method, path and body,
// and none comes from a head whose framing is ambiguous.
func FuzzRawRequest(f *testing.F) {
	for _, seed := range []string{
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 28\r\n\r\n<sessionId>k1</sessionId>xyz",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n<sessionId>k2</sessionId>xyz\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n1c\r\n<sessionId>k3</sessionId>xyz\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nContent-Length: 4\r\n\r\n1c\r\n<sessionId>k3</sessionId>xyz\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: x\r\nX-Folded: a\r\n b\r\nContent-Length: 3\r\n\r\nabc",
		"POST /a HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\nzz\r\nabc\r\n0\r\n\r\n",
		"POST /a HTTP/1.0\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n3\r\nabc\r\n0\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcPOST /b HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nde",
		"GET / HTTP/1.1\r\nHost: x\r\n\r\n",
		"POST /a HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\nshort",
	} {
		f.Add([]byte(seed))
	}
	bs := startBackends(f, 2)
	_, url := startRouter(f, bs.backends)
	addr := strings.TrimPrefix(url, "http://")

	f.Fuzz(func(t *testing.T, raw []byte) {
		bs.reset()
		exchangeRaw(t, addr, raw)
		accepted := acceptedRequests(raw)
		for _, r := range bs.completed() {
			if !matchesOne(r, accepted) {
				t.Fatalf("a backend read %s %s with body sha %s, which the input does not frame that way:\n%q", r.method, r.path, r.sha, raw)
			}
		}
		// Still serving.
		if resp := postBytes(t, url, []byte("<sessionId>alive</sessionId>"), "alive"); resp.status != http.StatusOK {
			t.Fatalf("after %q the router answers %d", raw, resp.status)
		}
	})
}

// exchangeRaw writes raw on a fresh connection and reads until the router
// closes it or goes quiet.
func exchangeRaw(t *testing.T, addr string, raw []byte) {
	conn, err := net.Dial("tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(2 * time.Second))
	conn.Write(raw)
	conn.(*net.TCPConn).CloseWrite()
	io.Copy(io.Discard, conn)
}

type parsed struct {
	method, path, sha string
}

// acceptedRequests are the requests net/http's parser reads whole from raw,
// in order, stopping at the first it refuses or whose framing is ambiguous.
func acceptedRequests(raw []byte) []parsed {
	var out []parsed
	br := bufio.NewReader(bytes.NewReader(raw))
	for {
		head := peekHead(br)
		req, err := http.ReadRequest(br)
		if err != nil || ambiguous(head) {
			return out
		}
		body, err := io.ReadAll(req.Body)
		if err != nil {
			return out
		}
		sum := sha256.Sum256(body)
		out = append(out, parsed{req.Method, req.URL.Path, hex.EncodeToString(sum[:])})
	}
}

// peekHead returns the raw bytes of the next request head in br.
func peekHead(br *bufio.Reader) []byte {
	all, _ := br.Peek(br.Size()) // as much as there is, up to the buffer's size
	if i := bytes.Index(all, []byte("\r\n\r\n")); i >= 0 {
		return all[:i+2]
	}
	if i := bytes.Index(all, []byte("\n\n")); i >= 0 {
		return all[:i+1]
	}
	return all
}

// ambiguous reports framing that could be read two ways: folded lines,
// repeated Content-Length, Content-Length with Transfer-Encoding.
func ambiguous(head []byte) bool {
	lines := strings.Split(strings.ReplaceAll(string(head), "\r\n", "\n"), "\n")
	cl, te := 0, 0
	for i, line := range lines {
		if i > 0 && (strings.HasPrefix(line, " ") || strings.HasPrefix(line, "\t")) {
			return true
		}
		name, _, _ := strings.Cut(line, ":")
		switch strings.ToLower(strings.TrimSpace(name)) {
		case "content-length":
			cl++
		case "transfer-encoding":
			te++
		}
	}
	return cl > 1 || (cl > 0 && te > 0)
}

func matchesOne(r received, accepted []parsed) bool {
	for _, p := range accepted {
		if p.method == r.method && p.path == r.path && p.sha == r.sha {
			return true
		}
	}
	return false
}
