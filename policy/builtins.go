package policy

import (
	"encoding/json"
	"fmt"
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"

	"github.com/fluxgate/fluxgate/policy/planeval"
)

// Two built-ins do in Go the arithmetic Rego does slowly on every review:
// matching a label selector (once per budget, Service and workload of the
// namespace) and resolving an IntOrString against a count. The library
// (rego/lib/selector.rego, rego/lib/intstr.rego) calls them, so policies
// and their tests keep using selector.matches and intstr.scaled; the
// library's Rego tests pin their semantics. They are pure, registered
// with OPA at start, so `fluxgate policy test` knows them (a plain `opa
// test` of rego/ does not).
var (
	selectorMatchesBuiltin = &rego.Function{
		Name:        "fluxgate.label_selector_matches",
		Description: "Reports whether a Kubernetes LabelSelector (matchLabels and matchExpressions) selects labels; a selector that is not an object, or malformed, selects nothing.",
		Decl:        types.NewFunction(types.Args(types.A, types.A), types.B),
	}
	scaledBuiltin = &rego.Function{
		Name:        "fluxgate.int_or_percent_scaled",
		Description: "Resolves a Kubernetes IntOrString (a non-negative integer, or a whole percentage such as \"25%\", rounded up) against a total; undefined when malformed.",
		Decl:        types.NewFunction(types.Args(types.A, types.A), types.N),
	}
)

func init() {
	rego.RegisterBuiltin2(selectorMatchesBuiltin, func(_ rego.BuiltinContext, sel, labels *ast.Term) (*ast.Term, error) {
		args, err := jsonArgs(sel, labels)
		if err != nil {
			return nil, err
		}
		return ast.BooleanTerm(selectorMatches(args[0], args[1])), nil
	})
	rego.RegisterBuiltin2(scaledBuiltin, func(_ rego.BuiltinContext, v, total *ast.Term) (*ast.Term, error) {
		args, err := jsonArgs(v, total)
		if err != nil {
			return nil, err
		}
		r, ok := scaled(args[0], args[1])
		if !ok {
			return nil, nil
		}
		return ast.NewTerm(ast.MustInterfaceToValue(r)), nil
	})
	// The plan evaluator calls them on the objects as they are.
	planeval.RegisterJSONBuiltin(selectorMatchesBuiltin.Name, func(args []any) (any, bool) {
		if len(args) != 2 {
			return nil, false
		}
		return selectorMatches(args[0], args[1]), true
	})
	planeval.RegisterJSONBuiltin(scaledBuiltin.Name, func(args []any) (any, bool) {
		if len(args) != 2 {
			return nil, false
		}
		return scaled(args[0], args[1])
	})
}

// jsonArgs converts OPA's operands to JSON values.
func jsonArgs(terms ...*ast.Term) ([]any, error) {
	out := make([]any, len(terms))
	for i, t := range terms {
		v, err := ast.JSON(t.Value)
		if err != nil {
			return nil, fmt.Errorf("convert argument %d: %w", i+1, err)
		}
		out[i] = v
	}
	return out, nil
}

// selectorMatches: a null or missing selector selects nothing while {}
// selects everything; absent and null matchLabels and matchExpressions
// select everything, values of the wrong type nothing.
func selectorMatches(selV, labelsV any) bool {
	sel, ok := selV.(map[string]any)
	if !ok {
		return false
	}
	labels, _ := labelsV.(map[string]any)
	if ml, ok := sel["matchLabels"]; ok && ml != nil {
		m, ok := ml.(map[string]any)
		if !ok {
			return false
		}
		for k, v := range m {
			if lv, ok := labels[k]; !ok || !sameJSON(lv, v) {
				return false
			}
		}
	}
	if me, ok := sel["matchExpressions"]; ok && me != nil {
		exprs, ok := me.([]any)
		if !ok {
			return false
		}
		for _, e := range exprs {
			if !expressionMatches(e, labels) {
				return false
			}
		}
	}
	return true
}

func expressionMatches(exprV any, labels map[string]any) bool {
	expr, ok := exprV.(map[string]any)
	if !ok {
		return false
	}
	op, ok := expr["operator"]
	if !ok {
		return false
	}
	key, hasKey := expr["key"]
	keyString, isString := key.(string)
	var label any
	hasLabel := false
	if isString {
		label, hasLabel = labels[keyString]
	}
	inValues := func() (in, valid bool) {
		vals, ok := expr["values"].([]any)
		if !ok {
			return false, false
		}
		if !hasLabel {
			return false, true
		}
		for _, v := range vals {
			if sameJSON(v, label) {
				return true, true
			}
		}
		return false, true
	}
	switch op {
	case "In":
		in, _ := inValues()
		return in
	case "NotIn":
		in, valid := inValues()
		return valid && !in
	case "Exists":
		return hasLabel
	case "DoesNotExist":
		return hasKey && isString && !hasLabel
	}
	return false
}

// sameJSON reports whether Rego sees two JSON values as equal: numbers by
// value, whatever their Go type.
func sameJSON(a, b any) bool {
	if fa, ok := jsonFloat(a); ok {
		fb, ok := jsonFloat(b)
		return ok && fa == fb
	}
	switch a.(type) {
	case string, bool, nil:
		return a == b
	}
	av, err := ast.InterfaceToValue(a)
	if err != nil {
		return false
	}
	bv, err := ast.InterfaceToValue(b)
	return err == nil && ast.Compare(av, bv) == 0
}

func jsonFloat(x any) (float64, bool) {
	switch v := x.(type) {
	case float64:
		return v, true
	case json.Number:
		f, err := v.Float64()
		return f, err == nil
	}
	return 0, false
}

var wholePercent = regexp.MustCompile(`^[0-9]+%$`)

// scaled resolves v against total, rounding percentages up as Kubernetes
// does for both fields of a PodDisruptionBudget; false (undefined) for
// anything else.
func scaled(v, totalV any) (any, bool) {
	total, ok := jsonFloat(totalV)
	if !ok {
		return nil, false
	}
	if f, ok := jsonFloat(v); ok {
		if f < 0 || f != math.Floor(f) {
			return nil, false
		}
		return v, true
	}
	s, ok := v.(string)
	if !ok || !wholePercent.MatchString(s) {
		return nil, false
	}
	pct, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil {
		return nil, false
	}
	return math.Ceil(pct * total / 100), true
}
