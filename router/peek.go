package router

import (
	"errors"
	"io"
	"sync"
	"sync/atomic"
)

// peekBuf holds the bytes read from a client's body while looking for the
// key. It is shared by the handler and every replay of the body (a retry
// replays it again), so it returns to its pool only when the last of them
// lets go: the transport may still be reading a request body after the
// round trip that sent it has returned.
type peekBuf struct {
	b    []byte
	n    int // bytes of b filled from the body
	eof  bool
	refs atomic.Int32
	pool *bufPool
}

// peeked returns the bytes read so far.
func (p *peekBuf) peeked() []byte { return p.b[:p.n] }

// whole reports whether the peeked bytes are the entire body.
func (p *peekBuf) whole() bool { return p.eof }

func (p *peekBuf) retain() { p.refs.Add(1) }

func (p *peekBuf) release() {
	if p.refs.Add(-1) == 0 {
		p.pool.put(p)
	}
}

// bufPool recycles peek buffers of one size.
type bufPool struct {
	size      int
	pool      sync.Pool
	allocated atomic.Int64 // buffers made rather than reused
}

func newBufPool(size int) *bufPool {
	bp := &bufPool{size: size}
	bp.pool.New = func() any {
		bp.allocated.Add(1)
		return &peekBuf{b: make([]byte, size), pool: bp}
	}
	return bp
}

// get returns an empty buffer with one reference, held by the caller.
func (bp *bufPool) get() *peekBuf {
	p := bp.pool.Get().(*peekBuf)
	p.n, p.eof = 0, false
	p.refs.Store(1)
	return p
}

func (bp *bufPool) put(p *peekBuf) { bp.pool.Put(p) }

var errBodyClosed = errors.New("peekroute: request body already closed")

// replayBody is the body sent to a backend: the peeked bytes, then whatever
// the client has not sent yet, read straight from its connection.
type replayBody struct {
	mu     sync.Mutex // guards off and closed against a concurrent Close
	buf    *peekBuf
	off    int
	closed bool
	rest   io.Reader // the client's body after the peeked bytes; nil if whole
	// restErr is the first error other than io.EOF that rest returned:
	// the client's stream broke, which is not the backend's fault.
	restErr error
}

// newReplayBody takes a reference on buf that Close gives back.
func newReplayBody(buf *peekBuf, rest io.Reader) *replayBody {
	buf.retain()
	if buf.whole() {
		rest = nil
	}
	return &replayBody{buf: buf, rest: rest}
}

func (rb *replayBody) Read(p []byte) (int, error) {
	if n, err, done := rb.readPeeked(p); done {
		return n, err
	}
	if rb.rest == nil {
		return 0, io.EOF
	}
	n, err := rb.rest.Read(p)
	rb.mu.Lock()
	rb.off += n
	if err != nil && err != io.EOF && rb.restErr == nil {
		rb.restErr = err
	}
	rb.mu.Unlock()
	return n, err
}

// readPeeked serves p from the peeked bytes; done is false once they are
// used up and the read must go to the client's stream.
func (rb *replayBody) readPeeked(p []byte) (n int, err error, done bool) {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if rb.closed {
		return 0, errBodyClosed, true
	}
	peeked := rb.buf.peeked()
	if rb.off >= len(peeked) {
		return 0, nil, false
	}
	n = copy(p, peeked[rb.off:])
	rb.off += n
	return n, nil, true
}

// Close releases the peek buffer. It does not close the client's body: the
// server owns that and closes it when the handler returns.
func (rb *replayBody) Close() error {
	if rb == nil {
		return nil
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	if !rb.closed {
		rb.closed = true
		rb.buf.release()
	}
	return nil
}

// ready reports whether Read can return peeked bytes at once, without
// waiting on the client.
func (rb *replayBody) ready() bool {
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return !rb.closed && rb.off < rb.buf.n
}

// sent reports whether any byte of the body has been handed to a backend
// connection (a read returned data). Before that a failed attempt left nothing
// behind and the request can be replayed elsewhere from the peek buffer.
func (rb *replayBody) sent() bool { return rb.consumed() > 0 }

// consumed returns how many body bytes have been handed on.
func (rb *replayBody) consumed() int64 {
	if rb == nil {
		return 0
	}
	rb.mu.Lock()
	defer rb.mu.Unlock()
	return int64(rb.off)
}
