//go:build !unix

package engine

import "net"

// socketIdle cannot peek at a socket here; a pooled connection the peer
// has closed then fails on use, and the request gets a 502.
func socketIdle(net.Conn) bool { return true }
