package v1alpha1_test

import (
	"bytes"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"testing"
)

// repoRoot is the repository root, seen from this package's directory.
const repoRoot = "../.."

// generated are the files `make generate manifests` writes from this
// package, by their path in the repository.
var generated = []string{
	"api/v1alpha1/zz_generated.deepcopy.go",
	"config/crd/bases/fluxgate.dev_maintenanceguards.yaml",
}

// controllerGen finds the pinned controller-gen: $CONTROLLER_GEN (set by
// make test), else the newest bin/controller-gen-* that make built.
func controllerGen(t *testing.T) string {
	if bin := os.Getenv("CONTROLLER_GEN"); bin != "" {
		return bin
	}
	found, _ := filepath.Glob(filepath.Join(repoRoot, "bin", "controller-gen-*"))
	if len(found) == 0 {
		t.Skip("no controller-gen: run `make test` or `make controller-gen`, or set CONTROLLER_GEN")
	}
	sort.Strings(found)
	bin, err := filepath.Abs(found[len(found)-1])
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("CONTROLLER_GEN not set; using %s", bin)
	return bin
}

// TestGeneratedFilesUpToDate regenerates the deepcopy code and the CRD into
// a temporary directory, with the arguments of the Makefile's generate and
// manifests targets, and compares them with the committed files.
func TestGeneratedFilesUpToDate(t *testing.T) {
	bin := controllerGen(t)
	out := t.TempDir()
	cmd := exec.Command(bin, "object:headerFile=hack/boilerplate.go.txt", "crd",
		"paths=./api/...", "output:dir="+out)
	cmd.Dir = repoRoot
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cmd, err, msg)
	}
	for _, path := range generated {
		want, err := os.ReadFile(filepath.Join(out, filepath.Base(path)))
		if err != nil {
			t.Fatalf("controller-gen wrote no %s: %v", filepath.Base(path), err)
		}
		got, err := os.ReadFile(filepath.Join(repoRoot, path))
		if err != nil {
			t.Fatalf("%v: run `make generate manifests`", err)
		}
		if !bytes.Equal(got, want) {
			t.Errorf("%s is stale: run `make generate manifests` (controller-gen output differs)", path)
		}
	}
}
