//go:build unix

package engine

import (
	"net"
	"syscall"
)

// socketIdle reports whether conn's socket has nothing to read and has not
// been closed by its peer: the state of a keep-alive connection that can
// carry another request. It peeks without blocking and consumes nothing.
func socketIdle(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return true
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	live := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		_, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		// Nothing to read and no end of stream: the connection is idle
		// as it should be. Data, EOF (n == 0) or an error: not usable.
		live = rerr == syscall.EAGAIN || rerr == syscall.EWOULDBLOCK
		return true
	})
	return err == nil && live
}

// peerGone reports whether conn's peer has closed or reset it: a read
// would return end of stream or an error rather than wait.
func peerGone(conn net.Conn) bool {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return false
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return true
	}
	gone := false
	var b [1]byte
	err = rc.Read(func(fd uintptr) bool {
		n, _, rerr := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		gone = n == 0 && rerr != syscall.EAGAIN && rerr != syscall.EWOULDBLOCK
		return true
	})
	return err != nil || gone
}
