package upstream

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/fluxgate/fluxgate/test/upstream/sources"
)

// fluxgateBinary returns $FLUXGATE_BIN (make test passes bin/fluxgate), or
// builds cmd/fluxgate into the test's temporary directory.
func fluxgateBinary(t *testing.T, root string) string {
	t.Helper()
	if bin := os.Getenv("FLUXGATE_BIN"); bin != "" {
		return bin
	}
	bin := filepath.Join(t.TempDir(), "fluxgate")
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/fluxgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build fluxgate: %v\n%s", err, out)
	}
	return bin
}

// TestFluxInstallCheck runs the fluxgate binary as a pipeline would over
// Flux's own install (what `flux install` writes): Flux must pass its own
// gate, or every cluster bootstrapped with fluxgate in the pipeline stops
// at the first step.
func TestFluxInstallCheck(t *testing.T) {
	c := loadCorpus(t)
	src, ok := c.list.Source("flux")
	if !ok {
		t.Fatalf("no source flux in %s", sources.File)
	}
	bin := fluxgateBinary(t, c.root)
	for _, r := range src.Read {
		path := filepath.Join(c.dir, src.Name, filepath.FromSlash(r.Path))
		t.Run(r.Path, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, "check", "-o", "json", path)
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			err := cmd.Run()
			var exit *exec.ExitError
			if err != nil && !errors.As(err, &exit) {
				t.Fatalf("run %s: %v", bin, err)
			}
			var rep struct {
				Results []struct{ Policy, Action, Kind, Namespace, Name, Message string } `json:"results"`
				Summary struct{ Objects, Deny, Warn, Mutate int }                         `json:"summary"`
			}
			if jerr := json.Unmarshal(stdout.Bytes(), &rep); jerr != nil {
				t.Fatalf("fluxgate check %s: output is not JSON (%v): %v\nstdout: %s\nstderr: %s", r.Path, err, jerr, stdout.String(), stderr.String())
			}
			t.Logf("fluxgate check %s: %d objects, %d denied, %d warnings, %d mutations", r.Path, rep.Summary.Objects, rep.Summary.Deny, rep.Summary.Warn, rep.Summary.Mutate)
			if err != nil {
				for _, res := range rep.Results {
					t.Logf("%s %s %s %s/%s: %s", res.Action, res.Policy, res.Kind, res.Namespace, res.Name, res.Message)
				}
				t.Fatalf("fluxgate check over Flux's install exited %d, want 0\nstderr: %s", exit.ExitCode(), stderr.String())
			}
			if rep.Summary.Objects == 0 {
				t.Errorf("fluxgate check read no objects of Flux's install")
			}
		})
	}
}
