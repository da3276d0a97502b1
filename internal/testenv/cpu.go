package testenv

import (
	"syscall"
	"time"
)

// ProcessCPU is the CPU time the process has used so far (user and
// system, every thread, the garbage collector's included), for benchmarks
// on a shared machine: other load inflates wall time per operation much
// more than CPU time.
func ProcessCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}
