// Package batchgc sets the garbage collector of a one-shot run over a
// whole repository (fluxgate check, fluxgate audit).
//
// Such a run allocates gigabytes over a live heap of a few hundred
// megabytes at most: kustomize builds, Flux's substitution re-encoding
// every object, policy evaluation. With Go's default (collect when
// the heap has doubled) a third of its CPU time went to marking
// (BenchmarkCheckFluxRepository, fluxbuild). Collecting when the heap has
// grown by four times its live size, under a soft memory limit, spends a
// few hundred megabytes on fewer collections; the limit keeps the peak
// bounded on a repository whose live heap is large (the runtime then
// collects more often, never using over half the CPU for it). The
// long-running server keeps Go's collection pace, under a soft limit
// below its container's (internal/memlimit).
package batchgc

import (
	"os"
	"runtime/debug"
)

// Percent is the heap growth, in percent of the live heap, that starts a
// collection.
const Percent = 400

// Limit is the soft memory limit, in bytes, of a run.
const Limit = 400 << 20

// Tune sets Percent and Limit unless GOGC or GOMEMLIMIT, respectively,
// are set in the environment, and returns a function that restores what
// was set before.
func Tune() (restore func()) {
	percent, limit := -2, int64(-1)
	if _, ok := os.LookupEnv("GOGC"); !ok {
		percent = debug.SetGCPercent(Percent)
	}
	if _, ok := os.LookupEnv("GOMEMLIMIT"); !ok {
		limit = debug.SetMemoryLimit(Limit)
	}
	return func() {
		if percent != -2 {
			debug.SetGCPercent(percent)
		}
		if limit >= 0 {
			debug.SetMemoryLimit(limit)
		}
	}
}
