//go:build tools

// Package tools pins Flux's kustomize-controller, which the end-to-end tests
// run as a process against the simulated cluster (see test/e2e/cluster).
package tools

import (
	_ "github.com/fluxcd/kustomize-controller"
)
