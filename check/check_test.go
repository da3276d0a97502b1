package check

import (
	"context"
	"fmt"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// builtinEngine is an engine of the built-in policies and extra modules.
func builtinEngine(t testing.TB, extra ...policy.Module) *policy.Engine {
	t.Helper()
	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(context.Background(), append(mods, extra...))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func obj(set, kind, ns, name string, spec map[string]any) manifest.Object {
	apiVersion := map[string]string{"Deployment": "apps/v1", "PodDisruptionBudget": "policy/v1"}[kind]
	meta := map[string]any{"name": name}
	if ns != "" {
		meta["namespace"] = ns
	}
	return manifest.Object{Set: set, File: set + "/" + name + ".yaml", Line: 1, Data: map[string]any{
		"apiVersion": apiVersion, "kind": kind, "metadata": meta, "spec": spec,
	}}
}

func web(replicas int) map[string]any {
	labels := map[string]any{"app": "web"}
	return map[string]any{
		"replicas": replicas, "selector": map[string]any{"matchLabels": labels},
		"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": 0}},
		"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": []any{map[string]any{
			"name": "web", "image": "web:1", "readinessProbe": map[string]any{"tcpSocket": map[string]any{"port": 80}},
			"lifecycle": map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": 5}}},
		}}}},
	}
}

var budget = map[string]any{"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}

// TestRelatedObjectsStayInTheirBuildAndNamespace checks which budget a
// Deployment sees: only one from its own build and namespace, where an
// object without a namespace is in default.
func TestRelatedObjectsStayInTheirBuildAndNamespace(t *testing.T) {
	tests := []struct {
		name    string
		objs    []manifest.Object
		covered bool
	}{
		{"same build and namespace", []manifest.Object{obj("a", "Deployment", "shop", "web", web(3)), obj("a", "PodDisruptionBudget", "shop", "web", budget)}, true},
		{"budget listed first", []manifest.Object{obj("a", "PodDisruptionBudget", "shop", "web", budget), obj("a", "Deployment", "shop", "web", web(3))}, true},
		{"no namespace means default", []manifest.Object{obj("a", "Deployment", "", "web", web(3)), obj("a", "PodDisruptionBudget", "default", "web", budget)}, true},
		{"other namespace", []manifest.Object{obj("a", "Deployment", "shop", "web", web(3)), obj("a", "PodDisruptionBudget", "other", "web", budget)}, false},
		{"other build", []manifest.Object{obj("a", "Deployment", "shop", "web", web(3)), obj("b", "PodDisruptionBudget", "shop", "web", budget)}, false},
		{"other build, same cluster", []manifest.Object{inCluster(obj("a", "Deployment", "shop", "web", web(3)), "clusters/prod"), inCluster(obj("b", "PodDisruptionBudget", "shop", "web", budget), "clusters/prod")}, true},
		{"same build, other cluster", []manifest.Object{inCluster(obj("a", "Deployment", "shop", "web", web(3)), "clusters/prod"), inCluster(obj("a", "PodDisruptionBudget", "shop", "web", budget), "clusters/staging")}, false},
		{"in a cluster and outside", []manifest.Object{inCluster(obj("a", "Deployment", "shop", "web", web(3)), "clusters/prod"), obj("a", "PodDisruptionBudget", "shop", "web", budget)}, false},
	}
	eng := builtinEngine(t)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep, err := Run(context.Background(), eng, tt.objs)
			if err != nil {
				t.Fatal(err)
			}
			uncovered := false
			for _, r := range rep.Results {
				if r.Policy == "pdb-coverage" {
					uncovered = true
					if r.Action != "deny" {
						t.Errorf("pdb-coverage in a check is %s, want deny: the whole set is known", r.Action)
					}
				}
			}
			if uncovered == tt.covered {
				t.Fatalf("covered = %v, want %v: %+v", !uncovered, tt.covered, rep.Results)
			}
		})
	}
}

func inCluster(o manifest.Object, cluster string) manifest.Object {
	o.Cluster, o.Origin = cluster, "Kustomization flux-system/apps"
	return o
}

