// Package testenv finds what the envtest suites need: the kube-apiserver
// and etcd that `make envtest-assets` builds, the Flux CRDs that
// `make flux-crds` takes from the Flux Go modules, and the upstream
// manifests that `make upstream-manifests` downloads. `make test` passes
// them in the environment; a suite run by hand finds them under bin/.
package testenv

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
)

// Assets returns the directory holding kube-apiserver and etcd:
// $KUBEBUILDER_ASSETS, else the newest bin/k8s/<version> of the repository.
func Assets() (string, error) {
	if dir := os.Getenv("KUBEBUILDER_ASSETS"); dir != "" {
		return dir, nil
	}
	root, err := RepoRoot()
	if err != nil {
		return "", err
	}
	found, _ := filepath.Glob(filepath.Join(root, "bin", "k8s", "*", "kube-apiserver"))
	if len(found) == 0 {
		return "", errors.New("no kube-apiserver in bin/k8s: run `make envtest-assets` (or `make test`), or set KUBEBUILDER_ASSETS")
	}
	sort.Strings(found)
	return filepath.Dir(found[len(found)-1]), nil
}

// FluxCRDs returns the directory of Flux's CRDs: $FLUX_CRDS, else the
// repository's bin/flux-crds.
func FluxCRDs() (string, error) {
	return binDir("FLUX_CRDS", "flux-crds", "kustomize.toolkit.fluxcd.io_kustomizations.yaml", "Flux CRDs", "flux-crds")
}

// binDir returns the directory $env names, else the repository's
// bin/<name>, when it holds marker; else an error naming the make target
// that fills it.
func binDir(env, name, marker, what, target string) (string, error) {
	dir := os.Getenv(env)
	if dir == "" {
		root, err := RepoRoot()
		if err != nil {
			return "", err
		}
		dir = filepath.Join(root, "bin", name)
	}
	if _, err := os.Stat(filepath.Join(dir, marker)); err != nil {
		return "", fmt.Errorf("no %s in %s: run `make %s` (or `make test`), or set %s: %w", what, dir, target, env, err)
	}
	return dir, nil
}

// RepoRoot walks up from the working directory (a test's package
// directory, or the repository when run with `go run`) to the directory
// holding go.mod.
func RepoRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the repository: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", errors.New("find the repository: no go.mod above the working directory")
		}
		dir = parent
	}
}

// IntegrationCRDs returns the directory of the CRDs of the integrations the
// chart renders objects for (cert-manager, Prometheus Operator), copied
// from their Go modules by `make integration-crds`: $INTEGRATION_CRDS, else
// the repository's bin/integration-crds.
func IntegrationCRDs() (string, error) {
	return binDir("INTEGRATION_CRDS", "integration-crds", "VERSIONS", "integration CRDs", "integration-crds")
}

// Upstream returns the directory of the upstream manifests (Flux's install,
// ingress-nginx, cert-manager, ...) that `make upstream-manifests`
// downloads from their Go modules at the versions
// test/testdata/upstream/sources.yaml pins: $FLUXGATE_UPSTREAM, else the
// repository's bin/upstream.
func Upstream() (string, error) {
	return binDir("FLUXGATE_UPSTREAM", "upstream", "VERSIONS", "upstream manifests", "upstream-manifests")
}
