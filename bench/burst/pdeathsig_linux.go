package main

import (
	"os/exec"
	"syscall"
)

// dieWithParent has the kernel kill cmd if this process dies without
// stopping it (SIGKILL, a crash).
func dieWithParent(cmd *exec.Cmd) {
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
