// Package memlimit gives the long-running server a soft memory limit
// below its container's, so that the garbage collector works harder as
// the heap nears the limit instead of the kernel killing the process at
// it: Go sets GOMAXPROCS from the container's CPU limit, but leaves the
// memory limit unset. A burst of reviews is already capped
// (--max-concurrent-reviews), the decision cache bounded; this covers
// what is left, such as a cache of related objects larger than planned.
package memlimit

import (
	"errors"
	"fmt"
	"io/fs"
	"math"
	"os"
	"path/filepath"
	"runtime/debug"
	"strconv"
	"strings"
)

// Fraction is the share of the container's memory limit the Go heap and
// runtime aim to stay under; the rest is for what the runtime does not
// count (thread stacks outside the heap, the binary, page cache).
const Fraction = 0.9

// cgroupFiles hold the memory limit: cgroup v2's, then v1's, relative to
// the cgroup filesystem.
var cgroupFiles = []string{"memory.max", "memory/memory.limit_in_bytes"}

// Set sets the soft memory limit to Fraction of the container's memory
// limit read under root (/sys/fs/cgroup), unless GOMEMLIMIT is set or no
// limit is found. It returns the limit set, 0 when it set none, and why
// not when reading the limit failed.
func Set(root string) (int64, error) {
	if _, ok := os.LookupEnv("GOMEMLIMIT"); ok {
		return 0, nil
	}
	limit, err := containerLimit(root)
	if err != nil || limit <= 0 {
		return 0, err
	}
	target := int64(float64(limit) * Fraction)
	debug.SetMemoryLimit(target)
	return target, nil
}

// containerLimit reads the memory limit in bytes; 0 when there is none.
func containerLimit(root string) (int64, error) {
	for _, name := range cgroupFiles {
		raw, err := os.ReadFile(filepath.Join(root, name))
		if errors.Is(err, fs.ErrNotExist) {
			continue
		}
		if err != nil {
			return 0, fmt.Errorf("read the container's memory limit: %w", err)
		}
		text := strings.TrimSpace(string(raw))
		if text == "max" {
			return 0, nil
		}
		n, err := strconv.ParseInt(text, 10, 64)
		if err != nil {
			return 0, fmt.Errorf("read the container's memory limit from %s: %w", name, err)
		}
		// cgroup v1 writes "no limit" as the largest page-aligned int64.
		if n >= math.MaxInt64/2 {
			return 0, nil
		}
		return n, nil
	}
	return 0, nil
}
