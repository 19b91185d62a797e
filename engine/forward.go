package engine

import (
	"errors"
	"io"
	"sync/atomic"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// forward carries the request to t — and once to Retry's target when t
// could not be reached and the whole body is in hand — then relays the
// response. It reports whether the client connection can carry another
// request.
func (c *clientConn) forward(t *Target) bool {
	n, err := c.reqBody.frameAll(c.in.buf.b[c.peekEnd:c.in.w])
	c.peekEnd += n
	c.x.BytesIn += int64(n)
	if err != nil {
		status, msg := clientErrorStatus(err)
		return c.refuse(status, msg, err)
	}
	for {
		t, err = c.acquire(t)
		if err != nil {
			return c.notQueued(err)
		}
		c.x.Target = t
		keep, err := c.carry(t)
		c.s.backends.release(t)
		if err == nil {
			return keep
		}
		backendFault := !isLocal(err)
		if backendFault {
			c.s.policy.BackendFailed(t, err)
		}
		if backendFault && !c.x.Retried && c.reqBody.done {
			if next := c.s.policy.Retry(&c.x, t); next != nil && next != t {
				c.s.log.Warn("backend unreachable, retrying on the key's next owner", "backend", t.Name, "next", next.Name, "err", err)
				c.x.Retried = true
				t = next
				continue
			}
		}
		return c.backendError(t, err, "backend failed")
	}
}

// notQueued answers a request that got no slot on its backend.
func (c *clientConn) notQueued(err error) bool {
	if errors.Is(err, errClientGone) {
		c.x.Err = err
		c.s.log.Debug("client went away while its request was queued", "remote", c.remote.String())
		return false
	}
	status, msg := clientErrorStatus(err)
	return c.refuse(status, msg, err)
}

// carry draws a connection to t and carries the exchange on it. A pooled
// connection that exchange finds closed or not idle, before anything was
// written to it, is dropped and the next one drawn. err is set only when no
// connection could be had; the exchange has then not begun.
func (c *clientConn) carry(t *Target) (keep bool, err error) {
	for {
		// A whole request is written inside the wait for its answer, and
		// the connection checked there (see exchange).
		bc, err := c.s.backends.get(t, c.reqBody.done)
		if err != nil {
			return false, err
		}
		c.active.Store(bc)
		keep, stale := c.exchange(bc, t)
		c.active.Store(nil)
		if !stale {
			return keep, nil
		}
	}
}

// exchange sends the request on bc and relays the response. It reports
// stale, having written nothing and closed bc, when bc came unchecked from
// the pool and turned out not to be idle.
func (c *clientConn) exchange(bc *backendConn, t *Target) (keep, stale bool) {
	out := c.s.bufs.heads.Get().(*buffer)
	out.b = appendRequestHead(out.b[:0], &c.req, t, &c.x, c.continued)
	out.b = append(out.b, c.in.buf.b[c.bodyStart:c.peekEnd]...)
	streaming := !c.reqBody.done
	var err error
	if streaming {
		_, err = bc.nc.Write(out.b)
	} else {
		// The whole request goes in this write: wait for the answer in
		// the same call, checking first that a pooled connection is idle.
		bc.setReadDeadline(c.s.cfg.ResponseTimeout)
		err = bc.in.writeAwait(out.b, bc.unchecked)
		bc.unchecked = false
	}
	c.s.bufs.putHead(out)
	if errors.Is(err, errNotIdle) {
		bc.close()
		return false, true
	}
	if err != nil {
		bc.close()
		if !isLocal(err) {
			// The backend closed or reset the connection before any answer.
			c.s.policy.BackendFailed(t, err)
		}
		return c.backendError(t, err, "backend failed"), false
	}
	c.in.r = c.peekEnd
	if streaming {
		c.send.start(bc)
	}
	return c.relay(bc, t, streaming), false
}

// backendError answers a request that got no response from t, and reports
// whether the client connection can carry another request.
func (c *clientConn) backendError(t *Target, err error, msg string) bool {
	if isTimeout(err) {
		msg = "backend timed out"
		c.s.log.Warn("backend timed out", "backend", t.Name, "target", string(c.req.Target), "err", err)
		return c.answerBackend(504, msg, err)
	}
	c.s.log.Warn(msg, "backend", t.Name, "target", string(c.req.Target), "err", err)
	return c.answerBackend(502, msg, err)
}

// answerBackend answers in place of the backend; unlike refuse it does not
// log, the caller having logged the backend's failure.
func (c *clientConn) answerBackend(status int, msg string, err error) bool {
	c.x.Err = err
	keep := !c.req.Close && c.consumeInHand()
	c.answer(status, msg, !keep)
	return keep && !c.s.draining.Load()
}

// sender streams the rest of a request body to the backend on its own
// goroutine, so that the response — an early answer, an interim 100
// Continue — can be read meanwhile.
type sender struct {
	c        *clientConn
	bc       *backendConn
	done     chan struct{} // one value when run returns
	running  bool          // started and not yet waited for
	sent     atomic.Bool   // the whole body has been written to the backend
	final    atomic.Bool   // the write that ends the body is under way
	err      error         // why the body did not arrive whole; nil: it did
	clientEr bool          // err is the client's doing
	lr       io.LimitedReader
	// stop is set by abort before it sets its deadlines; the sender sets
	// its own deadlines before it looks, so that either it sees stop or
	// abort's deadlines, set later, are the ones in force.
	stop atomic.Bool
}

// errAborted is why a sender stopped when abort asked it to.
var errAborted = errors.New("the rest of the body is not wanted: the backend answered")

func (s *sender) start(bc *backendConn) {
	s.bc, s.err, s.clientEr, s.running = bc, nil, false, true
	s.sent.Store(false)
	s.final.Store(false)
	s.stop.Store(false)
	go s.run()
}

func (s *sender) run() {
	err, clientSide := s.c.streamBody(s.bc)
	if err != nil && s.stop.Load() && isTimeout(err) {
		// abort's deadlines made it fail; a failure of its own stands.
		err, clientSide = errAborted, false
	}
	s.err, s.clientEr = err, clientSide
	switch {
	case err == nil:
		s.sent.Store(true)
		s.bc.setReadDeadline(s.c.s.cfg.ResponseTimeout)
	case clientSide:
		// The request can never be whole: stop the backend from
		// answering a truncated one, and wake the response reader.
		s.bc.nc.Close()
	}
	s.done <- struct{}{}
}

// finished reports, without waiting, whether the sender has returned.
func (s *sender) finished() bool {
	if !s.running {
		return true
	}
	select {
	case <-s.done:
		s.running = false
		return true
	default:
		return false
	}
}

// wait waits for the sender to return.
func (s *sender) wait() {
	if s.running {
		<-s.done
		s.running = false
	}
}

// earlyGrace is how long a response head that arrives while the sender is
// in its last write waits for it: a backend that read the last byte may
// answer before the sender has returned from writing it.
const earlyGrace = 20 * time.Millisecond

// answeredEarly reports whether the backend answered before it had the
// whole body: the sender is still running, and not in the write that ends
// the body, or that write does not return within the grace period.
func (s *sender) answeredEarly() bool {
	if s.finished() || s.sent.Load() {
		return false
	}
	if !s.final.Load() {
		return true
	}
	t := time.NewTimer(earlyGrace)
	defer t.Stop()
	select {
	case <-s.done:
		s.running = false
		return false
	case <-t.C:
		return !s.sent.Load()
	}
}

// abort stops a sender still running, for a backend that answered before
// it had the whole body: the client connection will close.
func (s *sender) abort() {
	if s.running {
		s.stop.Store(true)
		s.c.nc.SetReadDeadline(aLongTimeAgo)
		s.bc.nc.SetWriteDeadline(aLongTimeAgo)
		s.wait()
	}
}

// streamBody copies the rest of the request body from the client to bc
// and reports any error with whose side it was on.
func (c *clientConn) streamBody(bc *backendConn) (err error, clientSide bool) {
	idle := c.s.cfg.BodyIdleTimeout
	for !c.reqBody.done {
		if c.reqBody.kind == h1.LengthBody && c.tcp != nil && bc.tcp != nil && len(c.in.buffered()) == 0 {
			piece := min(c.reqBody.left, splicePiece)
			if piece == c.reqBody.left {
				c.send.final.Store(true)
			}
			n, err, src := spliceN(bc.tcp, c.tcp, &c.send.lr, piece, idle, &c.send.stop)
			c.reqBody.left -= n
			c.reqBody.content += n
			c.x.BytesIn += n
			c.reqBody.done = c.reqBody.left == 0
			if err == nil && c.reqBody.max > 0 && c.reqBody.content > c.reqBody.max {
				return errBodyTooLarge, true
			}
			if err != nil {
				return err, src
			}
			continue
		}
		if len(c.in.buffered()) == 0 {
			c.setReadDeadline(idle)
			if c.send.stop.Load() {
				return errAborted, false // before detach: the buffer stays for the answer
			}
			c.in.detach() // the head stays readable for the log and any answer
			c.peekEnd = 0
			limit := 0
			if c.reqBody.kind == h1.LengthBody {
				limit = int(min(c.reqBody.left, int64(1<<30)))
			}
			if _, err := c.in.fill(limit); err != nil {
				return clientReadError(err), true
			}
		}
		buf := c.in.buffered()
		n, err := c.reqBody.frameAll(buf)
		if err != nil {
			return err, true
		}
		c.x.BytesIn += int64(n)
		if c.reqBody.done {
			c.send.final.Store(true)
		}
		if idle > 0 {
			bc.nc.SetWriteDeadline(time.Now().Add(idle))
		}
		if c.send.stop.Load() {
			return errAborted, false
		}
		if _, err := bc.nc.Write(buf[:n]); err != nil {
			return err, false
		}
		c.in.r += n
		c.peekEnd = c.in.r
	}
	return nil, false
}

// clientReadError turns the end of a client's stream mid-body into an
// error: the body was cut short.
func clientReadError(err error) error {
	if errors.Is(err, errBufferFull) {
		return errors.New("engine: no room to read the body")
	}
	return err
}
