//go:build !linux

package main

import "os/exec"

// dieWithParent does nothing here: only Linux can tie a child's life to its
// parent's; the program still kills peekroute on every exit it controls.
func dieWithParent(cmd *exec.Cmd) {}
