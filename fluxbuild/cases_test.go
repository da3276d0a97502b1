package fluxbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
)

// writeTree writes files (slash paths to contents) under a new directory.
func writeTree(t *testing.T, files map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	for name, data := range files {
		p := filepath.Join(dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	return dir
}

// checkFindings compares findings, rendered as "action ns/name: message"
// and sorted, with the prefixes in want.
func checkFindings(t *testing.T, findings []check.InputFinding, want []string) {
	t.Helper()
	var got []string
	for _, f := range findings {
		got = append(got, fmt.Sprintf("%s %s/%s: %s", f.Action, f.Object.Namespace(), f.Object.Name(), f.Message))
	}
	slices.Sort(got)
	if len(got) != len(want) {
		t.Fatalf("findings:\n%s\nwant (prefixes):\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	for i := range got {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("finding %q, want prefix %q", got[i], want[i])
		}
	}
}

// ks renders a Flux Kustomization in flux-system; spec is indented YAML.
func ks(name, path, spec string) string {
	return fmt.Sprintf(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: %s
  namespace: flux-system
spec:
  interval: 10m
  path: %s
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
%s`, name, path, spec)
}

const cm = `apiVersion: v1
kind: ConfigMap
metadata:
  name: app
data:
  size: ${size}
  kept: ${kept}
`

func TestExpandCases(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		dirs     []string // given on the command line, relative to the root
		guessed  bool
		objects  []string // "cluster|origin|Kind ns/name|data" of ConfigMaps and Deployments built or kept
		findings []string // "action ns/name: message"
	}{{
		name: "a cycle of Kustomizations is built once each",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": ks("flux-system", "./clusters/a", ""),
			"clusters/a/one.yaml":                   ks("one", "./one", ""),
			"one/two.yaml":                          ks("two", "./two", ""),
			"two/back.yaml":                         ks("one", "./one", "") + "---\n" + ks("flux-system", "./clusters/a", ""),
			"two/cm.yaml":                           cm,
		},
		dirs:    []string{"."},
		objects: []string{"clusters/a|Kustomization flux-system/two|ConfigMap /app|map[kept:${kept} size:${size}]"},
	}, {
		// An unset variable becomes an empty string, which YAML reads as null.
		name: "substitution, a default, the disabled marker, namePrefix, images and targetNamespace",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": ks("flux-system", "./clusters/a", ""),
			"clusters/a/app.yaml": ks("app", "./app", `  targetNamespace: team
  namePrefix: p-
  images:
    - name: nginx
      newTag: "1.27"
  postBuild:
    substitute:
      size: "3"
`),
			"app/cm.yaml": cm,
			"app/kept.yaml": `apiVersion: v1
kind: ConfigMap
metadata:
  name: kept
  annotations:
    kustomize.toolkit.fluxcd.io/substitute: disabled
data:
  kept: ${kept}
`,
			"app/deploy.yaml": `apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
spec:
  replicas: ${replicas:=2}
  template:
    spec:
      containers:
        - name: web
          image: nginx
`,
		},
		dirs: []string{"."},
		objects: []string{
			"clusters/a|Kustomization flux-system/app|ConfigMap team/p-app|map[kept:<nil> size:3]",
			"clusters/a|Kustomization flux-system/app|ConfigMap team/p-kept|map[kept:${kept}]",
			"clusters/a|Kustomization flux-system/app|Deployment team/p-web|2 nginx:1.27",
		},
		findings: []string{
			"warn flux-system/app: variable ${kept} is not set by Kustomization flux-system/app: Flux substitutes an empty string",
		},
	}, {
		name: "substituteFrom: a missing ConfigMap is warned, an optional one is not",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": ks("flux-system", "./clusters/a", ""),
			"clusters/a/app.yaml": ks("app", "./app", `  postBuild:
    substituteFrom:
      - kind: ConfigMap
        name: vars
      - kind: ConfigMap
        name: maybe
        optional: true
      - kind: Secret
        name: sizes
`),
			"clusters/a/sizes.yaml": `apiVersion: v1
kind: Secret
metadata:
  name: sizes
  namespace: flux-system
stringData:
  size: "5"
`,
			"app/cm.yaml": cm,
		},
		dirs:    []string{"."},
		objects: []string{"clusters/a|Kustomization flux-system/app|ConfigMap /app|map[kept:<nil> size:5]"},
		findings: []string{
			"warn flux-system/app: postBuild.substituteFrom: ConfigMap flux-system/vars is not among the objects of cluster clusters/a; its variables are unresolved",
			"warn flux-system/app: variable ${kept} is not set by Kustomization flux-system/app (unresolved: ConfigMap flux-system/vars is not among the objects of cluster clusters/a): Flux substitutes an empty string",
		},
	}, {
		// Without a variable Flux substitutes nothing unless
		// substituteStrategy is Always; $${var} is written out as ${var}.
		name: "substituteStrategy Always, an escaped variable, components and patches",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": ks("flux-system", "./clusters/a", ""),
			"clusters/a/always.yaml":                ks("always", "./app", "  components:\n    - ../comp\n  postBuild:\n    substituteStrategy: Always\n"),
			"clusters/a/raw.yaml":                   ks("raw", "./app", "  namePrefix: raw-\n  patches:\n    - patch: |\n        - op: add\n          path: /data/patched\n          value: \"yes\"\n      target:\n        kind: ConfigMap\n  postBuild:\n    substituteStrategy: Never\n"),
			"app/cm.yaml":                           "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: app\ndata:\n  size: ${size:=4}\n  kept: $${kept}\n",
			"comp/kustomization.yaml":               "apiVersion: kustomize.config.k8s.io/v1alpha1\nkind: Component\nresources:\n  - extra.yaml\n",
			"comp/extra.yaml":                       "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: extra\ndata:\n  size: ${size:=5}\n",
		},
		dirs: []string{"."},
		objects: []string{
			"clusters/a|Kustomization flux-system/always|ConfigMap /app|map[kept:${kept} size:4]",
			"clusters/a|Kustomization flux-system/always|ConfigMap /extra|map[size:5]",
			"clusters/a|Kustomization flux-system/raw|ConfigMap /raw-app|map[kept:$${kept} patched:yes size:${size:=4}]",
		},
	}, {
		name: "a build that fails is denied, with why",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": ks("flux-system", "./clusters/a", ""),
			"clusters/a/app.yaml":                   ks("app", "./app", ""),
			"clusters/a/gone.yaml":                  ks("gone", "./gone", ""),
			"app/kustomization.yaml":                "resources:\n  - missing.yaml\n",
			"app/cm.yaml":                           cm,
		},
		dirs: []string{"clusters/a"},
		findings: []string{
			"deny flux-system/app: Flux cannot build it: kustomize build failed: ",
			"deny flux-system/gone: Flux cannot build it: spec.path \"./gone\": no such directory",
		},
	}, {
		name: "a directory given without a sync is a cluster; the root guessed makes a missing path a warning",
		files: map[string]string{
			"fleet/dev/app.yaml":  ks("app", "./app", "  postBuild:\n    substitute:\n      size: \"1\"\n      kept: k\n"),
			"fleet/dev/gone.yaml": ks("gone", "./gone", ""),
			"app/cm.yaml":         cm,
		},
		dirs:    []string{"fleet/dev"},
		guessed: true,
		objects: []string{"fleet/dev|Kustomization flux-system/app|ConfigMap /app|map[kept:k size:1]"},
		findings: []string{
			"warn flux-system/gone: spec.path \"./gone\": no such directory under the source root ",
		},
	}, {
		name: "a placeholder sync (before bootstrap) still makes clusters/<name> a cluster; a root reading an ExternalArtifact no ArtifactGenerator makes is not followed",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": "# This file will be generated automatically by flux bootstrap.\n",
			"clusters/a/app.yaml":                   ks("app", "./app", ""),
			"clusters/b/flux-system/gotk-sync.yaml": "# This file will be generated automatically by flux bootstrap.\n",
			"clusters/b/artifact.yaml": strings.Replace(ks("artifact", "./app", ""),
				"kind: GitRepository\n    name: flux-system", "kind: ExternalArtifact\n    name: apps", 1),
			"app/cm.yaml":  cm,
			"app/sub.yaml": ks("sub", "./sub", ""),
			"sub/cm.yaml":  strings.Replace(cm, "name: app", "name: sub", 1),
		},
		dirs: []string{"."},
		objects: []string{
			"clusters/a|Kustomization flux-system/app|ConfigMap /app|map[kept:${kept} size:${size}]",
			"clusters/a|Kustomization flux-system/sub|ConfigMap /sub|map[kept:${kept} size:${size}]",
		},
		findings: []string{
			"warn flux-system/artifact: its sourceRef ExternalArtifact flux-system/apps: no ArtifactGenerator among the objects of the cluster generates it, so fluxgate cannot tell what it holds; not followed",
		},
	}, {
		name: "another GitRepository object with the sync's URL is this repository",
		files: map[string]string{
			"clusters/a/flux-system/gotk-sync.yaml": gitRepo("flux-system", "ssh://git@example.com/fleet.git") + "---\n" + ks("flux-system", "./clusters/a", ""),
			"clusters/a/mono.yaml":                  gitRepo("mono", "ssh://git@example.com/fleet.git"),
			"clusters/a/app.yaml":                   strings.Replace(ks("app", "./app", ""), "name: flux-system\n", "name: mono\n", 1),
			"app/cm.yaml":                           cm,
		},
		dirs:    []string{"."},
		objects: []string{"clusters/a|Kustomization flux-system/app|ConfigMap /app|map[kept:${kept} size:${size}]"},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			var args []string
			for _, d := range tt.dirs {
				args = append(args, filepath.Join(root, d))
			}
			objs, err := manifest.LoadPaths(args, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Expand(context.Background(), objs, Options{Root: root, Dirs: tt.dirs, Guessed: tt.guessed})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range res.Objects {
				switch o.Kind() {
				case "ConfigMap":
					got = append(got, fmt.Sprintf("%s|%s|ConfigMap %s/%s|%v", o.Cluster, o.Origin, o.Namespace(), o.Name(), o.Data["data"]))
				case "Deployment":
					c := nested(o.Data, "spec", "template", "spec", "containers").([]any)[0].(map[string]any)
					got = append(got, fmt.Sprintf("%s|%s|Deployment %s/%s|%v %v", o.Cluster, o.Origin, o.Namespace(), o.Name(), nested(o.Data, "spec", "replicas"), c["image"]))
				}
			}
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(tt.objects, "\n") {
				t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.objects, "\n"))
			}
			checkFindings(t, res.Findings, tt.findings)
		})
	}
}

// gitRepo renders a GitRepository in flux-system.
func gitRepo(name, url string) string {
	return fmt.Sprintf(`apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata:
  name: %s
  namespace: flux-system
spec:
  interval: 1m
  url: %s
`, name, url)
}
