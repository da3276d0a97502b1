package fluxbuild

import (
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/fluxcd/pkg/kustomize"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// TestSecureBuildMatchesFlux builds every kustomization of the fleet and of
// the upstream projects that ship kustomize overlays (Flux's install,
// podinfo, metrics-server, kube-state-metrics) both with Flux's
// SecureBuild and with secureBuild, in an order that puts a build setting
// its own OpenAPI schema between the others, and wants the same objects.
func TestSecureBuildMatchesFlux(t *testing.T) {
	up, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	schema := schemaDirs(t)
	type build struct{ base, dir string }
	var builds []build
	for _, root := range []string{
		filepath.Join("testdata", "fleet"),
		filepath.Join(up, "flux"),
		filepath.Join(up, "podinfo"),
		filepath.Join(up, "metrics-server"),
		filepath.Join(up, "kube-state-metrics"),
	} {
		abs, err := filepath.Abs(root)
		if err != nil {
			t.Fatal(err)
		}
		for _, dir := range kustomizationDirs(t, abs) {
			builds = append(builds, build{abs, dir})
		}
		// A build with its own schema between two without: the second
		// must not see that schema.
		builds = append(builds, build{schema.root, schema.withSchema}, build{schema.root, schema.without})
	}
	if len(builds) < 20 {
		t.Fatalf("only %d kustomization directories found", len(builds))
	}
	built := 0
	for _, b := range builds {
		base, dir := b.base, b.dir
		want, wantErr := kustomize.SecureBuild(base, dir, false)
		got, gotErr := secureBuild(base, dir)
		if (wantErr != nil) != (gotErr != nil) {
			t.Errorf("%s: Flux: %v; fluxgate: %v", dir, wantErr, gotErr)
			continue
		}
		if wantErr != nil {
			continue
		}
		built++
		wantYAML, err := want.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		gotYAML, err := got.AsYaml()
		if err != nil {
			t.Fatal(err)
		}
		if string(gotYAML) != string(wantYAML) {
			t.Errorf("%s: fluxgate's build differs from Flux's:\n%s\nwant:\n%s", dir, gotYAML, wantYAML)
		}
	}
	if built < len(builds)*3/4 {
		t.Errorf("only %d of %d builds succeeded", built, len(builds))
	}
	// The schema took effect where it was set (its list is merged by
	// name) and nowhere else (replaced).
	for dir, items := range map[string]int{schema.withSchema: 2, schema.without: 1} {
		m, err := secureBuild(schema.root, dir)
		if err != nil {
			t.Fatal(err)
		}
		y, _ := m.AsYaml()
		if n := strings.Count(string(y), "- name:"); n != items {
			t.Errorf("%s: %d items, want %d:\n%s", dir, n, items, y)
		}
	}
}

func kustomizationDirs(t *testing.T, root string) []string {
	t.Helper()
	var dirs []string
	err := filepath.WalkDir(root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if !d.IsDir() && d.Name() == "kustomization.yaml" {
			dirs = append(dirs, filepath.Dir(p))
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	return dirs
}

type schemaCase struct{ root, withSchema, without string }

// schemaDirs writes two overlays patching a custom resource's list: one
// whose kustomization gives the kind's schema (the list merges by name)
// and one without (the list is replaced).
func schemaDirs(t *testing.T) schemaCase {
	root := t.TempDir()
	write := func(rel, data string) {
		p := filepath.Join(root, rel)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	write("base/foo.yaml", `apiVersion: example.com/v1alpha1
kind: Foo
metadata: {name: foo}
spec:
  items: [{name: a, value: "1"}]
`)
	write("base/kustomization.yaml", "resources: [foo.yaml]\n")
	patch := `apiVersion: example.com/v1alpha1
kind: Foo
metadata: {name: foo}
spec:
  items: [{name: b, value: "2"}]
`
	write("with/patch.yaml", patch)
	write("with/schema.json", `{"definitions": {"com.example.v1alpha1.Foo": {
  "type": "object",
  "x-kubernetes-group-version-kind": [{"group": "example.com", "kind": "Foo", "version": "v1alpha1"}],
  "properties": {"apiVersion": {"type": "string"}, "kind": {"type": "string"}, "metadata": {"type": "object"},
    "spec": {"type": "object", "properties": {"items": {"type": "array",
      "x-kubernetes-patch-merge-key": "name", "x-kubernetes-patch-strategy": "merge",
      "items": {"type": "object", "properties": {"name": {"type": "string"}, "value": {"type": "string"}}}}}}}}}}
`)
	write("with/kustomization.yaml", "resources: [../base]\npatches: [{path: patch.yaml}]\nopenapi: {path: schema.json}\n")
	write("without/patch.yaml", patch)
	write("without/kustomization.yaml", "resources: [../base]\npatches: [{path: patch.yaml}]\n")
	return schemaCase{root: root, withSchema: filepath.Join(root, "with"), without: filepath.Join(root, "without")}
}
