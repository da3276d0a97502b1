package policy

import (
	"context"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"
)

// The plan evaluator and OPA's interpreter decide alike on objects no
// one wrote on purpose: the benchmark Deployment and its budget and
// autoscaler with a field removed or replaced by a value of another type
// (null, a number, a string, a boolean, an array, an object), one to
// three changes at a time, seeded so that a failure reproduces. This is
// where built-in type errors, undefined values and the natives' edges
// meet.
func TestPlanEvaluatorMatchesInterpreterOnDamagedObjects(t *testing.T) {
	set := builtinEngine(t).Set()
	planned, err := NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	interpreted, err := NewInterpretingEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	originals := readObjects(t, "testdata/bench/related.yaml")
	dep := readObjects(t, "testdata/bench/deployment.yaml")[0]
	rng := rand.New(rand.NewPCG(12, 2026))
	ctx := context.Background()
	compared, decisions := 0, map[string]bool{}
	for i := range 2000 {
		// Damage the Deployment, or one of its related objects.
		objs := append([]map[string]any{dep}, originals...)
		target := rng.IntN(len(objs))
		damaged := deepCopy(objs[target]).(map[string]any)
		var changes []string
		for range 1 + rng.IntN(3) {
			changes = append(changes, damage(rng, damaged))
		}
		objs[target] = damaged
		related, err := NewRelated(objs[1:]...)
		if err != nil {
			t.Fatal(err)
		}
		in := &Input{Request: Request{
			Operation: OperationCreate,
			Kind:      GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"},
			Namespace: "apps", Name: "podinfo", Object: objs[0],
		}, Related: related}
		want, werr := interpreted.Review(ctx, in)
		got, gerr := planned.Review(ctx, in)
		what := fmt.Sprintf("case %d, object %d: %v", i, target, changes)
		if (werr == nil) != (gerr == nil) {
			t.Fatalf("%s: interpreter error %v, plan evaluator error %v", what, werr, gerr)
		}
		if werr != nil {
			continue
		}
		a, b := decisionText(t, want), decisionText(t, got)
		if a != b {
			t.Fatalf("%s:\ninterpreter:    %s\nplan evaluator: %s", what, a, b)
		}
		compared++
		decisions[a] = true
	}
	// Run with 20,000 cases and three other seeds when written: equal too.
	if compared < 1800 || len(decisions) < 20 {
		t.Fatalf("%d of 2000 damaged objects compared, %d different decisions: too few to hold the evaluators to each other", compared, len(decisions))
	}
	t.Logf("%d damaged objects, %d different decisions: the same from both evaluators", compared, len(decisions))
}

func decisionText(t *testing.T, d *Decision) string {
	t.Helper()
	b, err := json.Marshal(struct {
		Skipped  string    `json:"skipped"`
		Findings []Finding `json:"findings"`
		Patch    []PatchOp `json:"patch"`
	}{d.Skipped, d.Findings, d.Patch})
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// damage removes a field of obj or gives it a value of another type, at a
// random depth, and says what it did.
func damage(rng *rand.Rand, obj map[string]any) string {
	path := ""
	var cur any = obj
	for {
		switch c := cur.(type) {
		case map[string]any:
			if len(c) == 0 {
				return path + ": empty"
			}
			keys := make([]string, 0, len(c))
			for k := range c {
				keys = append(keys, k)
			}
			slices.Sort(keys)
			k := keys[rng.IntN(len(keys))]
			// Most rules read the spec: damage it more often.
			if _, ok := c["spec"]; ok && rng.IntN(10) < 7 {
				k = "spec"
			}
			path += "." + k
			if rng.IntN(3) == 0 || !isContainer(c[k]) {
				if rng.IntN(4) == 0 {
					delete(c, k)
					return path + ": removed"
				}
				c[k] = randomValue(rng)
				return fmt.Sprintf("%s: %v", path, c[k])
			}
			cur = c[k]
		case []any:
			if len(c) == 0 {
				return path + ": empty"
			}
			i := rng.IntN(len(c))
			path += fmt.Sprintf("[%d]", i)
			if rng.IntN(3) == 0 || !isContainer(c[i]) {
				c[i] = randomValue(rng)
				return fmt.Sprintf("%s: %v", path, c[i])
			}
			cur = c[i]
		default:
			return path + ": leaf"
		}
	}
}

func isContainer(v any) bool {
	switch v.(type) {
	case map[string]any, []any:
		return true
	}
	return false
}

func randomValue(rng *rand.Rand) any {
	switch rng.IntN(9) {
	case 0:
		return nil
	case 1:
		return float64(rng.IntN(5))
	case 2:
		return -1.5
	case 3:
		return "25%"
	case 4:
		return "x"
	case 5:
		return rng.IntN(2) == 0
	case 6:
		return []any{"a", 1.0}
	case 7:
		return map[string]any{}
	}
	return map[string]any{"name": "x", "value": 2.0}
}

func deepCopy(v any) any {
	switch v := v.(type) {
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			out[k] = deepCopy(e)
		}
		return out
	case []any:
		out := make([]any, len(v))
		for i, e := range v {
			out[i] = deepCopy(e)
		}
		return out
	}
	return v
}
