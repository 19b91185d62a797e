package engine

import (
	"errors"
	"io"
	"net"
	"os"
	"sync"
	"syscall"
)

// smallBufSize is a connection's read buffer while it carries an exchange:
// enough for a typical head and a small SOAP body in one read.
const smallBufSize = 8 << 10

// buffer is a pooled byte slice; pools hold *buffer so that putting one
// back does not allocate.
type buffer struct{ b []byte }

type bufPool struct {
	size int
	pool sync.Pool
}

func newBufPool(size int) *bufPool {
	p := &bufPool{size: size}
	p.pool.New = func() any { return &buffer{b: make([]byte, size)} }
	return p
}

func (p *bufPool) get() *buffer { return p.pool.Get().(*buffer) }

func (p *bufPool) put(b *buffer) {
	if b != nil && cap(b.b) == p.size {
		b.b = b.b[:p.size]
		p.pool.Put(b)
	}
}

// bufPools are the engine's buffers: small read buffers for every
// connection in use, large ones for a long head or a deep peek, and head
// buffers for writing outbound heads. An idle connection holds none.
type bufPools struct {
	small *bufPool
	large *bufPool // a head and a full peek, with room for chunk framing
	heads sync.Pool
}

func newBufPools(maxHead, peekLimit int) bufPools {
	return bufPools{
		small: newBufPool(smallBufSize),
		large: newBufPool(max(maxHead+peekLimit+smallBufSize, 2*smallBufSize)),
		heads: sync.Pool{New: func() any { return &buffer{b: make([]byte, 0, 4<<10)} }},
	}
}

func (p *bufPools) putAny(b *buffer) {
	if b == nil {
		return
	}
	if cap(b.b) == p.small.size {
		p.small.put(b)
	} else {
		p.large.put(b)
	}
}

// errNotIdle means a pooled connection was found, just before a request
// would have been written to it, to hold bytes or to be closed.
var errNotIdle = errors.New("connection not idle")

// errBufferFull means a reader's buffer is as large as it may grow.
var errBufferFull = errors.New("buffer full")

// reader is a connection's read side: a buffer taken from the pools when
// the connection has something to read and given back when it has nothing
// left, so an idle connection holds no buffer. Offsets into the buffer stay
// valid while it grows; only compact moves bytes.
type reader struct {
	nc    net.Conn
	raw   syscall.RawConn // for waiting on a plain TCP connection without a buffer; nil otherwise
	pools *bufPools
	buf   *buffer
	r, w  int // buf.b[r:w] is read and not yet consumed
	// prev is the buffer outgrown during the current message: the head
	// parsed from it still points into it, so it is kept until compact.
	prev *buffer

	// The raw read's function and its results, made once per
	// connection so that a wait allocates nothing.
	rawRead func(fd uintptr) bool
	rawN    int
	rawErr  error

	// out is what writeAwait still has to write before it waits; outErr
	// is why writing it failed. check asks it to make sure the socket is
	// idle first; notIdle reports that it was not.
	out     []byte
	outErr  error
	check   bool
	notIdle bool
	peekBuf [1]byte
	// pending is what went wrong while writeAwait waited, for the next
	// fill to return.
	pending error
}

// init readies rd to read nc.
func (rd *reader) init(nc net.Conn, pools *bufPools) {
	*rd = reader{nc: nc, pools: pools}
	if tc, ok := nc.(*net.TCPConn); ok {
		rd.raw, _ = tc.SyscallConn()
		rd.rawRead = rd.readRaw
	}
}

// buffered returns the bytes read and not consumed.
func (rd *reader) buffered() []byte {
	if rd.buf == nil {
		return nil
	}
	return rd.buf.b[rd.r:rd.w]
}

// release gives the buffer back when nothing is left in it.
func (rd *reader) release() {
	rd.dropPrev()
	if rd.buf != nil && rd.r == rd.w {
		rd.pools.putAny(rd.buf)
		rd.buf, rd.r, rd.w = nil, 0, 0
	}
}

// drop gives the buffer back whatever it holds.
func (rd *reader) drop() {
	rd.pending = nil
	rd.dropPrev()
	rd.pools.putAny(rd.buf)
	rd.buf, rd.r, rd.w = nil, 0, 0
}

// detach starts an empty buffer for what follows while keeping the current
// one, which the parsed head may point into, until compact.
func (rd *reader) detach() {
	if rd.prev == nil {
		rd.prev = rd.buf
	} else {
		rd.pools.putAny(rd.buf)
	}
	rd.buf, rd.r, rd.w = nil, 0, 0
}

func (rd *reader) dropPrev() {
	rd.pools.putAny(rd.prev)
	rd.prev = nil
}

// compact moves the unconsumed bytes to the front of the buffer, between
// messages: nothing parsed before may be used after.
func (rd *reader) compact() {
	rd.dropPrev()
	if rd.buf == nil || rd.r == 0 {
		return
	}
	n := copy(rd.buf.b, rd.buf.b[rd.r:rd.w])
	rd.r, rd.w = 0, n
}

// room makes sure there is free space after w, growing to a large buffer
// once; errBufferFull when even that is full.
func (rd *reader) room() error {
	if rd.buf == nil {
		rd.buf = rd.pools.small.get()
		rd.r, rd.w = 0, 0
	}
	if rd.w < len(rd.buf.b) {
		return nil
	}
	if len(rd.buf.b) == rd.pools.large.size {
		return errBufferFull
	}
	big := rd.pools.large.get()
	copy(big.b, rd.buf.b[:rd.w])
	if rd.prev == nil {
		rd.prev = rd.buf // what was parsed from it stays valid
	} else {
		rd.pools.putAny(rd.buf) // the parsed head lives in prev
	}
	rd.buf = big
	return nil
}

