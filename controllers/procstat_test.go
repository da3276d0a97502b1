package controllers

import (
	"fmt"
	"os"
	"strconv"
	"strings"
)

// procStat is what the tests read of /proc/<pid>/stat.
type procStat struct {
	ppid int
	cpu  float64 // user + system CPU seconds
}

// clockTicks is USER_HZ, 100 on every Linux architecture Go supports.
const clockTicks = 100

// readProcStat reads a /proc/<pid>/stat file (proc(5)): fields 4 (ppid),
// 14 (utime) and 15 (stime), counted after the command name in parentheses.
func readProcStat(path string) (procStat, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return procStat{}, fmt.Errorf("read %s: %w", path, err)
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return procStat{}, fmt.Errorf("%s: no command name", path)
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3, the state
	if len(f) < 13 {
		return procStat{}, fmt.Errorf("%s: %d fields", path, len(f))
	}
	ppid, err := strconv.Atoi(f[1])
	if err != nil {
		return procStat{}, fmt.Errorf("%s: ppid: %w", path, err)
	}
	utime, err := strconv.ParseFloat(f[11], 64)
	if err != nil {
		return procStat{}, fmt.Errorf("%s: utime: %w", path, err)
	}
	stime, err := strconv.ParseFloat(f[12], 64)
	if err != nil {
		return procStat{}, fmt.Errorf("%s: stime: %w", path, err)
	}
	return procStat{ppid: ppid, cpu: (utime + stime) / clockTicks}, nil
}
