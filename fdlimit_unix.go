//go:build unix

package main

import "syscall"

// descriptorsReserved are kept back from client connections for what
// peekroute needs besides them: listeners, health checks, DNS, the admin
// listener and its scrapes, idle backend connections beyond the busy ones.
const descriptorsReserved = 256

// defaultMaxConns derives the cap on client connections from the
// descriptor limit (which Go raises to the hard limit at start-up): each
// client connection may hold a backend connection too, so half of what is
// left after the reserve.
func defaultMaxConns() int {
	var lim syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &lim); err != nil || lim.Cur > 1<<40 {
		return 10000
	}
	n := (int64(lim.Cur) - descriptorsReserved) / 2
	return int(min(max(n, 64), 1<<20))
}
