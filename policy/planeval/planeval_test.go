package planeval

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// evaluators runs module and query with OPA's interpreter and with this
// package, on the same input.
func bothTargets(t *testing.T, module, query string, input any, more ...string) (interpreted, planned rego.ResultSet, ierr, perr error) {
	t.Helper()
	ctx := context.Background()
	run := func(target string) (rego.ResultSet, error) {
		opts := []func(*rego.Rego){rego.Query(query), rego.Module("test.rego", module), rego.StrictBuiltinErrors(false)}
		for i, m := range more {
			opts = append(opts, rego.Module(fmt.Sprintf("more%d.rego", i), m))
		}
		if target != "" {
			opts = append(opts, rego.Target(target))
		}
		pq, err := rego.New(opts...).PrepareForEval(ctx)
		if err != nil {
			t.Fatalf("prepare for %q: %v", target, err)
		}
		return pq.Eval(ctx, rego.EvalInput(input))
	}
	interpreted, ierr = run("")
	planned, perr = run(Target)
	return interpreted, planned, ierr, perr
}

func resultJSON(t *testing.T, rs rego.ResultSet) string {
	t.Helper()
	var out []any
	for _, r := range rs {
		out = append(out, r.Bindings)
	}
	b, err := json.Marshal(out)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestSemanticsMatchOPA evaluates Rego constructs whose plans exercise
// every statement the planner emits (blocks and breaks, scans over every
// collection, negation, with, else chains, comprehensions, every, memoized
// rules, functions) and the value model's edges (number forms, null,
// ordering of sets and objects, undefined built-ins), and requires OPA's
// interpreter's result.
func TestSemanticsMatchOPA(t *testing.T) {
	input := map[string]any{
		"s":      "héllo",
		"n":      3,
		"f":      2.5,
		"big":    json.Number("9007199254740993"),
		"null":   nil,
		"t":      true,
		"arr":    []any{3, "b", nil, 1.5, map[string]any{"k": "v"}, []any{2, 1}},
		"obj":    map[string]any{"b": 2, "a": 1, "c": map[string]any{"d": []any{"x", "y"}}},
		"labels": map[string]any{"app": "web", "tier": "front"},
		"empty":  map[string]any{},
	}
	cases := []struct{ name, rules string }{
		{"dot and undefined", `r := [input.obj.c.d[1], object.get(input, ["obj", "c", "zz"], "dflt"), object.get(input.obj, "a", 0)]
u := input.nope.deeper`},
		{"arrays by index", `r := [input.arr[0], input.arr[2], input.arr[4].k, input.arr[5][1]]
u := input.arr[9]`},
		{"scan array", `r := [x | some x in input.arr]`},
		{"scan object in key order", `r := [[k, v] | some k, v in input.obj]`},
		{"scan set in order", `s := {"b", "a", 3, null, false, [1], {"k": 1}}
r := [x | some x in s]`},
		{"object comprehension", `r := {k: v | some k, v in input.labels; k != "tier"}`},
		{"set comprehension with duplicates", `r := {y | some x in [1, 2, 3, 4, 5]; y := x % 2}`},
		{"negation", `r := true if { not input.obj.zz; not input.t == false }`},
		{"every", `a if { every x in [1, 2] { x > 0 } }
b if { every x in input.empty { x == 1 } }
c if { every x in [1, 2] { x > 1 } }
d if { every k, v in input.labels { is_string(k); v != "" } }
r := [a, b, d]`},
		{"else chain", `f(x) := "neg" if { x < 0 } else := "zero" if { x == 0 } else := "pos"
r := [f(-1), f(0), f(input.n)]`},
		{"function with undefined", `g(x) := x * 2 if x > 1
r := [g(input.n)]
u := g(1)`},
		{"partial set and object rules", `ps contains x if { some x in input.arr; is_number(x) }
po[k] := v if { some k, v in input.labels }
r := [ps, po]`},
		{"default", `default d := "fallback"
d := "set" if input.nope
r := d`},
		{"with input", `inner := input.n
a := x if { x := inner with input as {"n": 7} }
b := x if { x := inner with input.n as 9 }
c := inner
deep := input.obj.c.d
e := x if { x := deep with input.obj.c.d as "replaced" }
f := x if { x := deep with input.nope.deeper as 1 }
r := [a, b, c, e, f, input.obj.c.d]`},
		{"numbers", `r := [1 == 1.0, input.n + 1, input.f * 2, 7 / 2, 6 / 3, 1 / 3, 0.1 + 0.2, input.big + 0, floor(input.f), ceil(input.f), abs(-4), count(input.s), -0 == 0, 10 % 4, sum([1, 2, 3]), sum([0.5, 1]), max([1, "a", null]), min({3, 1, 2}), 4503599627370496 * 3, 9007199254740991 + 2, input.big - 1, input.big > 9007199254740992, {input.big, 9007199254740992}]`},
		{"comparisons across types", `r := [null < false, false < 0, 0 < "", "" < [], [] < {}, {} < set(), [1, 2] < [1, 3], [1] < [1, 0], {"a": 1} < {"a": 2}, {"a": 1} < {"b": 0}]`},
		{"equality of containers", `r := [input.labels == {"tier": "front", "app": "web"}, input.arr[5] == [2, 1], {1, 2} == {2, 1}, input.obj != input.labels]`},
		{"membership", `r := ["b" in input.arr, 9 in input.arr, "web" in input.labels, 1 in {1}, "x" in input.obj.c.d, ["a", 1] in {["a", 1]}]
m3 := [1, "b"] in [input.arr]`},
		{"strings and sprintf", `r := [sprintf("%v and %d and %s", [input.arr, input.n, input.s]), concat(",", [x | some x in {"z", "y"}]), trim_suffix("25%", "%"), to_number("12"), regex.match("^a+$", "aaa"), upper(input.s)]`},
		{"builtin errors are undefined", `r := [x | x := to_number("nope")]
u := count(input.n)
v := 1 / 0`},
		{"sort and set operations", `r := [sort(["b", "a"]), {1, 2, 3} - {2}, {1, 2} | {3}, {1, 2} & {2, 3}, array.concat([1], [2]), object.keys(input.labels)]`},
		{"null in input", `r := [input.null == null, is_null(input.arr[2]), [k | some k, v in input; v == null]]`},
		{"type checks", `r := [is_object(input.obj), is_object(input.arr), is_string(input.s), is_number(input.big), is_array(input.arr), is_set({1}), is_boolean(input.t)]`},
		{"walk and json", `r := [json.marshal(input.obj), [p | walk(input.obj.c, [p, _])]]`},
		{"memoized rule read twice", `base := {x | some x in input.arr; is_number(x)}
r := [count(base), base]`},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			module := "package test\n\n" + c.rules + "\n"
			query := "x := data.test"
			want, got, werr, gerr := bothTargets(t, module, query, input)
			if (werr == nil) != (gerr == nil) {
				t.Fatalf("interpreter error %v, plan evaluator error %v", werr, gerr)
			}
			w, g := resultJSON(t, want), resultJSON(t, got)
			if w != g {
				t.Errorf("results differ\ninterpreter:    %s\nplan evaluator: %s", w, g)
			}
			// Every case defines r, so that no difference hides in an
			// undefined result.
			if len(want) != 1 || want[0].Bindings == nil {
				t.Fatalf("no result: %s", w)
			}
			if _, ok := want[0].Bindings["x"].(map[string]any)["r"]; !ok {
				t.Errorf("r is undefined: %s", w)
			}
			if testing.Verbose() {
				t.Logf("%s", w)
			}
		})
	}
}

