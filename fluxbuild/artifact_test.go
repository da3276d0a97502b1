package fluxbuild

import (
	"context"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/manifest"
)

// generator renders an ArtifactGenerator flux-system/flux-system reading
// the source kind/name as @monorepo; artifacts is indented YAML.
func generator(kind, name, artifacts string) string {
	return fmt.Sprintf(`apiVersion: source.extensions.fluxcd.io/v1beta1
kind: ArtifactGenerator
metadata:
  name: flux-system
  namespace: flux-system
spec:
  sources:
    - alias: monorepo
      kind: %s
      name: %s
  artifacts:
%s`, kind, name, artifacts)
}

// slices of the repository as flux2-kustomize-helm-example makes them:
// infrastructure whole, apps as base plus one environment.
func exampleArtifacts(env string) string {
	return fmt.Sprintf(`    - name: infrastructure
      originRevision: "@monorepo"
      copy:
        - from: "@monorepo/infrastructure/**"
          to: "@artifact/"
          exclude: ["skip.yaml"]
    - name: apps
      originRevision: "@monorepo"
      copy:
        - from: "@monorepo/apps/base/**"
          to: "@artifact/base/"
        - from: "@monorepo/apps/%s/**"
          to: "@artifact/%s/"
`, env, env)
}

// fromArtifact renders a Flux Kustomization reading an ExternalArtifact.
func fromArtifact(name, artifact, path, spec string) string {
	return strings.Replace(ks(name, path, spec), "kind: GitRepository\n    name: flux-system",
		"kind: ExternalArtifact\n    name: "+artifact, 1)
}

const podinfo = `apiVersion: apps/v1
kind: Deployment
metadata:
  name: podinfo
spec:
  replicas: 1
  template:
    spec:
      containers:
        - name: podinfo
          image: podinfo
`

// example is a repository shaped like flux2-kustomize-helm-example:
// staging bootstrapped (a real sync), production still a placeholder.
func example() map[string]string {
	return map[string]string{
		"clusters/staging/flux-system/gotk-sync.yaml": gitRepo("flux-system", "ssh://git@example.com/fleet.git") + "---\n" +
			ks("flux-system", "./clusters/staging", ""),
		"clusters/staging/artifacts.yaml": generator("GitRepository", "flux-system", exampleArtifacts("staging")),
		"clusters/staging/apps.yaml": fromArtifact("apps", "apps", "./staging", "") + "---\n" +
			fromArtifact("infra-controllers", "infrastructure", "./controllers", ""),
		"clusters/production/flux-system/gotk-sync.yaml": "# This file will be generated automatically by flux bootstrap.\n",
		"clusters/production/artifacts.yaml":             generator("GitRepository", "flux-system", exampleArtifacts("production")),
		"clusters/production/apps.yaml": fromArtifact("apps", "apps", "./production", "  targetNamespace: production-apps\n") + "---\n" +
			fromArtifact("infra-controllers", "infrastructure", "./controllers", ""),
		"apps/base/podinfo/kustomization.yaml": "resources:\n  - deployment.yaml\n",
		"apps/base/podinfo/deployment.yaml":    podinfo,
		"apps/staging/kustomization.yaml":      "namespace: staging-apps\nresources:\n  - ../base/podinfo\n",
		"apps/production/kustomization.yaml": `resources:
  - ../base/podinfo
patches:
  - target: {kind: Deployment, name: podinfo}
    patch: |
      - op: replace
        path: /spec/replicas
        value: 3
`,
		"infrastructure/controllers/ingress.yaml": strings.Replace(podinfo, "name: podinfo\nspec", "name: ingress\n  namespace: ingress\nspec", 1),
		"infrastructure/controllers/skip.yaml":    cm,
	}
}

// looseExample is what example() holds when no Kustomization is
// followed: its overlays checked loose, without a cluster.
var looseExample = []string{
	"|||ConfigMap /app|",
	"|||Deployment /podinfo|3",
	"|||Deployment ingress/ingress|1",
	"|||Deployment staging-apps/podinfo|1",
}

// with returns files with the given paths replaced.
func with(files map[string]string, changes ...string) map[string]string {
	out := maps.Clone(files)
	for i := 0; i+1 < len(changes); i += 2 {
		out[changes[i]] = changes[i+1]
	}
	return out
}

