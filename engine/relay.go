package engine

import (
	"errors"
	"io"
	"net"
	"sync/atomic"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// errResponseHeadTooLarge is a backend response head over MaxHeaderBytes.
var errResponseHeadTooLarge = errors.New("response head too large")

// errChunkedToHTTP10 is a chunked response to an HTTP/1.0 request, which
// RFC 9112 forbids and an HTTP/1.0 client cannot read.
var errChunkedToHTTP10 = errors.New("chunked response to an HTTP/1.0 request")

// errUnaskedSwitch is a 101 response to a request that asked for no upgrade.
var errUnaskedSwitch = errors.New("backend switched protocols unasked")

// relay reads the response to the request just sent on bc — skipping or
// passing on interim responses — and relays it to the client. It reports
// whether the client connection can carry another request.
func (c *clientConn) relay(bc *backendConn, t *Target, streaming bool) bool {
	head, err := c.readFinalHead(bc)
	if err != nil {
		return c.noResponse(bc, t, err, streaming)
	}
	if c.resp.Status == 101 {
		if streaming && c.send.answeredEarly() {
			// An upgrade before the request body was whole: the tunnel
			// takes the client's stream from here.
			c.send.abort()
		}
		c.send.wait()
		return c.tunnel(bc, head)
	}
	kind := c.resp.Body(c.req.Method)
	early := streaming && c.send.answeredEarly()
	keep := !c.req.Close && kind != h1.CloseBody && !early && !c.s.draining.Load()
	complete, err := c.relayResponse(bc, head, kind, keep)
	if streaming {
		if early || c.send.answeredEarly() {
			c.send.abort() // the rest of the body is not wanted
			keep = false
			c.linger = true // the client may still be sending: let it read the answer
		}
		c.send.wait()
		if c.send.err != nil {
			keep = false
			if c.x.Err == nil {
				c.x.Err = c.send.err
			}
		}
	}
	if err != nil {
		c.x.Err = err
		c.s.log.Info("response cut short", "backend", t.Name, "target", string(c.req.Target), "err", err)
	}
	reusable := complete && err == nil && !c.resp.Close && kind != h1.CloseBody &&
		(!streaming || c.send.err == nil) && len(bc.in.buffered()) == 0
	if reusable {
		c.s.backends.put(t, bc)
	} else {
		bc.close()
	}
	return keep && complete && err == nil
}

// readFinalHead reads response heads until a final one (or a 101), passing
// interim responses to an HTTP/1.1 client — except a second 100 Continue
// when the engine already sent one.
func (c *clientConn) readFinalHead(bc *backendConn) ([]byte, error) {
	for {
		head, err := bc.readHead(c.s.cfg.MaxHeaderBytes)
		if err != nil {
			return nil, err
		}
		if err := c.resp.Parse(head, h1.Limits{MaxFields: c.s.cfg.MaxFields}); err != nil {
			return nil, err
		}
		switch s := c.resp.Status; {
		case s == 101 && !c.req.Upgrade:
			return nil, errUnaskedSwitch
		case s == 101:
			return head, nil
		case s >= 200:
			if c.req.Minor == 0 && c.resp.Chunked {
				return nil, errChunkedToHTTP10
			}
			return head, nil
		}
		bc.in.r += len(head)
		if c.req.Minor == 0 || (c.resp.Status == 100 && c.continued) {
			continue
		}
		if _, err := c.nc.Write(head); err != nil {
			return nil, &clientWriteError{err}
		}
	}
}

// clientWriteError is a failure to write to the client: the client's doing.
type clientWriteError struct{ err error }

func (e *clientWriteError) Error() string { return "writing to the client: " + e.err.Error() }
func (e *clientWriteError) Unwrap() error { return e.err }

// noResponse answers a request whose backend gave no usable response, and
// judges whose fault that was.
func (c *clientConn) noResponse(bc *backendConn, t *Target, err error, streaming bool) bool {
	bc.close()
	if streaming {
		c.send.abort()
		if c.send.err != nil && c.send.clientEr {
			c.x.Err = c.send.err
			status, msg := clientErrorStatus(c.send.err)
			c.s.log.Info("client body failed while forwarding", "remote", c.remote.String(), "backend", t.Name, "err", c.send.err)
			c.answer(status, msg, true)
			return false
		}
	}
	var cw *clientWriteError
	switch {
	case errors.As(err, &cw):
		c.x.Err = err
		return false
	case isTimeout(err):
		// Slow, not failed: the health checks judge that.
	case !isLocal(err):
		c.s.policy.BackendFailed(t, err)
	}
	keep := c.backendError(t, err, "backend failed")
	return keep && (!streaming || c.send.err == nil)
}

// relayResponse writes the final response head and body to the client. It
// reports whether the whole body reached the client (complete) and the
// error that cut it short, if any.
func (c *clientConn) relayResponse(bc *backendConn, head []byte, kind h1.BodyKind, keep bool) (complete bool, err error) {
	var body framing
	body.reset(kind, c.resp.ContentLength, 0)
	after := bc.in.buffered()[len(head):]
	inHand, err := body.frameAll(after)
	if err != nil {
		return false, err
	}
	if err := c.writeResponseHead(bc, head, inHand, keep); err != nil {
		return false, &clientWriteError{err}
	}
	c.x.Status = c.resp.Status
	c.x.BytesOut += int64(inHand)
	bc.in.r += len(head) + inHand
	if kind == h1.NoBody {
		return true, nil
	}
	for !body.done {
		if err := c.relayMore(bc, &body); err != nil {
			if kind == h1.CloseBody && errors.Is(err, io.EOF) {
				return true, nil
			}
			return false, err
		}
	}
	return true, nil
}

// writeResponseHead writes the head and the body bytes in hand in one
// write: as received when it needs no change, which is the common case.
func (c *clientConn) writeResponseHead(bc *backendConn, head []byte, inHand int, keep bool) error {
	if c.resp.Minor == 1 && !hasHopFields(c.resp.Fields) && keep == (c.req.Minor == 1) {
		_, err := c.nc.Write(bc.in.buffered()[:len(head)+inHand])
		return err
	}
	out := c.s.bufs.heads.Get().(*buffer)
	out.b = appendResponseHead(out.b[:0], &c.resp, c.req.Minor, keep)
	out.b = append(out.b, bc.in.buffered()[len(head):len(head)+inHand]...)
	_, err := c.nc.Write(out.b)
	c.s.bufs.putHead(out)
	return err
}

// relayMore relays the next piece of a response body.
func (c *clientConn) relayMore(bc *backendConn, body *framing) error {
	idle := c.s.cfg.BodyIdleTimeout
	if body.kind != h1.ChunkedBody && c.tcp != nil && bc.tcp != nil && len(bc.in.buffered()) == 0 {
		want := int64(splicePiece)
		if body.kind == h1.LengthBody {
			want = min(body.left, want)
		}
		n, err, _ := spliceN(c.tcp, bc.tcp, &c.lr, want, idle, nil)
		c.x.BytesOut += n
		if body.kind == h1.LengthBody {
			body.left -= n
			body.done = body.left == 0
		}
		if body.kind == h1.CloseBody && errors.Is(err, io.ErrUnexpectedEOF) {
			err = io.EOF // the backend closed: that is this body's end
		}
		if err == nil && n == 0 {
			err = io.EOF
		}
		return err
	}
	if len(bc.in.buffered()) == 0 {
		bc.in.detach() // the response head stays readable
		bc.setReadDeadline(idle)
		limit := 0
		if body.kind == h1.LengthBody {
			limit = int(min(body.left, int64(1<<30)))
		}
		if _, err := bc.in.fill(limit); err != nil {
			return err
		}
	}
	buf := bc.in.buffered()
	n, err := body.frameAll(buf)
	if err != nil {
		return err
	}
	if idle > 0 {
		c.nc.SetWriteDeadline(time.Now().Add(idle))
	}
	if _, err := c.nc.Write(buf[:n]); err != nil {
		return &clientWriteError{err}
	}
	c.x.BytesOut += int64(n)
	bc.in.r += n
	return nil
}

// splicePiece is the most a single splice relay moves before its deadline
// is renewed: a body idle timeout measures time without progress.
const splicePiece = 256 << 10

// spliceN copies up to n bytes from src to dst with TCPConn.ReadFrom, which
// uses splice(2) between two TCP sockets. It reports how many bytes moved
// and, on error, whether the error was src's side. A short copy without an
// error means src ended. When stop is set after the deadlines are, it
// copies nothing and returns errAborted.
func spliceN(dst, src *net.TCPConn, lr *io.LimitedReader, n int64, idle time.Duration, stop *atomic.Bool) (int64, error, bool) {
	var deadline time.Time
	if idle > 0 {
		deadline = time.Now().Add(idle)
		// The writer's deadline comes later, so a stall on both sides
		// is laid on the reader, who sends the bytes.
		src.SetReadDeadline(deadline)
		dst.SetWriteDeadline(deadline.Add(time.Second))
	} else {
		// No bound on a body's pace: no deadline set for the head
		// (the response or idle timeout) may cut it.
		src.SetReadDeadline(time.Time{})
		dst.SetWriteDeadline(time.Time{})
	}
	if stop != nil && stop.Load() {
		return 0, errAborted, false
	}
	*lr = io.LimitedReader{R: src, N: n}
	m, err := dst.ReadFrom(lr)
	lr.R = nil
	switch {
	case err == nil && m < n:
		return m, io.ErrUnexpectedEOF, true
	case err == nil:
		return m, nil, false
	case isTimeout(err):
		return m, err, !deadline.IsZero() && !time.Now().Before(deadline) && time.Now().Before(deadline.Add(time.Second))
	}
	return m, err, peerGone(src)
}

// tunnel relays bytes both ways after a 101 Switching Protocols, until
// either side closes; the client connection is then done.
func (c *clientConn) tunnel(bc *backendConn, head []byte) bool {
	c.x.Status = 101
	defer bc.close()
	if _, err := c.nc.Write(bc.in.buffered()); err != nil {
		return false
	}
	bc.in.r = bc.in.w
	if b := c.in.buf.b[c.peekEnd:c.in.w]; len(b) > 0 {
		if _, err := bc.nc.Write(b); err != nil {
			return false
		}
		c.in.r = c.in.w
	}
	c.nc.SetDeadline(time.Time{})
	bc.nc.SetDeadline(time.Time{})
	up := make(chan struct{})
	go func() {
		defer close(up)
		n, _ := io.Copy(bc.nc, c.nc)
		c.x.BytesIn += n
		closeWrite(bc.nc)
	}()
	n, _ := io.Copy(c.nc, bc.nc)
	c.x.BytesOut += n
	closeWrite(c.nc)
	c.nc.SetReadDeadline(aLongTimeAgo)
	<-up
	return false
}

func closeWrite(nc net.Conn) {
	if cw, ok := nc.(interface{ CloseWrite() error }); ok {
		cw.CloseWrite()
	}
}
