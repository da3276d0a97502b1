//go:build tools

// Package tools pins Gatekeeper's gator CLI, whose `gator bench` the
// side-by-side benchmark runs (make bench-compare, hack/benchcompare). It is
// a module of its own so that Gatekeeper and its dependencies never enter
// fluxgate's go.mod. Gatekeeper v3.23.1's go.mod has no replace directives,
// so none are mirrored here.
package tools

import (
	_ "github.com/open-policy-agent/gatekeeper/v3/cmd/gator"
)
