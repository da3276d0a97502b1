package policy

import (
	"context"
	"fmt"
	"strings"
	"testing"
)

// module renders a policy module with the given id, kinds and rules.
func module(id, kinds, params, rules string) Module {
	pkg := strings.ReplaceAll(id, "-", "_")
	text := "# METADATA\n# title: " + id + "\n# description: test policy " + id + "\n# custom:\n#   id: " + id + "\n#   kinds: [" + kinds + "]\n"
	if params != "" {
		text += "#   parameters:\n" + params
	}
	text += "package acme.policies." + pkg + "\n\n" + rules + "\n"
	return Module{File: id + ".rego", Text: text}
}

// Every policy of one query reads its own parameters, whether the set
// evaluates them together (parameters rewritten to
// input.fluxgate_parameters) or one by one (a library reads
// input.parameters, which then must differ per policy).
func TestEachPolicyReadsItsOwnParameters(t *testing.T) {
	policies := []Module{
		module("first", "Deployment", "#     limit: 1\n", `deny contains sprintf("limit %v", [input.parameters.limit]) if true`),
		module("second", "Deployment", "#     limit: 2\n", `deny contains sprintf("limit %v", [input.parameters.limit]) if true
warn contains sprintf("nested %v", [object.get(input, ["parameters", "limit"], "none")]) if true`),
	}
	library := Module{File: "lib.rego", Text: "package acme.lib\n\nlimit := input.parameters.limit\n"}
	for _, tc := range []struct {
		name     string
		modules  []Module
		combined bool
	}{
		{"one query", policies, true},
		{"a library reads input.parameters", append([]Module{library}, policies...), false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			set, err := Compile(context.Background(), tc.modules)
			if err != nil {
				t.Fatal(err)
			}
			if set.parametersInInput == tc.combined {
				t.Fatalf("parametersInInput = %v", set.parametersInInput)
			}
			eng, err := NewEngine(set, &Config{Policies: map[string]PolicyConfig{"second": {Parameters: map[string]any{"limit": 3}}}})
			if err != nil {
				t.Fatal(err)
			}
			d, err := eng.Validate(context.Background(), request(deployment("apps", 1, nil, nil)))
			if err != nil {
				t.Fatal(err)
			}
			got := strings.Join(summary(d), "\n")
			// object.get(input, ["parameters", ...]) reads input as a
			// whole: the rewrite cannot see it, so it finds nothing when
			// the policies share one query (docs/policies.md says so).
			nested := "3"
			if tc.combined {
				nested = "none"
			}
			want := "deny first: limit 1\ndeny second: limit 3\nwarn second: nested " + nested
			if got != want {
				t.Errorf("findings:\n%s\nwant:\n%s", got, want)
			}
		})
	}
}

// A policy's patch sees the object as the policies before it (by id)
// patched it, although the engine evaluates them together.
func TestMutationSeesEarlierPatches(t *testing.T) {
	set, err := Compile(context.Background(), []Module{
		module("a-label", "Deployment", "", `patch contains {"op": "add", "path": "/metadata/labels", "value": {"a": "1"}} if not input.request.object.metadata.labels`),
		module("b-follows", "Deployment", "", `patch contains {"op": "add", "path": "/metadata/annotations", "value": {"saw": input.request.object.metadata.labels.a}} if not input.request.object.metadata.annotations`),
		module("c-replicas", "Deployment", "", `patch contains {"op": "replace", "path": "/spec/replicas", "value": 2} if input.request.object.spec.replicas == 1`),
		module("d-none", "Deployment", "", `patch contains {"op": "replace", "path": "/spec/replicas", "value": 9} if input.request.object.spec.replicas == 1`),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	d, err := eng.Mutate(context.Background(), request(deployment("apps", 1, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	var paths []string
	for _, op := range d.Patch {
		paths = append(paths, op.Path)
	}
	if got := strings.Join(paths, " "); got != "/metadata/labels /metadata/annotations /spec/replicas" {
		t.Fatalf("patch paths = %s, findings %q", got, summary(d))
	}
	if saw := d.Mutated["metadata"].(map[string]any)["annotations"].(map[string]any)["saw"]; saw != "1" {
		t.Errorf("b-follows saw label %v, want a-label's 1", saw)
	}
	if r := d.Mutated["spec"].(map[string]any)["replicas"]; fmt.Sprint(r) != "2" {
		t.Errorf("replicas = %v: d-none must see c-replicas' 2 and do nothing", r)
	}
}

// An error in one policy of a combined query names that policy.
func TestEvaluationErrorNamesThePolicy(t *testing.T) {
	set, err := Compile(context.Background(), []Module{
		module("calm", "Deployment", "", `deny contains "calm" if false`),
		module("conflict", "Deployment", "", "v := 1 if input.request.object.spec.replicas > 0\n\nv := 2 if input.request.object.spec.replicas > 0\n\ndeny contains \"x\" if v"),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	_, err = eng.Validate(context.Background(), request(deployment("apps", 1, nil, nil)))
	if err == nil || !strings.Contains(err.Error(), "policy conflict: evaluate") {
		t.Fatalf("err = %v, want it to name policy conflict", err)
	}
}
