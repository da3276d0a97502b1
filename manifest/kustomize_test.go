package manifest

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

func kust(lines ...string) string {
	return "apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n" + strings.Join(lines, "\n") + "\n"
}

func TestKustomizeSets(t *testing.T) {
	tests := []struct {
		name  string
		files map[string]string
		want  []string // "set kind/name" of every object, in order
	}{
		{
			name: "base reached through a nested kustomization is not built alone",
			files: map[string]string{
				"base/kustomization.yaml":                  kust("resources: [cm.yaml]"),
				"base/cm.yaml":                             cm("base"),
				"overlay/kustomization.yaml":               kust("resources: [monitoring, extra.yaml]"),
				"overlay/extra.yaml":                       cm("extra"),
				"overlay/monitoring/kustomization.yaml":    kust("resources: [../../base]", "namePrefix: mon-"),
				"other/unrelated/kustomization.yaml":       kust("resources: [cm.yaml]"),
				"other/unrelated/cm.yaml":                  cm("unrelated"),
				"overlay/monitoring/not-walked/stray.yaml": cm("stray"),
			},
			want: []string{
				"other/unrelated ConfigMap/unrelated",
				"overlay ConfigMap/mon-base",
				"overlay ConfigMap/extra",
			},
		},
		{
			name: "components and deprecated bases count as references",
			files: map[string]string{
				"app/kustomization.yaml":    kust("bases: [../legacy]", "components: [../component]"),
				"legacy/kustomization.yaml": kust("resources: [cm.yaml]"),
				"legacy/cm.yaml":            cm("legacy"),
				"component/kustomization.yaml": "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\n" +
					"labels:\n  - pairs: {team: shop}\n",
			},
			want: []string{"app ConfigMap/legacy"},
		},
		{
			name: "Kustomization and kustomization.yml file names",
			files: map[string]string{
				"a/Kustomization":      kust("resources: [../b]"),
				"b/kustomization.yml":  kust("resources: [cm.yaml]"),
				"b/cm.yaml":            cm("b"),
				"c/kustomization.yaml": kust("resources: [cm.yaml]"),
				"c/cm.yaml":            cm("c"),
			},
			want: []string{"a ConfigMap/b", "c ConfigMap/c"},
		},
		{
			name: "two overlays share a base",
			files: map[string]string{
				"base/kustomization.yaml": kust("resources: [cm.yaml]"),
				"base/cm.yaml":            cm("shared"),
				"dev/kustomization.yaml":  kust("resources: [../base]", "namespace: dev"),
				"prod/kustomization.yaml": kust("resources: [../base]", "namespace: prod"),
			},
			want: []string{"dev ConfigMap/shared", "prod ConfigMap/shared"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := writeTree(t, tt.files)
			objs, err := LoadFS(filesys.MakeFsOnDisk(), dir, "")
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range objs {
				got = append(got, filepath.ToSlash(o.Set)+" "+o.Kind()+"/"+o.Name())
				if o.File != o.Set || o.Line != 0 {
					t.Errorf("%s/%s: File %q Line %d, want File = Set and Line 0", o.Kind(), o.Name(), o.File, o.Line)
				}
			}
			if strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("got\n  %s\nwant\n  %s", strings.Join(got, "\n  "), strings.Join(tt.want, "\n  "))
			}
		})
	}
}

func TestKustomizeBuildErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   map[string]string
		path    string // argument to LoadPaths, relative to the tree
		wantDir string
		wantErr string // substring of the kustomize error
	}{
		{
			name:    "missing resource",
			files:   map[string]string{"apps/production/kustomization.yaml": kust("resources: [missing.yaml]")},
			path:    ".",
			wantDir: "apps/production",
			wantErr: "missing.yaml",
		},
		{
			name:    "invalid kustomization",
			files:   map[string]string{"app/kustomization.yaml": "resources: {not: a list}\n"},
			path:    "app",
			wantDir: "app",
			wantErr: "resources",
		},
		{
			name: "cycle is reported, not silently dropped",
			files: map[string]string{
				"a/kustomization.yaml": kust("resources: [../b]"),
				"b/kustomization.yaml": kust("resources: [../a]"),
			},
			path:    ".",
			wantDir: "a",
			wantErr: "cycle",
		},
		{
			name: "Helm charts are not inflated",
			files: map[string]string{"app/kustomization.yaml": kust(
				"helmCharts:", "  - name: podinfo", "    repo: https://stefanprodan.github.io/podinfo", "    version: 6.7.1")},
			path:    "app",
			wantDir: "app",
			wantErr: "helm",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			t.Chdir(root)
			_, err := LoadPaths([]string{tt.path}, nil)
			var be *BuildError
			if !errors.As(err, &be) {
				t.Fatalf("error %v (%T) is not a *BuildError", err, err)
			}
			if be.Dir != tt.wantDir {
				t.Errorf("BuildError.Dir = %q, want %q", be.Dir, tt.wantDir)
			}
			if prefix := "kustomize build " + tt.wantDir + ": "; !strings.HasPrefix(err.Error(), prefix) {
				t.Errorf("error %q does not start with %q", err, prefix)
			}
			if !strings.Contains(strings.ToLower(err.Error()), tt.wantErr) {
				t.Errorf("error %q does not mention %q", err, tt.wantErr)
			}
		})
	}
}

func TestLoadFSInMemory(t *testing.T) {
	fsys := filesys.MakeFsInMemory()
	for name, content := range map[string]string{
		"/repo/base/kustomization.yaml":    kust("resources: [cm.yaml]"),
		"/repo/base/cm.yaml":               cm("base"),
		"/repo/overlay/kustomization.yaml": kust("resources: [../base]", "nameSuffix: -prod"),
		"/repo/loose/ns.yaml":              "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: loose\n",
	} {
		if err := fsys.WriteFile(name, []byte(content)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		root, display string
		want          []summary
	}{
		{
			root: "/repo", display: "mem:",
			want: []summary{
				{Set: "", File: "mem:loose/ns.yaml", Line: 1, Kind: "Namespace", Name: "loose"},
				{Set: "mem:overlay", File: "mem:overlay", Kind: "ConfigMap", Name: "base-prod"},
			},
		},
		{
			root: "/repo/base", display: "",
			want: []summary{{Set: "/repo/base", File: "/repo/base", Kind: "ConfigMap", Name: "base"}},
		},
		{
			root: "/repo/loose/ns.yaml", display: "ns.yaml",
			want: []summary{{File: "ns.yaml", Line: 1, Kind: "Namespace", Name: "loose"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.root, func(t *testing.T) {
			got, err := LoadFS(fsys, tt.root, tt.display)
			if err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, got, tt.want)
		})
	}
}
