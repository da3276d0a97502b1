// Package rego embeds fluxgate's built-in Rego policies and their shared
// libraries, so that every fluxgate binary carries the same zero-downtime
// rules. The policies themselves live beside this file as .rego sources:
// lib/ holds helper packages (fluxgate.lib.*) and policies/<id>/ one policy
// with its unit tests each.
package rego

import "embed"

// FS holds every built-in .rego file, unit tests included. The policy
// package decides which files become part of a policy set.
//
//go:embed lib policies
var FS embed.FS
