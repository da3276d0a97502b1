package policy

import (
	"context"
	"fmt"
	"slices"
	"testing"
)

// The decision cache answers a request that policies would see exactly as
// before, and evaluates again whenever anything they see differs.
func TestDecisionCacheKeysOnWhatPoliciesSee(t *testing.T) {
	pdb := func(min any) map[string]any {
		return map[string]any{"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
			"metadata": map[string]any{"name": "web", "namespace": "apps"},
			"spec":     map[string]any{"minAvailable": min, "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}}
	}
	base := func() *Input {
		in := request(deployment("apps", 3, nil, map[string]any{"team": "unknown"}))
		in.Request.UID = "first"
		in.Related, _ = NewRelated(pdb(1))
		return in
	}
	tests := []struct {
		name   string
		change func(in *Input)
		hit    bool
	}{
		{"the same request", func(*Input) {}, true},
		{"another uid", func(in *Input) { in.Request.UID = "second" }, true},
		{"managedFields differ", func(in *Input) {
			in.Request.Object["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "kubectl"}}
		}, true},
		{"the related objects rebuilt alike", func(in *Input) { in.Related, _ = NewRelated(pdb(1)) }, true},
		{"a label", func(in *Input) {
			in.Request.Object["metadata"].(map[string]any)["labels"] = map[string]any{"team": "b"}
		}, false},
		{"replicas", func(in *Input) { in.Request.Object["spec"] = map[string]any{"replicas": 4} }, false},
		{"a related budget", func(in *Input) { in.Related, _ = NewRelated(pdb(2)) }, false},
		{"no related objects", func(in *Input) { in.Related = nil }, false},
		{"maintenance", func(in *Input) { in.Maintenance.Active = true }, false},
		{"a release", func(in *Input) {
			in.Maintenance.Releases = []FluxObject{{Kind: "Kustomization", Namespace: "flux-system", Name: "apps"}}
		}, false},
		{"operation", func(in *Input) { in.Request.Operation = OperationUpdate }, false},
		{"user", func(in *Input) { in.Request.UserInfo.Username = "someone" }, false},
		{"groups", func(in *Input) { in.Request.UserInfo.Groups = []string{"system:masters"} }, false},
		{"dry run", func(in *Input) { in.Request.DryRun = true }, false},
		{"completeness", func(in *Input) { in.Complete = false }, false},
		{"an old object", func(in *Input) { in.Request.OldObject = deployment("apps", 2, nil, nil) }, false},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			eng := testEngine(t, nil)
			first, err := eng.Validate(context.Background(), base())
			if err != nil {
				t.Fatal(err)
			}
			// A caller editing its decision in place must not change the
			// cached one.
			if len(first.Findings) == 0 {
				t.Fatal("the base request must have findings for the edit below to mean anything")
			}
			first.Findings[0].Policy = "edited"
			in := base()
			tc.change(in)
			d, err := eng.Validate(context.Background(), in)
			if err != nil {
				t.Fatal(err)
			}
			if hits, _ := eng.CacheStats(); (hits == 1) != tc.hit {
				t.Fatalf("cache hits = %d, want hit %v", hits, tc.hit)
			}
			for _, f := range d.Findings {
				if f.Policy == "edited" {
					t.Fatal("the cached decision was changed through a caller's copy")
				}
			}
		})
	}
}

// Mutation, validation and review of the same request are cached apart.
func TestDecisionCacheSeparatesPhases(t *testing.T) {
	eng := testEngine(t, nil)
	ctx := context.Background()
	in := request(deployment("apps", 3, nil, nil))
	m, err := eng.Mutate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	v, err := eng.Validate(ctx, in)
	if err != nil {
		t.Fatal(err)
	}
	if len(m.Patch) == 0 || len(v.Patch) != 0 {
		t.Fatalf("mutate patch %v, validate patch %v", m.Patch, v.Patch)
	}
	if hits, misses := eng.CacheStats(); hits != 0 || misses != 2 {
		t.Fatalf("hits %d misses %d", hits, misses)
	}
}

// Concurrent reviews of the same and of different objects, while the
// cache fills and queries are prepared, give the decisions a lone review
// gives (run under the race detector by make test).
func TestEngineConcurrentReviews(t *testing.T) {
	eng := testEngine(t, nil)
	alone := testEngine(t, nil)
	ctx := context.Background()
	inputs := make([]*Input, 8)
	want := make([][]string, len(inputs))
	for i := range inputs {
		inputs[i] = request(deployment("apps", i%3+1, nil, map[string]any{"team": string(rune('a' + i%2))}))
		d, err := alone.Review(ctx, inputs[i])
		if err != nil {
			t.Fatal(err)
		}
		want[i] = summary(d)
	}
	errs := make(chan error, 64)
	for g := range 64 {
		go func() {
			i := g % len(inputs)
			d, err := eng.Review(ctx, inputs[i])
			if err == nil && !slices.Equal(summary(d), want[i]) {
				err = fmt.Errorf("input %d: %q, want %q", i, summary(d), want[i])
			}
			errs <- err
		}()
	}
	for range 64 {
		if err := <-errs; err != nil {
			t.Error(err)
		}
	}
}
