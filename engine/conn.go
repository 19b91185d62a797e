package engine

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/netip"
	"runtime/debug"
	"sync/atomic"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// aLongTimeAgo is a deadline that makes blocked I/O return at once.
var aLongTimeAgo = time.Unix(1, 0)

// clientConn is one client connection and the exchange it carries. Its
// goroutine reads a request head, has it routed, forwards it and relays the
// response, then waits for the next request.
type clientConn struct {
	s      *Server
	nc     net.Conn
	tcp    *net.TCPConn // nil under TLS: no splice
	in     reader
	tls    bool
	remote netip.AddrPort
	idle   atomic.Bool // waiting for a request: Shutdown may close it

	req       h1.Request
	resp      h1.Response
	x         Exchange
	reqBody   framing
	peek      peekReader
	bodyStart int  // in.buf offset of the body's first byte
	peekEnd   int  // in.buf offset past the body bytes framed so far
	continued bool // 100 Continue was sent for this request
	lr        io.LimitedReader
	send      sender                      // streams the rest of a request body
	linger    bool                        // an answer said Connection: close; drain before closing
	wait      waiter                      // this connection's place in a backend's queue
	active    atomic.Pointer[backendConn] // the backend connection in use, for Close
	watch     struct {
		gone, done chan struct{}
		stopping   atomic.Bool
	}
}

func (s *Server) newConn(nc net.Conn) *clientConn {
	c := &clientConn{s: s, nc: nc}
	c.in.init(nc, &s.bufs)
	c.tcp, _ = nc.(*net.TCPConn)
	_, c.tls = nc.(*tls.Conn)
	if a, ok := nc.RemoteAddr().(*net.TCPAddr); ok {
		c.remote = a.AddrPort()
	}
	c.peek.c = c
	c.x.c = c
	c.send.c = c
	c.send.done = make(chan struct{}, 1)
	c.wait.ready = make(chan struct{}, 1)
	return c
}

// wakeIfIdle closes the connection's wait for a next request, for Shutdown.
func (c *clientConn) wakeIfIdle() {
	if c.idle.Load() {
		c.nc.SetReadDeadline(aLongTimeAgo)
	}
}

func (c *clientConn) serve() {
	defer c.s.remove(c)
	defer c.close()
	defer c.recoverPanic()
	if tc, ok := c.nc.(*tls.Conn); ok && !c.handshake(tc) {
		return
	}
	for c.readHead() && c.serveExchange() {
	}
}

func (c *clientConn) close() {
	if c.linger {
		c.drainUnread()
	}
	c.nc.Close()
	c.in.drop()
}

// Lingering close: closing a socket that still has unread input makes the
// kernel reset the connection, and a client still sending its body may lose
// the answer it was just sent. After such an answer the write side is shut
// and what the client still sends is read and dropped, within bounds.
const (
	lingerTime  = 500 * time.Millisecond
	lingerBytes = 64 << 20
)

func (c *clientConn) drainUnread() {
	closeWrite(c.nc)
	c.nc.SetReadDeadline(time.Now().Add(lingerTime))
	io.CopyN(io.Discard, c.nc, lingerBytes)
}

// handshake completes a TLS client's handshake within the header timeout.
func (c *clientConn) handshake(tc *tls.Conn) bool {
	if d := c.s.cfg.ReadHeaderTimeout; d > 0 {
		tc.SetDeadline(time.Now().Add(d))
	}
	if err := tc.Handshake(); err != nil {
		c.s.log.Debug("TLS handshake", "remote", c.remote.String(), "err", err)
		return false
	}
	tc.SetDeadline(time.Time{})
	return true
}

// recoverPanic turns a panic while serving into one log line and, when the
// client has no answer yet, a 500; the connection then closes.
func (c *clientConn) recoverPanic() {
	p := recover()
	if p == nil {
		return
	}
	c.s.log.Error("panic serving a connection", "panic", fmt.Sprint(p), "remote", c.remote.String(), "stack", string(debug.Stack()))
	if c.x.Req != nil && c.x.Status == 0 {
		c.answer(500, "internal error", true)
	}
}

// readHead waits for the next request and reads its head whole, answering
// a bad one itself. It reports whether a request is ready to serve.
func (c *clientConn) readHead() bool {
	c.in.compact()
	c.x.Req = nil
	if len(c.in.buffered()) == 0 {
		// Shutdown sets draining, then wakes the connections it finds
		// idle with a deadline in the past. Here idle is set and the
		// deadline laid before draining is read, so that either this
		// sees draining or Shutdown's deadline comes after this one.
		c.idle.Store(true)
		c.setReadDeadline(c.s.cfg.IdleTimeout)
		if c.s.draining.Load() {
			c.idle.Store(false)
			return false
		}
		err := c.in.await()
		c.idle.Store(false)
		if err != nil {
			return false
		}
	}
	start := time.Now()
	deadline := false
	for next := 0; ; {
		buf := c.in.buffered()
		end, nx := h1.HeadEnd(buf, next)
		next = nx
		if end > c.s.cfg.MaxHeaderBytes || (end < 0 && len(buf) >= c.s.cfg.MaxHeaderBytes) {
			return c.refuseHead(431, "request head too large", nil)
		}
		if end >= 0 {
			return c.parseHead(buf[:end], start)
		}
		if !deadline {
			// The head did not come in one read: bound the rest.
			c.setDeadlineFrom(start, c.s.cfg.ReadHeaderTimeout)
			deadline = true
		}
		if _, err := c.in.fill(0); err != nil {
			switch {
			case errors.Is(err, errBufferFull):
				return c.refuseHead(431, "request head too large", nil)
			case isTimeout(err):
				return c.refuseHead(408, "timed out reading the request head", err)
			}
			return false // the client went away mid-head
		}
	}
}