// TestDynamicDataReferences reads rules of another package through a
// key known only at evaluation (a CallDynamicStmt), and falls back to
// undefined for keys no rule has.
func TestDynamicDataReferences(t *testing.T) {
	sub := "package test.sub\n\na := 1\n\nb contains x if some x in [1, 2]\n\nf(x) := x\n"
	module := `package test

r := [data.test.sub[k] | some k in ["a", "b", "zz"]]

s := {k: v | some k in input.keys; v := data.test.sub[k]}
`
	want, got, werr, gerr := bothTargets(t, module, "x := data.test", map[string]any{"keys": []any{"a", "nope"}}, sub)
	if werr != nil || gerr != nil {
		t.Fatalf("interpreter error %v, plan evaluator error %v", werr, gerr)
	}
	if w, g := resultJSON(t, want), resultJSON(t, got); w != g {
		t.Errorf("results differ\ninterpreter:    %s\nplan evaluator: %s", w, g)
	}
}

// TestConflictsAreErrors: rules that produce two values fail the
// evaluation, located at the rule, as in OPA.
func TestConflictsAreErrors(t *testing.T) {
	for name, rules := range map[string]string{
		"complete rule": "v := 1 if input.x\nv := 2 if input.x",
		"object rule":   "o[k] := 1 if { k := \"a\"; input.x }\no[k] := 2 if { k := \"a\"; input.x }",
		"function":      "f(_) := 1\nf(_) := 2\nv := f(1)",
	} {
		t.Run(name, func(t *testing.T) {
			_, _, werr, gerr := bothTargets(t, "package test\n\n"+rules+"\n", "data.test", map[string]any{"x": true})
			if werr == nil || gerr == nil {
				t.Fatalf("interpreter error %v, plan evaluator error %v: want both", werr, gerr)
			}
			var te *topdown.Error
			if !errors.As(gerr, &te) || te.Code != topdown.ConflictErr || te.Location == nil || te.Location.File != "test.rego" {
				t.Fatalf("plan evaluator error %#v, want a located conflict", gerr)
			}
		})
	}
}

