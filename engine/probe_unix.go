//go:build unix

package engine

import (
	"net"
	"syscall"
)

// probe peeks at a socket without blocking and consumes nothing. Its
// function is made once per connection, so a probe allocates nothing.
type probe struct {
	rc   syscall.RawConn // nil: the connection cannot be probed
	fn   func(fd uintptr) bool
	n    int
	err  error
	byte [1]byte
}

func (p *probe) init(conn net.Conn) {
	if sc, ok := conn.(syscall.Conn); ok {
		p.rc, _ = sc.SyscallConn()
	}
	p.fn = p.peek
}

func (p *probe) peek(fd uintptr) bool {
	p.n, p.err = peekSocket(fd, &p.byte)
	return true
}

// peekSocket peeks at one byte of socket fd without blocking or consuming
// it.
func peekSocket(fd uintptr, b *[1]byte) (int, error) {
	n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
	return n, err
}

// wouldBlock reports a peek that found nothing to read on an open socket.
func wouldBlock(err error) bool { return err == syscall.EAGAIN || err == syscall.EWOULDBLOCK }

// socketIdle reports whether socket fd has nothing to read and is open:
// probe.idle for a caller already holding the fd.
func socketIdle(fd uintptr, b *[1]byte) bool {
	_, err := peekSocket(fd, b)
	return wouldBlock(err)
}

// idle reports whether the socket has nothing to read and has not been
// closed by its peer: the state of a keep-alive connection that can carry
// another request. Data, end of stream or an error: not usable.
func (p *probe) idle() bool {
	if p.rc == nil {
		return true
	}
	err := p.rc.Read(p.fn)
	return err == nil && wouldBlock(p.err)
}

// gone reports whether the peer has closed or reset the connection: a read
// would return end of stream or an error rather than wait.
func (p *probe) gone() bool {
	if p.rc == nil {
		return false
	}
	err := p.rc.Read(p.fn)
	return err != nil || (p.n == 0 && !wouldBlock(p.err))
}

// peerGone is probe.gone for a connection probed once.
func peerGone(conn net.Conn) bool {
	var p probe
	p.init(conn)
	return p.gone()
}
