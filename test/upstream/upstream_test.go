package upstream

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/helmrelease"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
	"github.com/fluxgate/fluxgate/test/upstream/sources"
)

var update = flag.Bool("update", false, "rewrite test/testdata/upstream/*.golden.yaml from the current findings, keeping the notes of those that remain")

// kubeVersion is the Kubernetes version charts are rendered for: the one
// the envtest suites run (KUBE_VERSION in the Makefile).
const kubeVersion = "v1.36.3"

// corpus is the source list and the folder it was downloaded into.
type corpus struct {
	root string // the repository
	dir  string // bin/upstream
	list *sources.List
}

// loadCorpus reads the source list and finds the downloaded manifests,
// failing the test when they are missing or were downloaded from another
// version of the list.
func loadCorpus(t *testing.T) *corpus {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	list, dir, err := sources.Downloaded()
	if err != nil {
		t.Fatal(err)
	}
	return &corpus{root: root, dir: dir, list: list}
}

// objects reads what s lists, as `fluxgate check` reads files and
// kustomizations, and renders its charts.
func (c *corpus) objects(ctx context.Context, s *sources.Source) ([]manifest.Object, error) {
	var out []manifest.Object
	for _, r := range s.Read {
		p := filepath.Join(c.dir, s.Name, filepath.FromSlash(r.Path))
		var objs []manifest.Object
		var err error
		if r.Helm != nil {
			objs, err = renderChart(ctx, p, r.Helm)
		} else {
			objs, err = manifest.LoadPaths([]string{p}, nil)
		}
		if err != nil {
			return nil, fmt.Errorf("source %s: read %s: %w", s.Name, r.Path, err)
		}
		out = append(out, objs...)
	}
	return out, nil
}

// renderChart renders the chart in dir as `fluxgate check` renders a
// HelmRelease of a chart in the repository (helmrelease.RenderAll: Helm's
// client-only install like `helm template`, values validated against the
// chart's schema, CRDs of crds/ included, hooks other than tests, objects
// left without a namespace given the release's), for a HelmRelease with
// h's release name, namespace and values.
func renderChart(ctx context.Context, dir string, h *sources.Helm) ([]manifest.Object, error) {
	hr := manifest.Object{Data: map[string]any{
		"apiVersion": helmrelease.Group + "/v2",
		"kind":       "HelmRelease",
		"metadata":   map[string]any{"name": h.Release, "namespace": h.Namespace},
		"spec": map[string]any{
			"releaseName": h.Release,
			"chart": map[string]any{"spec": map[string]any{
				"chart":     ".",
				"sourceRef": map[string]any{"kind": "GitRepository", "name": "upstream"},
			}},
		},
	}}
	if h.Values != nil {
		hr.Data["spec"].(map[string]any)["values"] = h.Values
	}
	objs, findings, err := helmrelease.RenderAll(ctx, []manifest.Object{hr}, dir, helmrelease.Options{Offline: true, KubeVersion: kubeVersion})
	if err != nil {
		return nil, err
	}
	for _, f := range findings {
		return nil, errors.New(f.Message)
	}
	return objs, nil
}

// newEngine builds the engine `fluxgate check` builds without --config and
// --policy-dir.
func newEngine(ctx context.Context) (*policy.Engine, error) {
	set, cfg, err := builtinSet(ctx)
	if err != nil {
		return nil, err
	}
	eng, err := policy.NewEngine(set, cfg)
	if err != nil {
		return nil, fmt.Errorf("policy engine: %w", err)
	}
	return eng, nil
}

// builtinSet compiles the built-in policies under the default
// configuration, as `fluxgate check` without --config and --policy-dir.
func builtinSet(ctx context.Context) (*policy.Set, *policy.Config, error) {
	cfg, err := policy.LoadConfig("")
	if err != nil {
		return nil, nil, fmt.Errorf("default configuration: %w", err)
	}
	mods, err := policy.Load()
	if err != nil {
		return nil, nil, fmt.Errorf("load policies: %w", err)
	}
	set, err := policy.Compile(ctx, mods)
	if err != nil {
		return nil, nil, fmt.Errorf("compile policies: %w", err)
	}
	return set, cfg, nil
}

func goldenFile(root, name string) string {
	return filepath.Join(root, "test", "testdata", "upstream", name+".golden.yaml")
}