// TestCancelled stops an evaluation whose context ends.
func TestCancelled(t *testing.T) {
	compiler := ast.MustCompileModules(map[string]string{"test.rego": `package test

r := [x | some i in numbers.range(1, 200000); x := i * 2]
`})
	p, err := Prepare(context.Background(), compiler, "x := data.test.r")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if _, err := p.First(ctx, map[string]any{}); err == nil || !strings.Contains(err.Error(), "cancel") {
		t.Fatalf("err = %v, want cancellation", err)
	}
}

// TestValueOrderMatchesOPA compares, hashes and renders values as OPA
// does.
func TestValueOrderMatchesOPA(t *testing.T) {
	obj := newObject()
	obj.insert("b", 1.0)
	obj.insert(2.0, "x")
	st := &set{}
	for _, e := range []any{"b", 1.0, null{}} {
		st.add(e)
	}
	values := []any{
		null{}, false, true, -1.5, 0.0, 1.0, 3.0, "", "a", "b", "é",
		[]any{}, []any{1.0}, []any{1.0, 2.0}, []any{2.0},
		map[string]any{}, map[string]any{"a": 1.0}, map[string]any{"a": 2.0}, map[string]any{"b": 0.0}, map[string]any{"a": 1.0, "b": 0.0},
		obj, st, &set{},
	}
	for _, a := range values {
		for _, b := range values {
			want := ast.Compare(toAST(a), toAST(b))
			got := compare(a, b)
			if sign(want) != sign(got) {
				t.Errorf("compare(%s, %s) = %d, OPA %d", show(a), show(b), got, want)
			}
			if equal(a, b) != (want == 0) {
				t.Errorf("equal(%s, %s) = %t, OPA compares %d", show(a), show(b), equal(a, b), want)
			}
			if want == 0 && hashOf(a) != hashOf(b) {
				t.Errorf("equal values %s and %s hash differently", show(a), show(b))
			}
		}
	}
	// A map and a plan-built object with the same members are equal.
	built := newObject()
	built.insert("a", 1.0)
	if !equal(built, map[string]any{"a": 1}) || hashOf(built) != hashOf(map[string]any{"a": 1}) {
		t.Error("an object built by the plan differs from the same input object")
	}
}

