// Package scenario runs fluxgate's end-to-end stories on a simulated
// cluster (test/e2e/cluster): real kube-apiserver, controller-manager,
// scheduler and kwok nodes, Flux's kustomize-controller applying
// revisions of a Git repository the scenario owns (test/e2e/gitsource),
// and fluxgate installed from its chart (test/e2e/install).
//
// The e2e tests assert on what a scenario returns; `make demo` runs the
// same code and narrates it.
package scenario
