package main

import (
	"bytes"
	"os"
	"path/filepath"
	"strings"
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

// runCommand runs fluxgate with args and checks its exit code, that its
// output says each of stdout and that its error output says stderr. It
// returns the output.
func runCommand(t *testing.T, args []string, code int, stdout []string, stderr string) []byte {
	t.Helper()
	var out, errOut bytes.Buffer
	if got := run(args, strings.NewReader(""), &out, &errOut); got != code {
		t.Errorf("exit %d, want %d; stderr: %s", got, code, errOut.String())
	}
	for _, s := range stdout {
		if !strings.Contains(out.String(), s) {
			t.Errorf("output does not say %q:\n%s", s, out.String())
		}
	}
	if !strings.Contains(errOut.String(), stderr) {
		t.Errorf("stderr %q does not say %q", errOut.String(), stderr)
	}
	return out.Bytes()
}