// TestUpstream checks every source of the corpus and compares the findings
// with its golden file; with -update it rewrites the golden files.
func TestUpstream(t *testing.T) {
	c := loadCorpus(t)
	ctx := context.Background()
	eng, err := newEngine(ctx)
	if err != nil {
		t.Fatal(err)
	}
	rows := make([]string, 0, len(c.list.Sources))
	for i := range c.list.Sources {
		s := &c.list.Sources[i]
		t.Run(s.Name, func(t *testing.T) {
			objs, err := c.objects(ctx, s)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := check.Run(ctx, eng, objs)
			if err != nil {
				t.Fatalf("check %s: %v", s.Name, err)
			}
			got, sum := fromReport(rep)
			t.Logf("%s: %d objects read, %d denied, %d warned, %d mutated", s.Name, sum.Objects, sum.Denied, sum.Warned, sum.Mutated)
			rows = append(rows, fmt.Sprintf("| %s | %s | %s | %d | %d | %d |", s.Project, s.Name, versions(s), sum.Objects, sum.Denied, sum.Warned))
			file := goldenFile(c.root, s.Name)
			old, err := readGolden(file)
			if err != nil {
				t.Fatal(err)
			}
			want := &golden{Source: s.Name, Project: s.Project, Versions: moduleVersions(s), Summary: sum, Findings: merge(old.Findings, got)}
			if *update {
				writeGolden(t, file, want)
				for _, f := range unreviewed(want.Findings) {
					t.Logf("to review in %s: %s", filepath.Base(file), f)
				}
				return
			}
			compareGolden(t, file, old, want)
		})
	}
	checkStrayGoldens(t, c)
	t.Logf("per source (README table):\n| project | source | version | objects | denied | warned |\n|---|---|---|---|---|---|\n%s", strings.Join(rows, "\n"))
}

// compareGolden fails on every difference between the golden file and the
// current findings, and on findings not yet reviewed.
func compareGolden(t *testing.T, file string, old, want *golden) {
	t.Helper()
	const regenerate = "run `go test ./test/upstream/ -run TestUpstream -update` and review the notes"
	missing, extra := diff(old.Findings, want.Findings)
	for _, f := range missing {
		t.Errorf("%s: finding gone (%s): %s", filepath.Base(file), regenerate, f)
	}
	for _, f := range extra {
		t.Errorf("%s: new finding (%s): %s", filepath.Base(file), regenerate, f)
	}
	if old.Source != want.Source || old.Project != want.Project || !slices.Equal(old.Versions, want.Versions) || old.Summary != want.Summary {
		t.Errorf("%s: header differs (%s): have %s %s %v %+v, want %s %s %v %+v", filepath.Base(file), regenerate,
			old.Source, old.Project, old.Versions, old.Summary, want.Source, want.Project, want.Versions, want.Summary)
	}
	for _, f := range unreviewed(old.Findings) {
		t.Errorf("%s: finding not reviewed (write its why): %s", filepath.Base(file), f)
	}
}

func writeGolden(t *testing.T, file string, g *golden) {
	t.Helper()
	b, err := encodeGolden(g)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(file, b, 0o644); err != nil {
		t.Fatalf("write golden file: %v", err)
	}
}

// checkStrayGoldens fails on golden files of sources no longer listed
// (-update removes them).
func checkStrayGoldens(t *testing.T, c *corpus) {
	t.Helper()
	files, err := filepath.Glob(goldenFile(c.root, "*"))
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range files {
		name := strings.TrimSuffix(filepath.Base(f), ".golden.yaml")
		if _, ok := c.list.Source(name); ok {
			continue
		}
		if *update {
			if err := os.Remove(f); err != nil {
				t.Error(err)
			}
			continue
		}
		t.Errorf("%s: no source %q in %s (-update removes the file)", f, name, sources.File)
	}
}

// moduleVersions lists the module versions of s, as the golden file
// records them.
func moduleVersions(s *sources.Source) []string {
	out := make([]string, 0, len(s.Modules))
	for _, m := range s.Modules {
		out = append(out, m.Module+"@"+m.Version)
	}
	return out
}

// versions is the version column of the README table: the first module's.
func versions(s *sources.Source) string {
	return s.Modules[0].Version
}
