package manifest

import (
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

const repo = "testdata/fluxrepo"

// fluxRepoWalk is what walking testdata/fluxrepo yields, with display prefix
// p (p ends with "/" or ":").
func fluxRepoWalk(p, set string) []summary {
	prod, stag := p+"apps/production", p+"apps/staging"
	return []summary{
		{Set: prod, File: prod, Kind: "Deployment", NS: "production", Name: "podinfo"},
		{Set: prod, File: prod, Kind: "Service", NS: "production", Name: "podinfo"},
		{Set: prod, File: prod, Kind: "HorizontalPodAutoscaler", NS: "production", Name: "podinfo"},
		{Set: prod, File: prod, Kind: "PodDisruptionBudget", NS: "production", Name: "podinfo"},
		{Set: stag, File: stag, Kind: "Deployment", NS: "staging", Name: "podinfo"},
		{Set: stag, File: stag, Kind: "Service", NS: "staging", Name: "podinfo"},
		{Set: stag, File: stag, Kind: "HorizontalPodAutoscaler", NS: "staging", Name: "podinfo"},
		{Set: set, File: p + "clusters/production/apps.yaml", Line: 1, Kind: "Kustomization", NS: "flux-system", Name: "apps"},
		{Set: set, File: p + "clusters/production/flux-system/gotk-sync.yaml", Line: 3, Kind: "GitRepository", NS: "flux-system", Name: "flux-system"},
		{Set: set, File: p + "clusters/production/flux-system/gotk-sync.yaml", Line: 16, Kind: "Kustomization", NS: "flux-system", Name: "flux-system"},
	}
}

func TestLoadPaths(t *testing.T) {
	base := repo + "/apps/base/podinfo"
	files := "testdata/files"
	tests := []struct {
		name  string
		paths []string
		stdin string
		want  []summary
	}{
		{
			name:  "Flux repository: overlays built once each, bases not built alone",
			paths: []string{repo},
			want:  fluxRepoWalk(repo+"/", ""),
		},
		{
			name:  "unclean path is cleaned",
			paths: []string{"./" + repo + "/"},
			want:  fluxRepoWalk(repo+"/", ""),
		},
		{
			name:  "explicit base is built",
			paths: []string{base},
			want: []summary{
				{Set: base, File: base, Kind: "Deployment", Name: "podinfo"},
				{Set: base, File: base, Kind: "Service", Name: "podinfo"},
				{Set: base, File: base, Kind: "HorizontalPodAutoscaler", Name: "podinfo"},
			},
		},
		{
			name:  "explicit overlay and explicit base are both built",
			paths: []string{repo + "/apps/staging", base},
			want: []summary{
				{Set: repo + "/apps/staging", File: repo + "/apps/staging", Kind: "Deployment", NS: "staging", Name: "podinfo"},
				{Set: repo + "/apps/staging", File: repo + "/apps/staging", Kind: "Service", NS: "staging", Name: "podinfo"},
				{Set: repo + "/apps/staging", File: repo + "/apps/staging", Kind: "HorizontalPodAutoscaler", NS: "staging", Name: "podinfo"},
				{Set: base, File: base, Kind: "Deployment", Name: "podinfo"},
				{Set: base, File: base, Kind: "Service", Name: "podinfo"},
				{Set: base, File: base, Kind: "HorizontalPodAutoscaler", Name: "podinfo"},
			},
		},
		{
			name:  "directory of loose files: non-manifests and non-objects skipped",
			paths: []string{files},
			want: []summary{
				{File: files + "/list.yaml", Line: 4, Kind: "ServiceAccount", NS: "shop", Name: "cart"},
				{File: files + "/list.yaml", Line: 9, Kind: "PodDisruptionBudget", NS: "shop", Name: "cart"},
				{File: files + "/multi.yaml", Line: 2, Kind: "Namespace", Name: "shop"},
				{File: files + "/multi.yaml", Line: 11, Kind: "ConfigMap", NS: "shop", Name: "shop-settings"},
				{File: files + "/multi.yaml", Line: 20, Kind: "Deployment", NS: "shop", Name: "cart"},
				{File: files + "/service.json", Line: 1, Kind: "Service", NS: "shop", Name: "cart"},
			},
		},
		{
			name:  "explicit files in the order given, empty file yields nothing",
			paths: []string{files + "/service.json", files + "/empty.yaml", files + "/list.yaml"},
			want: []summary{
				{File: files + "/service.json", Line: 1, Kind: "Service", NS: "shop", Name: "cart"},
				{File: files + "/list.yaml", Line: 4, Kind: "ServiceAccount", NS: "shop", Name: "cart"},
				{File: files + "/list.yaml", Line: 9, Kind: "PodDisruptionBudget", NS: "shop", Name: "cart"},
			},
		},
		{
			name:  "files reached twice are read once",
			paths: []string{files + "/service.json", files, repo + "/apps/production", repo + "/apps"},
			want: append([]summary{
				{File: files + "/service.json", Line: 1, Kind: "Service", NS: "shop", Name: "cart"},
				{File: files + "/list.yaml", Line: 4, Kind: "ServiceAccount", NS: "shop", Name: "cart"},
				{File: files + "/list.yaml", Line: 9, Kind: "PodDisruptionBudget", NS: "shop", Name: "cart"},
				{File: files + "/multi.yaml", Line: 2, Kind: "Namespace", Name: "shop"},
				{File: files + "/multi.yaml", Line: 11, Kind: "ConfigMap", NS: "shop", Name: "shop-settings"},
				{File: files + "/multi.yaml", Line: 20, Kind: "Deployment", NS: "shop", Name: "cart"},
			}, fluxRepoWalk(repo+"/", "")[:7]...),
		},
		{
			name:  "stdin between paths",
			paths: []string{files + "/service.json", "-"},
			stdin: "---\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: from-stdin\n",
			want: []summary{
				{File: files + "/service.json", Line: 1, Kind: "Service", NS: "shop", Name: "cart"},
				{File: "<stdin>", Line: 2, Kind: "Namespace", Name: "from-stdin"},
			},
		},
		{name: "no paths"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadPaths(tt.paths, strings.NewReader(tt.stdin))
			if err != nil {
				t.Fatalf("LoadPaths: %v", err)
			}
			checkSummaries(t, got, tt.want)
		})
	}
}

