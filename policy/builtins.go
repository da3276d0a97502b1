package policy

import (
	"math"
	"regexp"
	"strconv"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/types"
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
		return ast.BooleanTerm(selectorMatches(sel.Value, labels.Value)), nil
	})
	rego.RegisterBuiltin2(scaledBuiltin, func(_ rego.BuiltinContext, v, total *ast.Term) (*ast.Term, error) {
		return scaled(v.Value, total.Value), nil
	})
}

var (
	matchLabelsKey      = ast.StringTerm("matchLabels")
	matchExpressionsKey = ast.StringTerm("matchExpressions")
	operatorKey         = ast.StringTerm("operator")
	keyKey              = ast.StringTerm("key")
	valuesKey           = ast.StringTerm("values")
)

// selectorMatches: a null or missing selector selects nothing while {}
// selects everything; absent and null matchLabels and matchExpressions
// select everything, values of the wrong type nothing.
func selectorMatches(selV, labelsV ast.Value) bool {
	sel, ok := selV.(ast.Object)
	if !ok {
		return false
	}
	labels, ok := labelsV.(ast.Object)
	if !ok {
		labels = ast.NewObject()
	}
	if ml := sel.Get(matchLabelsKey); ml != nil && !isNull(ml) {
		m, ok := ml.Value.(ast.Object)
		if !ok {
			return false
		}
		match := true
		m.Foreach(func(k, v *ast.Term) {
			if lv := labels.Get(k); match && (lv == nil || ast.Compare(lv.Value, v.Value) != 0) {
				match = false
			}
		})
		if !match {
			return false
		}
	}
	if me := sel.Get(matchExpressionsKey); me != nil && !isNull(me) {
		exprs, ok := me.Value.(*ast.Array)
		if !ok {
			return false
		}
		for i := range exprs.Len() {
			if !expressionMatches(exprs.Elem(i).Value, labels) {
				return false
			}
		}
	}
	return true
}

func expressionMatches(exprV ast.Value, labels ast.Object) bool {
	expr, ok := exprV.(ast.Object)
	if !ok {
		return false
	}
	op := expr.Get(operatorKey)
	if op == nil {
		return false
	}
	key := expr.Get(keyKey)
	var label *ast.Term
	if key != nil {
		label = labels.Get(key)
	}
	inValues := func() (in, valid bool) {
		vals := expr.Get(valuesKey)
		if vals == nil {
			return false, false
		}
		arr, ok := vals.Value.(*ast.Array)
		if !ok {
			return false, false
		}
		if label == nil {
			return false, true
		}
		for i := range arr.Len() {
			if ast.Compare(arr.Elem(i).Value, label.Value) == 0 {
				return true, true
			}
		}
		return false, true
	}
	switch op.Value {
	case ast.String("In"):
		in, _ := inValues()
		return in
	case ast.String("NotIn"):
		in, valid := inValues()
		return valid && !in
	case ast.String("Exists"):
		return label != nil
	case ast.String("DoesNotExist"):
		if key == nil {
			return false
		}
		_, isString := key.Value.(ast.String)
		return isString && label == nil
	}
	return false
}

func isNull(t *ast.Term) bool {
	_, null := t.Value.(ast.Null)
	return null
}

var wholePercent = regexp.MustCompile(`^[0-9]+%$`)

// scaled resolves v against total, rounding percentages up as Kubernetes
// does for both fields of a PodDisruptionBudget; nil (undefined) for
// anything else.
func scaled(v, totalV ast.Value) *ast.Term {
	total, ok := totalV.(ast.Number)
	if !ok {
		return nil
	}
	switch v := v.(type) {
	case ast.Number:
		f, ok := v.Float64()
		if !ok || f < 0 || f != math.Floor(f) {
			return nil
		}
		return ast.NewTerm(v)
	case ast.String:
		s := string(v)
		if !wholePercent.MatchString(s) {
			return nil
		}
		pct, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
		if err != nil {
			return nil
		}
		t, ok := total.Float64()
		if !ok {
			return nil
		}
		r := math.Ceil(pct * t / 100)
		if r == math.Trunc(r) && math.Abs(r) < 1<<53 {
			return ast.IntNumberTerm(int(r))
		}
		return ast.FloatNumberTerm(r)
	}
	return nil
}