func (c *clientConn) parseHead(head []byte, start time.Time) bool {
	if err := c.req.Parse(head, h1.Limits{MaxFields: c.s.cfg.MaxFields}); err != nil {
		var he *h1.Error
		if errors.As(err, &he) {
			return c.refuseHead(he.Status, he.Reason, err)
		}
		return c.refuseHead(400, "malformed request head", err)
	}
	c.bodyStart = c.in.r + len(head)
	c.peekEnd = c.bodyStart
	c.x = Exchange{Req: &c.req, Remote: c.remote, TLS: c.tls, Start: start, c: c}
	return true
}

// refuseHead answers a request whose head could not be taken, and reports
// false: the connection closes, since where the next request would start
// is unknown.
func (c *clientConn) refuseHead(status int, msg string, err error) bool {
	c.s.log.Info("refused a request head", "remote", c.remote.String(), "status", status, "reason", msg, "err", err)
	c.x = Exchange{Start: time.Now(), Remote: c.remote, TLS: c.tls, c: c}
	if err != nil {
		c.x.Err = err
	} else {
		c.x.Err = errors.New(msg)
	}
	c.answer(status, msg, true)
	c.s.policy.Done(&c.x)
	return false
}

// errConnect is why a CONNECT request is refused.
var errConnect = errors.New("CONNECT is not supported")

func (c *clientConn) setReadDeadline(d time.Duration) {
	if d > 0 {
		c.nc.SetReadDeadline(time.Now().Add(d))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
}

func (c *clientConn) setDeadlineFrom(start time.Time, d time.Duration) {
	if d > 0 {
		c.nc.SetReadDeadline(start.Add(d))
	} else {
		c.nc.SetReadDeadline(time.Time{})
	}
}

// serveExchange routes, forwards and answers the request whose head was
// just read, and reports whether the connection can carry another.
func (c *clientConn) serveExchange() bool {
	x, req := &c.x, &c.req
	c.reqBody.reset(req.Body(), req.ContentLength, c.s.cfg.MaxBody)
	c.peek.step, c.peek.deadline = smallBufSize, false
	c.continued = false
	defer c.s.policy.Done(x)
	if max := c.s.cfg.MaxBody; max > 0 && req.ContentLength > max {
		return c.refuse(413, fmt.Sprintf("request body larger than %d bytes", max), nil)
	}
	if req.IsMethod("CONNECT") {
		// What follows a CONNECT is a tunnel's bytes, not a request.
		return c.refuse(405, "CONNECT is not supported", errConnect)
	}
	t, err := c.s.policy.Route(x)
	if err != nil {
		status, msg := clientErrorStatus(err)
		return c.refuse(status, msg, err)
	}
	if c.peek.deadline {
		c.nc.SetReadDeadline(time.Time{})
	}
	keep := c.forward(t)
	return keep && !req.Close && !c.s.draining.Load()
}

// refuse answers the request itself, logging it once. The connection stays
// open only when the body was read without error and is whole in hand, so
// the next request's start is known.
func (c *clientConn) refuse(status int, msg string, err error) bool {
	x := c.x.Req
	c.x.Err = err
	level := slog.LevelInfo
	if status >= 500 {
		level = slog.LevelWarn
	}
	c.s.log.Log(context.Background(), level, "answered a request itself", "remote", c.remote.String(), "method", string(x.Method),
		"target", string(x.Target), "status", status, "reason", msg, "err", err)
	var se *StatusError
	bodyOK := err == nil || errors.As(err, &se)
	keep := bodyOK && !c.req.Close && c.consumeInHand()
	c.answer(status, msg, !keep)
	return keep && !c.s.draining.Load()
}

// consumeInHand frames the body bytes already read and consumes them;
// it reports whether they were the whole body.
func (c *clientConn) consumeInHand() bool {
	if !c.reqBody.done {
		n, err := c.reqBody.frameAll(c.in.buf.b[c.peekEnd:c.in.w])
		c.peekEnd += n
		if err != nil {
			return false
		}
	}
	if !c.reqBody.done {
		return false
	}
	c.in.r = c.peekEnd
	return true
}

// continue100 answers Expect: 100-continue before the engine first waits
// for body bytes, once per request.
func (c *clientConn) continue100() error {
	if c.continued || !c.req.Expect100 || c.x.Status != 0 {
		return nil
	}
	c.continued = true
	_, err := io.WriteString(c.nc, "HTTP/1.1 100 Continue\r\n\r\n")
	return err
}

// clientErrorStatus maps an error met reading a client's body (or a
// policy's refusal) to the answer.
func clientErrorStatus(err error) (int, string) {
	var se *StatusError
	var he *h1.Error
	switch {
	case errors.As(err, &se):
		return se.Status, se.Msg
	case errors.Is(err, errBodyTooLarge):
		return 413, "request body too large"
	case errors.As(err, &he):
		return he.Status, he.Reason
	case isTimeout(err):
		return 408, "timed out reading the request body"
	}
	return 400, "could not read the request body"
}