func TestLoadPathsKustomizeOutput(t *testing.T) {
	objs, err := LoadPaths([]string{repo + "/apps/production"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	d := objs[0]
	if d.Kind() != "Deployment" {
		t.Fatalf("first object is %s, want the Deployment", d.Kind())
	}
	if got := field(d.Data, "spec", "replicas"); got != int64(3) {
		t.Errorf("patched replicas = %#v, want int64(3)", got)
	}
	if got := field(d.Data, "spec", "strategy", "rollingUpdate", "maxSurge"); got != "25%" {
		t.Errorf("maxSurge = %#v, want \"25%%\"", got)
	}
	if got := field(d.Data, "metadata", "labels", "app.kubernetes.io/part-of"); got != "podinfo" {
		t.Errorf("base label = %#v, want podinfo", got)
	}
	for _, o := range objs {
		if ann := field(o.Data, "metadata", "annotations"); ann != nil {
			t.Errorf("%s has build annotations %v", o.Kind(), ann)
		}
	}
}

func TestLoadPathsErrors(t *testing.T) {
	tests := []struct {
		name      string
		paths     []string
		stdin     io.Reader
		wantErr   string
		wantParse *ParseError // File and Line checked when set
		wantIs    error
	}{
		{
			name:      "broken YAML named explicitly",
			paths:     []string{"testdata/broken/broken.yaml"},
			wantErr:   "testdata/broken/broken.yaml:10: mapping values are not allowed in this context",
			wantParse: &ParseError{File: "testdata/broken/broken.yaml", Line: 10},
		},
		{
			name:      "broken YAML found by walking",
			paths:     []string{"testdata/broken"},
			wantErr:   "testdata/broken/broken.yaml:10: mapping values are not allowed in this context",
			wantParse: &ParseError{File: "testdata/broken/broken.yaml", Line: 10},
		},
		{
			name:      "non-object named explicitly",
			paths:     []string{"testdata/files/values.yaml"},
			wantErr:   "testdata/files/values.yaml:2: not a Kubernetes object: apiVersion and kind are missing",
			wantParse: &ParseError{File: "testdata/files/values.yaml", Line: 2},
		},
		{
			name:      "broken stdin",
			paths:     []string{"-"},
			stdin:     strings.NewReader("apiVersion: v1\nkind: [\n"),
			wantErr:   "<stdin>:3: did not find expected node content",
			wantParse: &ParseError{File: "<stdin>", Line: 3},
		},
		{
			name:    "stdin twice",
			paths:   []string{"-", "-"},
			stdin:   strings.NewReader(""),
			wantErr: `standard input ("-") given more than once`,
		},
		{
			name:    "no stdin",
			paths:   []string{"-"},
			wantErr: "read <stdin>: no standard input available",
		},
		{
			name:    "missing path",
			paths:   []string{"testdata/nope"},
			wantErr: "testdata/nope: file does not exist",
			wantIs:  fs.ErrNotExist,
		},
		{
			name:    "empty path",
			paths:   []string{""},
			wantErr: "empty manifest path",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := LoadPaths(tt.paths, tt.stdin)
			if err == nil || err.Error() != tt.wantErr {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if tt.wantParse != nil {
				var pe *ParseError
				if !errors.As(err, &pe) {
					t.Fatalf("error %T is not a *ParseError", err)
				}
				if pe.File != tt.wantParse.File || pe.Line != tt.wantParse.Line {
					t.Errorf("ParseError at %s:%d, want %s:%d", pe.File, pe.Line, tt.wantParse.File, tt.wantParse.Line)
				}
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error does not wrap %v", tt.wantIs)
			}
		})
	}
}

// writeTree creates files (path → content) under a new temporary directory
// and returns it.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, content := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

func cm(name string) string {
	return "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: " + name + "\n"
}

func TestLoadPathsWalkRules(t *testing.T) {
	dir := writeTree(t, map[string]string{
		".git/config.yaml":         cm("in-dot-git"),
		".github/workflows/ci.yml": "broken: [\n",
		".hidden.yaml":             cm("hidden-file"),
		"b.YML":                    cm("upper-case-extension"),
		"a/z.yaml":                 cm("a-z"),
		"a/b/c.json":               `{"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "a-b-c"}}`,
		"a.yaml":                   cm("a-file"),
		"notes.txt":                cm("txt-ignored"),
		"renovate.json":            `{"extends": ["config:recommended"]}`,
	})
	got, err := LoadPaths([]string{dir}, nil)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, o := range got {
		names = append(names, o.Name())
	}
	// Lexical order: "a" < "a.yaml" < "b.YML"; "a/b" < "a/z.yaml".
	if want := "a-b-c a-z a-file upper-case-extension"; strings.Join(names, " ") != want {
		t.Errorf("walked %q, want %q", strings.Join(names, " "), want)
	}
	// The walked directory itself may be hidden.
	got, err = LoadPaths([]string{filepath.Join(dir, ".git")}, nil)
	if err != nil || len(got) != 1 || got[0].Name() != "in-dot-git" {
		t.Errorf("explicit hidden directory: got %v, %v", summarize(got), err)
	}
}

func TestLoadPathsSymlinkLoop(t *testing.T) {
	dir := writeTree(t, map[string]string{"m/cm.yaml": cm("x")})
	if err := os.Symlink("..", filepath.Join(dir, "m", "loop")); err != nil {
		t.Skipf("cannot create symlinks: %v", err)
	}
	got, err := LoadPaths([]string{dir}, nil)
	if err != nil || len(got) != 1 {
		t.Fatalf("got %v, %v; want one object", summarize(got), err)
	}
}

func TestLoadPathsCharts(t *testing.T) {
	chart := map[string]string{
		"Chart.yaml":                "apiVersion: v2\nname: web\nversion: 0.1.0\n",
		"values.yaml":               "replicas: 2\n",
		"templates/deployment.yaml": "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}\n{{- if .Values.x }}\n",
		"templates/_helpers.tpl":    "{{- define \"x\" -}}{{- end -}}",
		"crds/crd.yaml":             "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata:\n  name: [broken\n",
		"charts/sub/Chart.yaml":     "apiVersion: v2\nname: sub\nversion: 0.1.0\n",
	}
	tree := map[string]string{"apps/cm.yaml": cm("app"), "z.yaml": cm("last")}
	for p, c := range chart {
		tree["charts/web/"+p] = c
	}
	tree["apps/Chart.yaml.d/cm.yaml"] = cm("not-a-chart")
	dir := writeTree(t, tree)

	tests := []struct {
		name string
		path string
		want string
	}{
		{name: "walked repository: chart skipped, the rest read", path: dir, want: "not-a-chart app last"},
		{name: "chart named explicitly yields nothing", path: filepath.Join(dir, "charts", "web"), want: ""},
		{name: "a directory merely named like Chart.yaml is walked", path: filepath.Join(dir, "apps"), want: "not-a-chart app"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadPaths([]string{tt.path}, nil)
			if err != nil {
				t.Fatal(err)
			}
			var names []string
			for _, o := range got {
				names = append(names, o.Name())
			}
			if g := strings.Join(names, " "); g != tt.want {
				t.Errorf("read %q, want %q", g, tt.want)
			}
		})
	}
}
