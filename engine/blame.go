package engine

import (
	"context"
	"errors"
	"net"
	"syscall"
)

// Whose fault a failure was decides what the client hears and whether a
// backend's health hears of it. These classify the errors the standard
// library returns.

// isTimeout reports a deadline that passed.
func isTimeout(err error) bool {
	var ne net.Error
	return errors.Is(err, context.DeadlineExceeded) || (errors.As(err, &ne) && ne.Timeout())
}

// isLocal reports a failure of this process or host rather than of the
// peer: out of descriptors, memory, buffers or local ports. It never counts
// against a backend.
func isLocal(err error) bool {
	return errors.Is(err, syscall.EMFILE) || errors.Is(err, syscall.ENFILE) ||
		errors.Is(err, syscall.ENOBUFS) || errors.Is(err, syscall.ENOMEM) ||
		errors.Is(err, syscall.EADDRNOTAVAIL)
}

// isTemporaryAccept reports an accept error worth waiting out.
func isTemporaryAccept(err error) bool {
	return isLocal(err) || errors.Is(err, syscall.ECONNABORTED) || errors.Is(err, syscall.EINTR)
}
