//go:build !unix

package main

// defaultMaxConns is a fixed cap where the descriptor limit cannot be read.
func defaultMaxConns() int { return 10000 }