func TestExpandArtifacts(t *testing.T) {
	tests := []struct {
		name     string
		files    map[string]string
		objects  []string // "cluster|origin|file|Kind ns/name|replicas" of ConfigMaps and Deployments
		findings []string // "action ns/name: message" prefixes
	}{{
		name:  "two clusters read slices of the repository made by an ArtifactGenerator",
		files: example(),
		objects: []string{
			"clusters/production|Kustomization flux-system/apps|apps/production|Deployment production-apps/podinfo|3",
			"clusters/production|Kustomization flux-system/infra-controllers|infrastructure/controllers|Deployment ingress/ingress|1",
			"clusters/staging|Kustomization flux-system/apps|apps/staging|Deployment staging-apps/podinfo|1",
			"clusters/staging|Kustomization flux-system/infra-controllers|infrastructure/controllers|Deployment ingress/ingress|1",
			// Excluded from the artifact, so reached by no Kustomization.
			"|||ConfigMap /app|",
		},
	}, {
		name: "a directory copied whole, a file to a file, a glob keeping its path, later copies overwriting earlier ones",
		files: with(example(),
			"clusters/production/artifacts.yaml", generator("GitRepository", "flux-system", `    - name: apps
      copy:
        - from: "@monorepo/apps/base"
          to: "@artifact/"
        - from: "@monorepo/apps/production/kustomization.yaml"
          to: "@artifact/env/kustomization.yaml"
        - from: "@monorepo/infrastructure/*/*.yaml"
          to: "@artifact/env/"
        - from: "@monorepo/override/deployment.yaml"
          to: "@artifact/base/podinfo/"
    - name: infrastructure
      copy:
        - from: "@monorepo/infrastructure/**"
          to: "@artifact/"
`),
			"clusters/production/apps.yaml", fromArtifact("apps", "apps", "./env", "")+"---\n"+
				fromArtifact("infra", "apps", "./env/infrastructure/controllers", ""),
			"apps/production/kustomization.yaml", "resources:\n  - ../base/podinfo\n",
			"override/deployment.yaml", strings.Replace(podinfo, "replicas: 1", "replicas: 5", 1)),
		objects: []string{
			"clusters/production|Kustomization flux-system/apps|@flux-system/apps/env|Deployment /podinfo|5",
			"clusters/production|Kustomization flux-system/infra|infrastructure/controllers|ConfigMap /app|",
			"clusters/production|Kustomization flux-system/infra|infrastructure/controllers|Deployment ingress/ingress|1",
			"clusters/staging|Kustomization flux-system/apps|apps/staging|Deployment staging-apps/podinfo|1",
			"clusters/staging|Kustomization flux-system/infra-controllers|infrastructure/controllers|Deployment ingress/ingress|1",
		},
	}, {
		name: "an ExternalArtifact no ArtifactGenerator makes, and one made of an OCIRepository, stay warned",
		files: with(example(),
			"clusters/staging/artifacts.yaml", "",
			"clusters/production/artifacts.yaml", generator("OCIRepository", "charts", exampleArtifacts("production"))),
		// Not followed, the overlays are checked loose, as before.
		objects: looseExample,
		findings: []string{
			"warn flux-system/apps: its sourceRef ExternalArtifact flux-system/apps is generated by ArtifactGenerator flux-system/flux-system from OCIRepository flux-system/charts, which is not the repository being checked; not followed",
			"warn flux-system/apps: its sourceRef ExternalArtifact flux-system/apps: no ArtifactGenerator among the objects of the cluster generates it, so fluxgate cannot tell what it holds; not followed",
			"warn flux-system/infra-controllers: its sourceRef ExternalArtifact flux-system/infrastructure is generated by ArtifactGenerator flux-system/flux-system from OCIRepository",
			"warn flux-system/infra-controllers: its sourceRef ExternalArtifact flux-system/infrastructure: no ArtifactGenerator",
		},
	}, {
		name: "a generator reading another Git repository, or extracting tarballs, stays warned; a copy matching nothing is denied",
		files: with(example(),
			"clusters/staging/artifacts.yaml", gitRepo("other", "ssh://git@example.com/other.git")+"---\n"+
				generator("GitRepository", "other", exampleArtifacts("staging")),
			"clusters/production/artifacts.yaml", generator("GitRepository", "flux-system", `    - name: apps
      copy:
        - from: "@monorepo/apps/*.tgz"
          to: "@artifact/"
          strategy: Extract
    - name: infrastructure
      copy:
        - from: "@monorepo/nothing/**"
          to: "@artifact/"
`)),
		objects: looseExample,
		findings: []string{
			"deny flux-system/infra-controllers: Flux cannot build it: ArtifactGenerator flux-system/flux-system cannot generate ExternalArtifact flux-system/infrastructure: copy from \"@monorepo/nothing/**\" to \"@artifact/\": no files match pattern",
			"warn flux-system/apps: its sourceRef ExternalArtifact flux-system/apps is generated by ArtifactGenerator flux-system/flux-system from GitRepository flux-system/other, which is not the repository being checked (ssh://git@example.com/fleet.git); not followed",
			"warn flux-system/apps: its sourceRef ExternalArtifact flux-system/apps is generated by ArtifactGenerator flux-system/flux-system with a copy fluxgate does not reproduce (copy from \"@monorepo/apps/*.tgz\" to \"@artifact/\": strategy Extract is not reproduced by fluxgate); not followed",
			"warn flux-system/infra-controllers: its sourceRef ExternalArtifact flux-system/infrastructure is generated by ArtifactGenerator flux-system/flux-system from GitRepository flux-system/other",
		},
	}}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			root := writeTree(t, tt.files)
			objs, err := manifest.LoadPaths([]string{root}, nil)
			if err != nil {
				t.Fatal(err)
			}
			res, err := Expand(context.Background(), objs, Options{Root: root, Dirs: []string{"."}})
			if err != nil {
				t.Fatal(err)
			}
			var got []string
			for _, o := range res.Objects {
				if o.Kind() != "ConfigMap" && o.Kind() != "Deployment" {
					continue
				}
				file := ""
				if o.Cluster != "" {
					file = o.File
				}
				replicas := nested(o.Data, "spec", "replicas")
				if replicas == nil {
					replicas = ""
				}
				got = append(got, fmt.Sprintf("%s|%s|%s|%s %s/%s|%v", o.Cluster, o.Origin, file, o.Kind(), o.Namespace(), o.Name(), replicas))
			}
			slices.Sort(got)
			if strings.Join(got, "\n") != strings.Join(tt.objects, "\n") {
				t.Errorf("objects:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(tt.objects, "\n"))
			}
			checkFindings(t, res.Findings, tt.findings)
		})
	}
}

