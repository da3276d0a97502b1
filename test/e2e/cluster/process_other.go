//go:build !linux

package cluster

import "os/exec"

// setProcAttr does nothing outside Linux: there the processes outlive a
// test binary that dies without calling Stop.
func setProcAttr(*exec.Cmd) {}
