package main

import (
	"os"
	"path/filepath"
	"testing"

	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// startAPIServer starts a real kube-apiserver (envtest) with the CRDs of
// crdDirs, and returns its config and a kubeconfig file for the commands'
// --kubeconfig.
func startAPIServer(t *testing.T, crdDirs ...string) (*rest.Config, string) {
	t.Helper()
	if testing.Short() {
		t.Skip("starts an API server")
	}
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: crdDirs, ErrorIfCRDPathMissing: len(crdDirs) > 0}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	kubeconfig := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(kubeconfig, env.KubeConfig, 0o600); err != nil {
		t.Fatal(err)
	}
	return cfg, kubeconfig
}
