package policy

import (
	"context"
	"encoding/json"
	"os"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"

	"github.com/fluxgate/fluxgate/policy/planeval"
)

// The Go built-ins decide as the Rego they replaced
// (testdata/builtins/reference.rego) on every combination of a corpus of
// selectors, well formed and not, and label sets; and likewise for
// IntOrString values: called by OPA's interpreter, and by the plan
// evaluator on the values as they are.
func TestBuiltinsMatchRego(t *testing.T) {
	for _, target := range []string{"rego", planeval.Target} {
		t.Run(target, func(t *testing.T) { builtinsMatchRego(t, target) })
	}
}

func builtinsMatchRego(t *testing.T, target string) {
	ref, err := os.ReadFile("testdata/builtins/reference.rego")
	if err != nil {
		t.Fatal(err)
	}
	pq, err := rego.New(
		rego.Query(`sel := [x | x := data.reference.matches(input.sel, input.labels)]; go := fluxgate.label_selector_matches(input.sel, input.labels); sc := [x | x := data.reference.scaled(input.value, input.total)]; gs := [x | x := fluxgate.int_or_percent_scaled(input.value, input.total)]`),
		rego.Module("reference.rego", string(ref)),
		rego.SetRegoVersion(ast.RegoV1),
		rego.Target(target),
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var selectors, labelSets, values []any
	for _, raw := range []string{
		`null`, `{}`, `"app=web"`, `[]`,
		`{"matchLabels": {"app": "web"}}`, `{"matchLabels": {"app": "web", "tier": "front"}}`, `{"matchLabels": null}`, `{"matchLabels": []}`, `{"matchLabels": {"n": 1}}`,
		`{"matchExpressions": []}`, `{"matchExpressions": null}`, `{"matchExpressions": {}}`, `{"matchExpressions": ["x"]}`,
		`{"matchExpressions": [{"key": "app", "operator": "In", "values": ["web", "api"]}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "In", "values": []}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "In", "values": "web"}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "NotIn", "values": ["web"]}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "NotIn", "values": []}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "NotIn"}]}`,
		`{"matchExpressions": [{"operator": "NotIn", "values": ["web"]}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "Exists"}]}`,
		`{"matchExpressions": [{"operator": "Exists"}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "DoesNotExist"}]}`,
		`{"matchExpressions": [{"key": 1, "operator": "DoesNotExist"}]}`,
		`{"matchExpressions": [{"operator": "DoesNotExist"}]}`,
		`{"matchExpressions": [{"key": "app", "operator": "Gt", "values": ["1"]}]}`,
		`{"matchExpressions": [{"key": "app", "operator": 1}]}`,
		`{"matchLabels": {"tier": "front"}, "matchExpressions": [{"key": "app", "operator": "Exists"}]}`,
	} {
		selectors = append(selectors, decode(t, raw))
	}
	for _, raw := range []string{`{}`, `null`, `[]`, `{"app": "web"}`, `{"app": "api", "tier": "front"}`, `{"app": "web", "tier": "front"}`, `{"n": 1}`, `{"tier": "front"}`} {
		labelSets = append(labelSets, decode(t, raw))
	}
	for _, raw := range []string{`0`, `1`, `3`, `-1`, `1.5`, `"25%"`, `"0%"`, `"100%"`, `"33%"`, `"x%"`, `"25"`, `"%"`, `" 5%"`, `null`, `true`} {
		values = append(values, decode(t, raw))
	}
	for _, sel := range selectors {
		for _, labels := range labelSets {
			for i, total := range []any{0, 1, 3, 7, 10} {
				value := values[i%len(values)]
				rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"sel": sel, "labels": labels, "value": value, "total": total}))
				if err != nil || len(rs) != 1 {
					t.Fatalf("%v %v: %v %v", sel, labels, rs, err)
				}
				b := rs[0].Bindings
				want := len(b["sel"].([]any)) > 0
				if got := b["go"].(bool); got != want {
					t.Errorf("selector %v on labels %v: built-in %v, Rego %v", sel, labels, got, want)
				}
				if got, want := mustJSON(t, b["gs"]), mustJSON(t, b["sc"]); got != want {
					t.Errorf("scaled(%v, %v): built-in %s, Rego %s", value, total, got, want)
				}
			}
		}
	}
	for _, value := range values {
		for _, total := range []any{0, 1, 2, 3, 7, 10, 101} {
			rs, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"sel": nil, "labels": nil, "value": value, "total": total}))
			if err != nil || len(rs) != 1 {
				t.Fatal(rs, err)
			}
			if got, want := mustJSON(t, rs[0].Bindings["gs"]), mustJSON(t, rs[0].Bindings["sc"]); got != want {
				t.Errorf("scaled(%v, %v): built-in %s, Rego %s", value, total, got, want)
			}
		}
	}
}

func decode(t *testing.T, raw string) any {
	t.Helper()
	var v any
	if err := json.Unmarshal([]byte(raw), &v); err != nil {
		t.Fatal(err)
	}
	return v
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}
