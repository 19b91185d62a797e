package engine

import (
	"errors"
	"io"
	"net/netip"
	"time"

	"github.com/peekroute/peekroute/h1"
)

// Exchange is one request and its response, as the policy sees it. It is
// valid only during the Policy calls that receive it; the engine reuses it.
type Exchange struct {
	Req    *h1.Request    // the request head, parsed once
	Remote netip.AddrPort // the client's address
	TLS    bool           // the client connection is TLS
	Start  time.Time      // when the request head had arrived

	// Filled in by the engine as the exchange goes on.
	Status   int     // the final status sent to the client; 0: none was
	BytesIn  int64   // request body bytes read from the client, as sent
	BytesOut int64   // response body bytes written to the client, as sent
	Target   *Target // the backend tried last; nil: none
	Retried  bool    // sent again to Retry's target after a failed dial
	Err      error   // why the engine answered itself or cut the exchange short

	// State is the policy's own record of the exchange; the engine never
	// looks at it.
	State any

	c *clientConn
}

// Body returns a reader over the request body's content, chunked framing
// removed, for a policy that must look into it. Every byte it returns is
// kept and sent to the backend first, as it came on the wire. Reading
// stops with ErrPeekLimit once the engine holds as much of the body as it
// may keep; PeekTimeout bounds the whole read, and Expect: 100-continue is
// answered before the first read that has to wait for the client.
func (x *Exchange) Body() io.Reader { return &x.c.peek }

// ErrPeekLimit ends a read through Exchange.Body once the engine holds as
// much of the body as it keeps for one request.
var ErrPeekLimit = errors.New("engine: peek limit reached")

// framing follows a message body over its raw bytes: where it ends and, for
// a chunked body, which bytes are content.
type framing struct {
	kind    h1.BodyKind
	left    int64 // LengthBody: bytes still to come
	chunked h1.Chunked
	done    bool
	content int64 // content bytes framed so far
	max     int64 // when positive, the most content allowed
}

func (f *framing) reset(kind h1.BodyKind, length int64, max int64) {
	f.kind, f.left, f.done, f.content, f.max = kind, length, false, 0, max
	switch kind {
	case h1.NoBody:
		f.done = true
	case h1.LengthBody:
		f.done = length == 0
	case h1.ChunkedBody:
		f.chunked.Reset()
	}
}

var errBodyTooLarge = errors.New("body larger than the limit")

// frame consumes the bytes of p that belong to the body and returns how
// many, and the content among them (for a chunked body, at most one run:
// call again on p[n:] for more).
func (f *framing) frame(p []byte) (n int, data []byte, err error) {
	switch f.kind {
	case h1.LengthBody:
		n = int(min(int64(len(p)), f.left))
		f.left -= int64(n)
		f.done = f.left == 0
		data = p[:n]
	case h1.ChunkedBody:
		var done bool
		n, data, done, err = f.chunked.Next(p)
		f.done = done
	case h1.CloseBody:
		n, data = len(p), p
	}
	f.content += int64(len(data))
	if f.max > 0 && f.content > f.max && err == nil {
		err = errBodyTooLarge
	}
	return n, data, err
}

// frameAll consumes every byte of p that belongs to the body.
func (f *framing) frameAll(p []byte) (int, error) {
	if f.kind == h1.LengthBody || f.kind == h1.CloseBody {
		n, _, err := f.frame(p)
		return n, err
	}
	total := 0
	for !f.done && total < len(p) {
		n, _, err := f.frame(p[total:])
		total += n
		if err != nil {
			return total, err
		}
		if n == 0 {
			break
		}
	}
	return total, nil
}

// peekReader is Exchange.Body's reader: it frames what the client sent,
// keeping the raw bytes in the connection's buffer after the head.
type peekReader struct {
	c        *clientConn
	step     int  // the next read's size: small first, doubling, so a key near the start costs one short read
	deadline bool // PeekTimeout is set on the connection
}

func (pr *peekReader) Read(p []byte) (int, error) {
	c := pr.c
	if len(p) == 0 {
		return 0, nil
	}
	for {
		if c.reqBody.done {
			return 0, io.EOF
		}
		if c.peekEnd < c.in.w {
			in := c.in.buf.b[c.peekEnd:min(c.in.w, c.peekEnd+len(p))]
			n, data, err := c.reqBody.frame(in)
			c.peekEnd += n
			c.x.BytesIn += int64(n)
			if err != nil {
				return 0, err
			}
			if len(data) > 0 {
				return copy(p, data), nil
			}
			if n > 0 {
				continue
			}
		}
		if err := pr.more(); err != nil {
			return 0, err
		}
	}
}

// more reads the next piece of the body from the client.
func (pr *peekReader) more() error {
	c := pr.c
	if !pr.deadline && c.s.cfg.PeekTimeout > 0 {
		c.nc.SetReadDeadline(time.Now().Add(c.s.cfg.PeekTimeout))
		pr.deadline = true
	}
	if err := c.continue100(); err != nil {
		return err
	}
	_, err := c.in.fill(pr.step)
	pr.step = min(2*pr.step, 64<<10)
	switch {
	case errors.Is(err, errBufferFull):
		return ErrPeekLimit
	case errors.Is(err, io.EOF):
		return io.ErrUnexpectedEOF
	}
	return err
}
