// Package policy loads fluxgate's Rego policies, compiles them once into an
// immutable Set, and evaluates Kubernetes objects against it.
//
// The same Engine serves the admission webhook and `fluxgate check`: callers
// build an Input (the admission request, the related objects of the
// namespace and whether that related set is complete), and the Engine runs
// every policy whose kinds match, first for mutation and then for
// validation, honouring the Configuration (per-policy actions and
// parameters, exempt namespaces) and the per-object exemption annotation.
//
// Queries are planned by OPA's planner and evaluated by policy/planeval on
// the decoded objects as they are; a query the planner refuses is
// evaluated by OPA's interpreter (Engine.Interpreted says which).
//
// A policy is a Rego v1 package whose package-scoped METADATA block carries
// custom.id; see docs/policies.md for the contract.
package policy
