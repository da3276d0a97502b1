package cluster

import (
	"os/exec"
	"syscall"
)

// setProcAttr makes the kernel kill the process if the test binary that
// started it dies first, so that no process outlives a crashed or
// timed-out test.
func setProcAttr(cmd *exec.Cmd) {
	if cmd.SysProcAttr == nil {
		cmd.SysProcAttr = &syscall.SysProcAttr{}
	}
	cmd.SysProcAttr.Pdeathsig = syscall.SIGKILL
}