// readRaw reads what the socket holds into a buffer taken for it, or
// reports false, holding nothing, when there is nothing to read yet. When
// writeAwait left bytes to write, it writes them first and reports false
// to wait for the answer, or true when the write failed or would block.
func (rd *reader) readRaw(fd uintptr) bool {
	if len(rd.out) > 0 {
		if rd.check {
			rd.check = false
			if !socketIdle(fd, &rd.peekBuf) {
				rd.notIdle = true
				return true
			}
		}
		return !rd.writeRaw(fd)
	}
	b := rd.pools.small.get()
	var n int
	var err error
	for {
		n, err = syscall.Read(int(fd), b.b)
		if err != syscall.EINTR {
			break
		}
	}
	if err == syscall.EAGAIN {
		rd.pools.small.put(b)
		return false // wait until readable
	}
	rd.buf, rd.r, rd.w = b, 0, max(n, 0)
	rd.rawN, rd.rawErr = n, err
	return true
}

// writeRaw writes as much of out as the socket takes without blocking and
// reports whether all of it went.
func (rd *reader) writeRaw(fd uintptr) bool {
	for len(rd.out) > 0 {
		n, err := syscall.Write(int(fd), rd.out)
		if n > 0 {
			rd.out = rd.out[n:]
		}
		switch {
		case err == syscall.EINTR:
		case err == syscall.EAGAIN:
			return false
		case err != nil:
			rd.outErr = &net.OpError{Op: "write", Net: "tcp", Source: rd.nc.LocalAddr(), Addr: rd.nc.RemoteAddr(), Err: os.NewSyscallError("write", err)}
			return false
		case n == 0:
			rd.outErr = io.ErrShortWrite
			return false
		}
	}
	return true
}

// writeAwait writes p, then waits until the connection has bytes to read
// and reads them, as one wait on the poller. Go's reads try the socket
// before they wait, so a read just after a write whose answer takes a
// round trip would make a system call that finds nothing; here the write
// happens inside the wait, after the poller's readiness was reset, so an
// answer that comes at once cannot be missed. It returns the write's
// error; what goes wrong while waiting (a deadline, the peer closing) is
// kept for the next fill. Where it cannot wait without a buffer (TLS),
// when bytes are already buffered, or when the socket does not take all of
// p at once, it writes the usual way and leaves the read to fill.
//
// Bytes or an end of stream that reached the socket before the wait began
// raise no new readiness: the wait would see them only with what comes
// next. With check, the socket is therefore probed inside the wait, before
// the write: if it is not idle (bytes waiting, closed, failed), nothing is
// written and writeAwait returns errNotIdle.
func (rd *reader) writeAwait(p []byte, check bool) error {
	if rd.raw == nil || len(rd.buffered()) > 0 {
		if check {
			return errNotIdle // unasked bytes, or no way to check in the wait
		}
		_, err := rd.nc.Write(p)
		return err
	}
	rd.release()
	rd.out, rd.outErr, rd.rawN, rd.rawErr = p, nil, 0, nil
	rd.check, rd.notIdle = check, false
	err := rd.raw.Read(rd.rawRead)
	rest, werr, notIdle := rd.out, rd.outErr, rd.notIdle
	rd.out, rd.outErr, rd.check, rd.notIdle = nil, nil, false, false
	switch {
	case notIdle:
		return errNotIdle
	case werr != nil:
		return werr
	case check && len(rest) == len(p) && err != nil:
		// The wait ended before the probe: nothing was written or
		// checked. A closed connection says so; a deadline that had
		// already passed leaves it unknown, and the connection unused.
		if errors.Is(err, net.ErrClosed) {
			return err
		}
		return errNotIdle
	case len(rest) > 0:
		// The socket's buffer filled, or the wait ended before the write
		// began (a deadline already passed): the usual write takes it.
		_, err := rd.nc.Write(rest)
		return err
	case err != nil:
		rd.pending = err
	case rd.rawErr != nil:
		rd.drop()
		rd.pending = rd.rawErr
	case rd.rawN == 0:
		rd.drop()
		rd.pending = io.EOF
	}
	return nil
}

// fill reads once into the free space, at most limit bytes (limit <= 0: as
// much as fits).
func (rd *reader) fill(limit int) (int, error) {
	if err := rd.pending; err != nil {
		rd.pending = nil
		return 0, err
	}
	if err := rd.room(); err != nil {
		return 0, err
	}
	p := rd.buf.b[rd.w:]
	if limit > 0 && len(p) > limit {
		p = p[:limit]
	}
	n, err := rd.nc.Read(p)
	rd.w += n
	if n > 0 {
		err = nil // the bytes count; an error comes back on the next read
	} else if err == nil {
		err = io.ErrNoProgress
	}
	return n, err
}

// await waits until the connection has bytes to read and reads them into
// a buffer taken only then. On a plain TCP connection the wait holds no
// buffer; on others (TLS) the read waits in a buffer taken at once.
func (rd *reader) await() error {
	if len(rd.buffered()) > 0 {
		return nil
	}
	rd.release()
	if rd.raw == nil {
		_, err := rd.fill(0)
		if err != nil {
			rd.release()
		}
		return err
	}
	err := rd.raw.Read(rd.rawRead)
	n, rerr := rd.rawN, rd.rawErr
	switch {
	case err != nil:
		rd.drop()
		return err
	case rerr != nil:
		rd.drop()
		return rerr
	case n == 0:
		rd.drop()
		return io.EOF
	}
	return nil
}

// maxHeadBuf is the largest head buffer kept for reuse.
const maxHeadBuf = 256 << 10

func (p *bufPools) putHead(b *buffer) {
	if cap(b.b) <= maxHeadBuf {
		b.b = b.b[:0]
		p.heads.Put(b)
	}
}