// TestNativesMatchOPA calls every native built-in and OPA's on every
// combination of a pool of arguments of every type (numbers integral and
// not, beyond 2^53 and not held by a float64, strings that are patterns
// and percentages, containers of the input and of the plan), including
// the cases a native hands over to OPA.
func TestNativesMatchOPA(t *testing.T) {
	st := &set{}
	for _, e := range []any{3.0, 1.0, "a"} {
		st.add(e)
	}
	built := newObject()
	built.insert("a", 1.0)
	built.insert(2.0, "x")
	pool := []any{
		null{}, true, false, 0.0, 1.0, 2.0, 3.0, 7.0, 100.0, 240.0, -1.5, 2.5, 9007199254740992.0, ast.Number("9007199254740993"),
		"", "a", "b", "x", "25%", "^a+$", "(",
		[]any{}, []any{1.0, 2.0}, []any{"b", "a", null{}}, []any{"a", "b"},
		map[string]any{}, map[string]any{"a": 1.0, "k": "x"}, map[string]any{"a": map[string]any{"b": 1.0}},
		st, &set{}, built,
	}
	ev := &evaluator{ctx: context.Background(), bctx: topdown.BuiltinContext{Context: context.Background(), Metrics: noMetrics}}
	for name, nat := range natives {
		opa, decl := topdown.GetBuiltin(name), ast.BuiltinMap[name]
		if opa == nil || decl == nil {
			t.Fatalf("native %s has no OPA built-in", name)
		}
		var combos [][]any
		var build func(prefix []any)
		build = func(prefix []any) {
			if len(prefix) == decl.Decl.Arity() {
				combos = append(combos, slices.Clone(prefix))
				return
			}
			for _, v := range pool {
				build(append(prefix, v))
			}
		}
		build(nil)
		for _, a := range combos {
			got, gerr := (&builtin{name: name, native: nat, opa: opa}).call(ev, a)
			want, werr := (&builtin{name: name, opa: opa}).call(ev, a)
			if (gerr == nil) != (werr == nil) {
				t.Errorf("%s%s: error %v, OPA's %v", name, show(a), gerr, werr)
				continue
			}
			switch {
			case (got == nil) != (want == nil):
				t.Errorf("%s%s = %s, OPA's %s", name, show(a), show(got), show(want))
			case got != nil && !equal(got, want):
				t.Errorf("%s%s = %s, OPA's %s", name, show(a), show(got), show(want))
			}
		}
	}
}

func sign(n int) int {
	switch {
	case n < 0:
		return -1
	case n > 0:
		return 1
	}
	return 0
}

func show(x any) string {
	switch v := x.(type) {
	case nil:
		return "undefined"
	case []any:
		parts := make([]string, len(v))
		for i, e := range v {
			parts[i] = show(e)
		}
		return "(" + strings.Join(parts, ", ") + ")"
	}
	return fmt.Sprint(toAST(x))
}

// TestConcurrentEvaluations shares one Program between goroutines, as the
// webhook does: each evaluation sees only its own input.
func TestConcurrentEvaluations(t *testing.T) {
	compiler := ast.MustCompileModules(map[string]string{"test.rego": `package test

names contains sprintf("%s-%d", [input.name, i]) if some i in numbers.range(1, input.n)

total := count(names)
`})
	p, err := Prepare(context.Background(), compiler, "t := data.test.total; n := data.test.names")
	if err != nil {
		t.Fatal(err)
	}
	errs := make(chan error, 8)
	for g := range 8 {
		go func() {
			for i := range 200 {
				n := 1 + (g+i)%7
				res, err := p.First(context.Background(), map[string]any{"name": fmt.Sprint("g", g), "n": n})
				if err != nil {
					errs <- err
					return
				}
				total, _ := res.Var("t")
				names, _ := res.Var("n")
				if total != float64(n) || len(names.([]any)) != n || !strings.HasPrefix(names.([]any)[0].(string), fmt.Sprint("g", g, "-")) {
					errs <- fmt.Errorf("goroutine %d, n %d: total %v, names %v", g, n, total, names)
					return
				}
			}
			errs <- nil
		}()
	}
	for range 8 {
		if err := <-errs; err != nil {
			t.Fatal(err)
		}
	}
}

// TestPrintReachesTheTestRunner: print() output goes to the hook OPA's
// test runner gives, as with OPA's interpreter.
func TestPrintReachesTheTestRunner(t *testing.T) {
	var buf strings.Builder
	pq, err := rego.New(
		rego.Query("data.test.r"),
		rego.Module("test.rego", "package test\n\nr if {\n\tprint(\"seen\", input.x)\n}\n"),
		rego.EnablePrintStatements(true),
		rego.PrintHook(topdown.NewPrintHook(&buf)),
		rego.Target(Target),
	).PrepareForEval(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if _, err := pq.Eval(context.Background(), rego.EvalInput(map[string]any{"x": 1})); err != nil {
		t.Fatal(err)
	}
	if got := buf.String(); got != "seen 1\n" {
		t.Fatalf("printed %q", got)
	}
}
