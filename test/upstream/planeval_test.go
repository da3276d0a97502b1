package upstream

import (
	"context"
	"encoding/json"
	"fmt"
	"path/filepath"
	"testing"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// TestPlanEvaluatorMatchesInterpreter holds the engine's evaluator (OPA's
// plan of each query, evaluated by policy/planeval) to OPA's interpreter
// on every object of the corpus: the same findings, messages and patches,
// in the same order, for a create, an update and a delete, with and
// without a maintenance in progress (which change-freeze reads).
func TestPlanEvaluatorMatchesInterpreter(t *testing.T) {
	c := loadCorpus(t)
	ctx := context.Background()
	set, cfg, err := builtinSet(ctx)
	if err != nil {
		t.Fatal(err)
	}
	planned, err := policy.NewEngine(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	interpreted, err := policy.NewInterpretingEngine(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	maintenance := policy.Maintenance{Active: true, Guards: []policy.MaintenanceGuard{{Name: "nodes", Phase: "Paused", Signals: []string{"NodeCordoned"}}}}
	// The corpus, and the repository's own examples, which break most
	// rules on purpose.
	type source struct {
		name string
		objs []manifest.Object
	}
	var sources []source
	for i := range c.list.Sources {
		s := &c.list.Sources[i]
		objs, err := c.objects(ctx, s)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{s.Name, objs})
	}
	for _, dir := range []string{"examples/apps", "test/testdata/cli/exempt.yaml", "test/testdata/cli/warn-rollout.yaml", "test/testdata/cli/unknown-kinds.yaml", "test/testdata/fleet"} {
		objs, err := manifest.LoadPaths([]string{filepath.Join(c.root, dir)}, nil)
		if err != nil {
			t.Fatal(err)
		}
		sources = append(sources, source{dir, objs})
	}
	compared, findings := 0, 0
	for _, s := range sources {
		objs := s.objs
		related, err := relatedByNamespace(objs)
		if err != nil {
			t.Fatal(err)
		}
		for j := range objs {
			obj := &objs[j]
			for _, op := range []policy.Operation{policy.OperationCreate, policy.OperationUpdate, policy.OperationDelete} {
				for _, maint := range []policy.Maintenance{{}, maintenance} {
					in := &policy.Input{Request: request(obj, op), Related: related[obj.Namespace()], Maintenance: maint, Complete: true}
					want, werr := interpreted.Review(ctx, in)
					got, gerr := planned.Review(ctx, in)
					what := fmt.Sprintf("%s: %s %s/%s, %s, maintenance %t", s.name, obj.Kind(), obj.Namespace(), obj.Name(), op, maint.Active)
					if (werr == nil) != (gerr == nil) {
						t.Errorf("%s: interpreter error %v, plan evaluator error %v", what, werr, gerr)
						continue
					}
					if a, b := decisionJSON(t, want), decisionJSON(t, got); a != b {
						t.Errorf("%s:\ninterpreter:    %s\nplan evaluator: %s", what, a, b)
					}
					compared++
					findings += len(want.Findings)
				}
			}
		}
	}
	if compared < 1000 || findings < 100 {
		t.Fatalf("compared %d reviews with %d findings: the corpus is too small to hold the evaluators to each other", compared, findings)
	}
	t.Logf("%d reviews, %d findings: the same from both evaluators", compared, findings)
}

func request(obj *manifest.Object, op policy.Operation) policy.Request {
	r := policy.Request{
		Operation: op,
		Kind:      policy.KindOf(obj.APIVersion(), obj.Kind()),
		Namespace: obj.Namespace(),
		Name:      obj.Name(),
		UserInfo:  policy.UserInfo{Username: "system:serviceaccount:flux-system:kustomize-controller"},
	}
	switch op {
	case policy.OperationCreate:
		r.Object = obj.Data
	case policy.OperationUpdate:
		r.Object, r.OldObject = obj.Data, obj.Data
	case policy.OperationDelete:
		r.OldObject = obj.Data
	}
	return r
}

func relatedByNamespace(objs []manifest.Object) (map[string]*policy.Related, error) {
	byNS := map[string][]map[string]any{}
	for _, o := range objs {
		byNS[o.Namespace()] = append(byNS[o.Namespace()], o.Data)
	}
	out := make(map[string]*policy.Related, len(byNS))
	for ns, members := range byNS {
		r, err := policy.NewRelated(members...)
		if err != nil {
			return nil, fmt.Errorf("namespace %q: %w", ns, err)
		}
		out[ns] = r
	}
	return out, nil
}

// decisionJSON renders what a decision says, numbers the same whichever
// Go type carries them.
func decisionJSON(t *testing.T, d *policy.Decision) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Skipped  string           `json:"skipped"`
		Findings []policy.Finding `json:"findings"`
		Patch    []policy.PatchOp `json:"patch"`
		Mutated  map[string]any   `json:"mutated"`
	}{d.Skipped, d.Findings, d.Patch, d.Mutated})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
