package upstream

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/manifest"
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
//
// Flux installed into another namespace (`flux install --namespace`)
// passes the same way once the configuration names it (fluxNamespace),
// and is judged like any other software while it does not: the setting,
// not the name flux-system, is what exempts Flux.
func TestFluxInstallCheck(t *testing.T) {
	c := loadCorpus(t)
	src, ok := c.list.Source("flux")
	if !ok {
		t.Fatalf("no source flux in %s", sources.File)
	}
	bin := fluxgateBinary(t, c.root)
	objs, err := c.objects(context.Background(), src)
	if err != nil {
		t.Fatal(err)
	}
	elsewhere := fluxInNamespace(t, objs, "gitops")
	config := filepath.Join(t.TempDir(), "fluxgate.yaml")
	if err := os.WriteFile(config, []byte("fluxNamespace: gitops\n"), 0o644); err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name  string
		args  []string
		stdin []byte
		// evaluated: the policies judge Flux's objects (warnings, no
		// denial); otherwise nothing at all is reported.
		evaluated bool
	}{
		{name: "as written", args: []string{filepath.Join(c.dir, src.Name, filepath.FromSlash(src.Read[0].Path))}},
		{name: "in gitops, fluxNamespace gitops", args: []string{"--config", config, "-"}, stdin: elsewhere},
		{name: "in gitops, default configuration", args: []string{"-"}, stdin: elsewhere, evaluated: true},
	}
	if len(src.Read) != 1 {
		t.Fatalf("source flux reads %d paths, want Flux's install only", len(src.Read))
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(bin, append([]string{"check", "-o", "json"}, tt.args...)...)
			cmd.Stdin = bytes.NewReader(tt.stdin)
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
				t.Fatalf("fluxgate check %s: output is not JSON (%v): %v\nstdout: %s\nstderr: %s", strings.Join(tt.args, " "), err, jerr, stdout.String(), stderr.String())
			}
			t.Logf("fluxgate check %s: %d objects, %d denied, %d warnings, %d mutations", strings.Join(tt.args, " "), rep.Summary.Objects, rep.Summary.Deny, rep.Summary.Warn, rep.Summary.Mutate)
			if err != nil {
				for _, res := range rep.Results {
					t.Logf("%s %s %s %s/%s: %s", res.Action, res.Policy, res.Kind, res.Namespace, res.Name, res.Message)
				}
				t.Fatalf("fluxgate check over Flux's install exited %d, want 0\nstderr: %s", exit.ExitCode(), stderr.String())
			}
			if rep.Summary.Objects != len(objs) {
				t.Errorf("fluxgate check read %d objects of Flux's install, want %d", rep.Summary.Objects, len(objs))
			}
			if evaluated := len(rep.Results) > 0; evaluated != tt.evaluated {
				t.Errorf("%d findings on Flux's install; evaluated: %v, want %v", len(rep.Results), evaluated, tt.evaluated)
			}
		})
	}
}

// fluxInNamespace returns Flux's install as one YAML stream, moved into
// namespace ns as `flux install --namespace` writes it: the Namespace
// object renamed, every namespaced object in it.
func fluxInNamespace(t *testing.T, objs []manifest.Object, ns string) []byte {
	t.Helper()
	var b bytes.Buffer
	moved := 0
	for _, o := range objs {
		data := o.Data
		meta, _ := data["metadata"].(map[string]any)
		switch {
		case o.Kind() == "Namespace" && o.Name() == "flux-system":
			meta["name"] = ns
			moved++
		case o.Namespace() == "flux-system":
			meta["namespace"] = ns
			moved++
		}
		out, err := yaml.Marshal(data)
		if err != nil {
			t.Fatal(err)
		}
		b.WriteString("---\n")
		b.Write(out)
	}
	if moved == 0 {
		t.Fatal("nothing of Flux's install is in flux-system")
	}
	return b.Bytes()
}
