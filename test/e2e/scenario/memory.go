package scenario

import (
	"bufio"
	"fmt"
	"os"
	"strconv"
	"strings"
)

// ProcessMemory is one process's peak resident memory.
type ProcessMemory struct {
	Name string
	// PeakRSS is VmHWM from /proc: the most the process ever held
	// resident, in bytes.
	PeakRSS int64
}

// PeakMemory returns the peak resident memory of every process the
// environment runs (control plane, kwok, kustomize-controller, fluxgate)
// that is still alive, and their sum: an upper bound of the environment's
// peak, since each process peaks at its own moment. Linux only; elsewhere
// the list is empty.
func (e *Env) PeakMemory() ([]ProcessMemory, int64) {
	var out []ProcessMemory
	var total int64
	for _, p := range e.Cluster.Processes() {
		if p.Exited() {
			continue
		}
		hwm, err := vmHWM(p.PID())
		if err != nil {
			continue
		}
		out = append(out, ProcessMemory{Name: p.Name(), PeakRSS: hwm})
		total += hwm
	}
	return out, total
}

func vmHWM(pid int) (int64, error) {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return 0, fmt.Errorf("read process status: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "VmHWM:"); ok {
			kb, err := strconv.ParseInt(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(rest), "kB")), 10, 64)
			if err != nil {
				return 0, fmt.Errorf("parse VmHWM: %w", err)
			}
			return kb * 1024, nil
		}
	}
	return 0, fmt.Errorf("no VmHWM for pid %d", pid)
}