// TestGenerateMerge: strategy Merge merges a YAML file into the one an
// earlier copy wrote as Helm merges values (maps key by key, lists
// replaced); without it the later file overwrites.
func TestGenerateMerge(t *testing.T) {
	src := writeTree(t, map[string]string{
		"values/base.yaml": "a:\n  b: 1\n  c: [1, 2]\nkeep: x\n",
		"values/prod.yaml": "a:\n  b: 2\n  c: [3]\n",
	})
	for _, tt := range []struct{ strategy, want string }{
		{"Merge", "map[a:map[b:2 c:[3]] keep:x]"},
		{"Overwrite", "map[a:map[b:2 c:[3]]]"},
	} {
		out := map[string]any{"copy": []any{
			map[string]any{"from": "@monorepo/values/base.yaml", "to": "@artifact/values.yaml"},
			map[string]any{"from": "@monorepo/values/prod.yaml", "to": "@artifact/values.yaml", "strategy": tt.strategy},
		}}
		a, err := generate(t.TempDir(), sourceRef{"ExternalArtifact", "flux-system", "values"}, out, map[string]string{"monorepo": src})
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(filepath.Join(a.dir, "values.yaml"))
		if err != nil {
			t.Fatal(err)
		}
		var got map[string]any
		if err := yaml.Unmarshal(data, &got); err != nil {
			t.Fatal(err)
		}
		if fmt.Sprint(got) != tt.want {
			t.Errorf("strategy %s: values.yaml is %v, want %s", tt.strategy, got, tt.want)
		}
	}
}

func TestGlobMatch(t *testing.T) {
	tests := []struct {
		pattern, path string
		want          bool
	}{
		{"*.md", "README.md", true},
		{"**/testdata/**", "a/testdata/b/c.yaml", true},
		{"**/testdata/**", "testdata/c.yaml", true},
		{"subdir/**", "subdir/x/y.yaml", true},
		{"subdir/**", "other/x.yaml", false},
		{"*.yaml", "a/b.yaml", false},
	}
	for _, tt := range tests {
		if got := globMatch(tt.pattern, tt.path); got != tt.want {
			t.Errorf("globMatch(%q, %q) = %v, want %v", tt.pattern, tt.path, got, tt.want)
		}
	}
}