// Findings about the input are reported first, under the engine's id,
// counted, and a denial among them fails the check; results carry the
// object's cluster and origin.
func TestRunReportsInputFindings(t *testing.T) {
	dep := inCluster(obj("a", "Deployment", "shop", "web", web(1)), "clusters/prod")
	hr := inCluster(manifest.Object{Set: "a", File: "a/hr.yaml", Data: map[string]any{"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease", "metadata": map[string]any{"name": "web", "namespace": "shop"}}}, "clusters/prod")
	rep, err := Run(context.Background(), builtinEngine(t), []manifest.Object{dep},
		InputFinding{Object: hr, Action: policy.ActionDeny, Message: "chart not found"},
		InputFinding{Object: dep, Action: policy.ActionWarn, Message: "variable ${replicas} not substituted"})
	if err != nil {
		t.Fatal(err)
	}
	if !rep.Denied() || rep.Summary.Deny != 1 || rep.Summary.Warn != 2 {
		t.Fatalf("summary = %+v", rep.Summary)
	}
	first := rep.Results[0]
	if first.Policy != policy.EngineID || first.Kind != "HelmRelease" || first.Message != "chart not found" || first.Cluster != "clusters/prod" || first.Origin != "Kustomization flux-system/apps" {
		t.Fatalf("first result = %+v", first)
	}
}

func TestRunLocatesFindingsAndCounts(t *testing.T) {
	dep := obj("a", "Deployment", "shop", "web", web(1))
	dep.Line = 7
	rep, err := Run(context.Background(), builtinEngine(t), []manifest.Object{dep, {Set: "a", File: "a/svc.yaml", Data: map[string]any{"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": "web"}}}})
	if err != nil {
		t.Fatal(err)
	}
	if rep.Summary.Objects != 2 || rep.Summary.Deny != 0 || rep.Summary.Warn != 1 || rep.Denied() {
		t.Fatalf("summary = %+v, results %+v", rep.Summary, rep.Results)
	}
	r := rep.Results[0]
	if r.Policy != "replicas-ha" || r.File != "a/web.yaml" || r.Line != 7 || r.Kind != "Deployment" || r.Namespace != "shop" || !strings.Contains(r.Message, "spec.replicas is 1") {
		t.Fatalf("result = %+v", r)
	}
}

// A policy that fails to evaluate stops the check with an error naming
// the object, however many objects are being evaluated at once.
func TestRunReportsEvaluationErrors(t *testing.T) {
	eng := builtinEngine(t, policy.Module{File: "conflict.rego", Text: `# METADATA
# title: Conflict
# description: Two values for one complete rule, an error at evaluation.
# custom:
#   id: conflict
#   kinds: [Deployment]
package acme.policies.conflict

v := 1 if input.request.object.spec.replicas > 0

v := 2 if input.request.object.spec.replicas > 1

deny contains "conflict" if v
`})
	objs := []manifest.Object{}
	for i := range 40 {
		objs = append(objs, obj("a", "Deployment", "shop", fmt.Sprintf("ok-%d", i), web(1)))
	}
	bad := obj("a", "Deployment", "shop", "bad", web(3))
	bad.Line = 12
	objs = append(objs[:20], append([]manifest.Object{bad}, objs[20:]...)...)
	_, err := Run(context.Background(), eng, objs)
	if err == nil || !strings.Contains(err.Error(), "a/bad.yaml:12: Deployment shop/bad") || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("err = %v, want the evaluation error naming Deployment shop/bad", err)
	}
}

// Objects are evaluated on several goroutines; the report still lists
// their findings in input order.
func TestRunKeepsInputOrder(t *testing.T) {
	var objs []manifest.Object
	var want []string
	for i := range 60 {
		name := fmt.Sprintf("d-%02d", i)
		objs = append(objs, obj(name, "Deployment", "shop", name, web(1)))
		want = append(want, name)
	}
	rep, err := Run(context.Background(), builtinEngine(t), objs)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, r := range rep.Results {
		if len(got) == 0 || got[len(got)-1] != r.Name {
			got = append(got, r.Name)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("objects in the report: %v\nwant: %v", got, want)
	}
}
