//go:build !unix

package engine

import "net"

// probe cannot peek at a socket here: a pooled connection the peer has
// closed then fails on use, and the request gets a 502.
type probe struct{}

func (p *probe) init(net.Conn) {}
func (p *probe) idle() bool    { return true }
func (p *probe) gone() bool    { return false }

func peerGone(net.Conn) bool { return false }

func socketIdle(uintptr, *[1]byte) bool { return true }
