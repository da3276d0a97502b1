//go:build tools

// Package tools pins kwok, which the end-to-end tests run to simulate the
// kubelets of fake nodes (see test/e2e/cluster).
package tools

import (
	_ "sigs.k8s.io/kwok/cmd/kwok"
)
