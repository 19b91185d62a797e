package engine

import (
	"bytes"
	"crypto/sha256"
	"errors"
	"io"
	"net"
	"runtime"
	"strings"
	"testing"
	"time"
)

// loopbackPair returns the two ends of a TCP connection on loopback.
func loopbackPair(t *testing.T) (near, far net.Conn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	accepted := make(chan net.Conn, 1)
	go func() {
		c, _ := ln.Accept()
		accepted <- c
	}()
	near, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	far = <-accepted
	if far == nil {
		t.Fatal("accept failed")
	}
	t.Cleanup(func() { near.Close(); far.Close() })
	return near, far
}

// loopbackReader returns a reader on the near end of a loopback TCP
// connection, that end, and the far end.
func loopbackReader(t *testing.T) (rd *reader, near, far net.Conn) {
	t.Helper()
	near, far = loopbackPair(t)
	rd = new(reader)
	pools := newBufPools(64<<10, 64<<10)
	rd.init(near, &pools)
	t.Cleanup(rd.drop)
	return rd, near, far
}

// TestWriteAwait covers the write that waits for its answer in the same
// call: the peer receives exactly what was written, and what it answers,
// or how it fails, is what the reader's next steps see.
func TestWriteAwait(t *testing.T) {
	small := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	large := bytes.Repeat([]byte("0123456789abcdef"), 2<<20) // 32 MiB: more than a socket takes at once
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name     string
		out      []byte
		peer     func(far net.Conn) // after it has read out: answers or not
		deadline time.Duration
		buffered string           // what the reader holds after writeAwait
		fillErr  func(error) bool // nil: fill reads the answer
		// eitherWay: the answer may be buffered or left for fill
		eitherWay bool
	}{
		{
			name: "answer read in the same call", out: small,
			peer:     func(far net.Conn) { far.Write([]byte(answer)) },
			buffered: answer,
		},
		{
			// The socket takes part of it, the usual write the rest, and
			// fill reads the answer; or, if the peer drained it as fast as
			// it came, the answer was read in the same call.
			name: "more than the socket takes at once", out: large,
			peer:      func(far net.Conn) { far.Write([]byte(answer)) },
			eitherWay: true,
		},
		{
			name: "peer closes without an answer", out: small,
			peer:    func(far net.Conn) { far.Close() },
			fillErr: func(err error) bool { return errors.Is(err, io.EOF) },
		},
		{
			name: "deadline passes while waiting", out: small, deadline: 50 * time.Millisecond,
			peer:    func(net.Conn) {},
			fillErr: isTimeout,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, near, far := loopbackReader(t)
			if tt.deadline > 0 {
				near.SetReadDeadline(time.Now().Add(tt.deadline))
			}
			got := make(chan [32]byte, 1)
			go func() {
				h := sha256.New()
				io.Copy(h, io.LimitReader(far, int64(len(tt.out))))
				var sum [32]byte
				copy(sum[:], h.Sum(nil))
				got <- sum
				tt.peer(far)
			}()
			if err := rd.writeAwait(tt.out, false); err != nil {
				t.Fatalf("writeAwait: %v", err)
			}
			if sum := <-got; sum != sha256.Sum256(tt.out) {
				t.Fatal("the peer did not receive exactly the bytes written")
			}
			if tt.eitherWay && len(rd.buffered()) > 0 {
				tt.buffered = answer
			}
			if tt.buffered != "" {
				if string(rd.buffered()) != tt.buffered {
					t.Fatalf("buffered %q, want %q", rd.buffered(), tt.buffered)
				}
				return
			}
			if len(rd.buffered()) != 0 {
				t.Fatalf("buffered %q, want nothing", rd.buffered())
			}
			_, err := rd.fill(0)
			if tt.fillErr == nil {
				if err != nil || !strings.HasPrefix(answer, string(rd.buffered())) {
					t.Fatalf("fill after writeAwait: %q, %v; want the answer", rd.buffered(), err)
				}
				return
			}
			if !tt.fillErr(err) {
				t.Fatalf("fill after writeAwait: %v", err)
			}
		})
	}
}

// TestWriteAwaitWriteError reports a write to a reset connection as the
// write's error, with nothing kept for the reader.
func TestWriteAwaitWriteError(t *testing.T) {
	rd, _, far := loopbackReader(t)
	far.(*net.TCPConn).SetLinger(0)
	far.Close() // a reset: the next writes fail
	// The first write may still be taken before the reset is seen.
	var err error
	for i := 0; i < 100 && err == nil; i++ {
		err = rd.writeAwait([]byte("GET / HTTP/1.1\r\n\r\n"), false)
		if err == nil {
			if _, ferr := rd.fill(0); ferr == nil {
				t.Fatal("read an answer from a reset connection")
			}
		}
	}
	var oe *net.OpError
	if !errors.As(err, &oe) || oe.Op != "write" {
		t.Fatalf("writeAwait on a reset connection: %v, want a write error", err)
	}
}

// TestWriteAwaitChecksIdle: with check, a connection that holds unasked
// bytes or was half-closed by its peer before the write is refused at once
// with errNotIdle and nothing is written to it; an idle one carries the
// request and its answer as usual.
func TestWriteAwaitChecksIdle(t *testing.T) {
	req := []byte("POST / HTTP/1.1\r\nHost: a\r\nContent-Length: 2\r\n\r\nhi")
	const answer = "HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n"
	tests := []struct {
		name   string
		before func(far net.Conn) // what the peer does while the connection is idle
		idle   bool
	}{
		{"idle", func(net.Conn) {}, true},
		{"unasked bytes", func(far net.Conn) { far.Write([]byte("HTTP/1.1 408 Request Timeout\r\n\r\n")) }, false},
		{"half-closed", func(far net.Conn) { far.(*net.TCPConn).CloseWrite() }, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rd, near, far := loopbackReader(t)
			tt.before(far)
			if !tt.idle {
				awaitNotIdle(t, near)
			}
			received := make(chan []byte, 1)
			go func() {
				got, _ := io.ReadAll(io.LimitReader(far, int64(len(req))))
				if len(got) == len(req) {
					far.Write([]byte(answer))
				}
				received <- got
			}()
			near.SetReadDeadline(time.Now().Add(10 * time.Second))
			start := time.Now()
			err := rd.writeAwait(req, true)
			if !tt.idle {
				if !errors.Is(err, errNotIdle) {
					t.Fatalf("writeAwait: %v after %v, want errNotIdle at once", err, time.Since(start))
				}
				near.Close()
				if got := <-received; len(got) != 0 {
					t.Fatalf("peer received %q from a connection found not idle", got)
				}
				return
			}
			if err != nil {
				t.Fatalf("writeAwait: %v", err)
			}
			if got := <-received; string(got) != string(req) {
				t.Fatalf("peer received %q", got)
			}
			if string(rd.buffered()) != answer {
				t.Fatalf("buffered %q, want the answer", rd.buffered())
			}
		})
	}
}

// awaitNotIdle waits until what the peer did has reached conn's socket.
func awaitNotIdle(t *testing.T, conn net.Conn) {
	t.Helper()
	rc, err := conn.(*net.TCPConn).SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var b [1]byte
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); runtime.Gosched() {
		idle := true
		rc.Control(func(fd uintptr) { idle = socketIdle(fd, &b) })
		if !idle {
			return
		}
	}
	t.Fatal("the peer's bytes or close never reached the socket")
}
