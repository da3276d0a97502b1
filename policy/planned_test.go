package policy

import (
	"context"
	"strings"
	"testing"
)

// Every query of the built-in set is planned: none falls back to OPA's
// interpreter.
func TestBuiltinSetIsPlanned(t *testing.T) {
	if slow := builtinEngine(t).Interpreted(); len(slow) > 0 {
		t.Fatalf("interpreted: %v", slow)
	}
}

// A custom policy OPA's planner cannot plan (a rule reading rules of its
// own path prefix) still works: its query runs on OPA's interpreter, the
// engine says why, and the findings are OPA's. The other policies of its
// kinds stay planned.
func TestUnplannableQueryFallsBackToTheInterpreter(t *testing.T) {
	set, err := Compile(context.Background(), []Module{
		module("prefix", "Deployment", "", `items[k] := 1 if { some k in ["a"] }

items["b"] := v if { v := items.a + 1 }

deny contains sprintf("b is %d", [items.b]) if input.request.object.spec.replicas == 1`),
		module("plain", "Deployment", "", `deny contains "one replica" if input.request.object.spec.replicas == 1`),
	})
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	slow := eng.Interpreted()
	if len(slow) != 1 || !strings.Contains(slow[0], "policy prefix, validate") || !strings.Contains(slow[0], "rules sharing that path prefix") {
		t.Fatalf("interpreted: %q, want the planner's reason for policy prefix alone", slow)
	}
	d, err := eng.Validate(context.Background(), request(deployment("apps", 1, nil, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if got, want := strings.Join(summary(d), "\n"), "deny plain: one replica\ndeny prefix: b is 2"; got != want {
		t.Fatalf("findings:\n%s\nwant:\n%s", got, want)
	}
}
