package fluxbuild

import (
	"context"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// loadFleet loads testdata/fleet as `fluxgate check --root fleet fleet`
// does and follows its Flux Kustomizations.
func loadFleet(t *testing.T) *Result {
	t.Helper()
	root := filepath.Join("testdata", "fleet")
	objs, err := manifest.LoadPaths([]string{root}, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := Expand(context.Background(), objs, Options{Root: root, Dirs: []string{"."}})
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func find(objs []manifest.Object, cluster, kind, ns, name string) *manifest.Object {
	for i := range objs {
		o := &objs[i]
		if o.Cluster == cluster && o.Kind() == kind && o.Namespace() == ns && o.Name() == name {
			return o
		}
	}
	return nil
}

func TestExpandObjects(t *testing.T) {
	res := loadFleet(t)
	tests := []struct {
		cluster, kind, ns, name string
		origin, file            string
		replicas                any
		labels                  map[string]any
	}{
		{cluster: "clusters/staging", kind: "Deployment", ns: "podinfo", name: "podinfo",
			origin: "Kustomization flux-system/apps", file: "apps/staging", replicas: int64(1)},
		{cluster: "clusters/production", kind: "Deployment", ns: "podinfo", name: "podinfo",
			origin: "Kustomization flux-system/apps", file: "apps/production", replicas: int64(4)},
		{cluster: "clusters/staging", kind: "PodDisruptionBudget", ns: "podinfo", name: "podinfo",
			origin: "Kustomization flux-system/apps", file: "apps/staging"},
		{cluster: "clusters/staging", kind: "Deployment", ns: "infra-staging", name: "ingress",
			origin: "Kustomization flux-system/infrastructure", file: "infrastructure", replicas: int64(1),
			labels: map[string]any{"app.kubernetes.io/name": "ingress", "cluster": "staging"}},
		{cluster: "clusters/production", kind: "Deployment", ns: "infra-production", name: "ingress",
			origin: "Kustomization flux-system/infrastructure", file: "infrastructure", replicas: int64(3),
			labels: map[string]any{"app.kubernetes.io/name": "ingress", "cluster": "production"}},
		{cluster: "clusters/production", kind: "Kustomization", ns: "flux-system", name: "apps",
			origin: "Kustomization flux-system/flux-system", file: "clusters/production"},
		{cluster: "", kind: "Deployment", ns: "loose", name: "loose", file: "testdata/fleet/loose/deployment.yaml"},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprintf("%s/%s/%s/%s", tt.cluster, tt.kind, tt.ns, tt.name), func(t *testing.T) {
			o := find(res.Objects, tt.cluster, tt.kind, tt.ns, tt.name)
			if o == nil {
				t.Fatalf("not found among %d objects", len(res.Objects))
			}
			if o.Origin != tt.origin || o.File != tt.file {
				t.Errorf("origin %q, file %q; want %q, %q", o.Origin, o.File, tt.origin, tt.file)
			}
			if tt.replicas != nil {
				if got := nested(o.Data, "spec", "replicas"); got != tt.replicas {
					t.Errorf("spec.replicas = %#v, want %#v", got, tt.replicas)
				}
			}
			if tt.labels != nil {
				got := asMap(nested(o.Data, "metadata", "labels"))
				if fmt.Sprint(got) != fmt.Sprint(tt.labels) {
					t.Errorf("labels = %v, want %v", got, tt.labels)
				}
			}
		})
	}
}

// TestExpandNoDuplicates: a directory a Kustomization reaches is never
// also checked on its own.
func TestExpandNoDuplicates(t *testing.T) {
	res := loadFleet(t)
	count := map[string]int{}
	for _, o := range res.Objects {
		if o.Kind() == "Deployment" {
			count[o.Cluster+" "+o.Namespace()+"/"+o.Name()]++
		}
	}
	want := map[string]int{
		"clusters/staging podinfo/podinfo":             1,
		"clusters/production podinfo/podinfo":          1,
		"clusters/staging infra-staging/ingress":       1,
		"clusters/production infra-production/ingress": 1,
		" loose/loose": 1,
	}
	if fmt.Sprint(count) != fmt.Sprint(want) {
		t.Errorf("Deployments = %v, want %v", count, want)
	}
}

func TestExpandFindings(t *testing.T) {
	res := loadFleet(t)
	var got []string
	for _, f := range res.Findings {
		got = append(got, fmt.Sprintf("%s %s %s/%s: %s", f.Action, f.Object.Cluster, f.Object.Namespace(), f.Object.Name(), f.Message))
	}
	want := []string{
		"warn clusters/production flux-system/tenants: its sourceRef GitRepository flux-system/tenants (https://example.com/tenants.git) is not the repository being checked (ssh://git@example.com/fleet.git); not followed",
		"warn clusters/production flux-system/infrastructure: postBuild.substituteFrom: Secret flux-system/cluster-secrets is SOPS-encrypted and cannot be read offline; its variables are unresolved",
		"warn clusters/production flux-system/infrastructure: variable ${ingress_token} is not set by Kustomization flux-system/infrastructure (unresolved: Secret flux-system/cluster-secrets is SOPS-encrypted and cannot be read offline): Flux substitutes an empty string",
		"warn clusters/staging flux-system/infrastructure: variable ${ingress_token} is not set by Kustomization flux-system/infrastructure: Flux substitutes an empty string",
	}
	slices.Sort(got)
	slices.Sort(want)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("findings:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckFleet runs the default policies over the fleet: each cluster's
// budget is fine in its cluster (no overlap across clusters), ${replicas}
// is evaluated (one replica in staging is warned), and the ingress of
// production, substituted to 3 replicas, has no budget.
func TestCheckFleet(t *testing.T) {
	res := loadFleet(t)
	ctx := context.Background()
	eng := defaultEngine(t)
	rep, err := check.Run(ctx, eng, res.Objects, res.Findings...)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Results {
		if r.Policy == policy.EngineID || r.Cluster == "" {
			continue
		}
		got = append(got, fmt.Sprintf("%s %s %s %s %s/%s %s", r.Action, r.Policy, r.Cluster, r.Origin, r.Namespace, r.Name, r.Kind))
	}
	want := []string{
		"deny pdb-coverage clusters/production Kustomization flux-system/infrastructure infra-production/ingress Deployment",
		"warn replicas-ha clusters/staging Kustomization flux-system/apps podinfo/podinfo Deployment",
		"warn replicas-ha clusters/staging Kustomization flux-system/infrastructure infra-staging/ingress Deployment",
	}
	slices.Sort(got)
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}

	// The same objects related across clusters, as before: the two
	// clusters' podinfo budgets overlap. This is what the per-cluster
	// grouping above prevents.
	merged := slices.Clone(res.Objects)
	for i := range merged {
		merged[i].Cluster, merged[i].Set = "", ""
	}
	rep, err = check.Run(ctx, eng, merged)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rep.Results, func(r check.Result) bool {
		return r.Policy == "pdb-drain-safe" && r.Action == "deny" && r.Namespace == "podinfo"
	}) {
		t.Error("merging the clusters' objects does not deny the podinfo budgets: the fixture no longer shows why clusters are kept apart")
	}
}

// defaultEngine is the engine of `fluxgate check` without flags: the
// built-in policies and the default configuration.
func defaultEngine(tb testing.TB) *policy.Engine {
	tb.Helper()
	mods, err := policy.Load()
	if err != nil {
		tb.Fatal(err)
	}
	set, err := policy.Compile(context.Background(), mods)
	if err != nil {
		tb.Fatal(err)
	}
	cfg, err := policy.LoadConfig("")
	if err != nil {
		tb.Fatal(err)
	}
	eng, err := policy.NewEngine(set, cfg)
	if err != nil {
		tb.Fatal(err)
	}
	return eng
}

func TestCleanRel(t *testing.T) {
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{"./apps/production", "apps/production", true},
		{"apps/", "apps", true},
		{"", ".", true},
		{"./", ".", true},
		{"../elsewhere", "", false},
	}
	for _, tt := range tests {
		got, ok := cleanRel(tt.in)
		if got != tt.want || ok != tt.ok {
			t.Errorf("cleanRel(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestMissingVars(t *testing.T) {
	tests := []struct {
		data string
		vars map[string]string
		want []string
	}{
		{"a: ${x}\nb: ${y}\n", map[string]string{"x": "1"}, []string{"y"}},
		{"a: ${x:=2}\n", nil, nil},
		{"a: ${x}\nb: ${x}\nc: ${z}\n", nil, []string{"x", "z"}},
		{"a: plain\n", nil, nil},
	}
	for _, tt := range tests {
		got := missingVars(tt.data, tt.vars)
		if !slices.Equal(got, tt.want) {
			t.Errorf("missingVars(%q) = %v, want %v", tt.data, got, tt.want)
		}
	}
}

// TestBuildOnceEach: an overlay built again with the same generated
// kustomization.yaml (clusters sharing an overlay) comes from the cache,
// as a copy the caller may change; another spec is built anew.
func TestBuildOnceEach(t *testing.T) {
	root := writeTree(t, map[string]string{"app/cm.yaml": cm})
	kustomization := func(spec string) manifest.Object {
		var data map[string]any
		if err := yaml.Unmarshal([]byte(ks("app", "./app", spec)), &data); err != nil {
			t.Fatal(err)
		}
		return manifest.Object{Data: data}
	}
	b := &builder{}
	first, err := b.build(kustomization(""), root, "app")
	if err != nil {
		t.Fatal(err)
	}
	first.Resources()[0].SetName("changed")
	again, err := b.build(kustomization(""), root, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.cache) != 1 || again.Resources()[0].GetName() != "app" {
		t.Errorf("the same build: %d builds cached, object named %q; want 1 and app", len(b.cache), again.Resources()[0].GetName())
	}
	other, err := b.build(kustomization("  targetNamespace: team\n"), root, "app")
	if err != nil {
		t.Fatal(err)
	}
	if len(b.cache) != 2 || other.Resources()[0].GetNamespace() != "team" {
		t.Errorf("another spec: %d builds cached, namespace %q; want 2 and team", len(b.cache), other.Resources()[0].GetNamespace())
	}
}
