package planeval

import (
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"math"
	"regexp"
	"slices"
	"strconv"
	"sync"
	"unicode/utf8"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/topdown"
)

// nativeFunc is a built-in implemented on this package's values: it returns
// the result and true, or false for undefined. Natives answer the calls
// a review makes most (type checks, membership, comparisons, integer
// arithmetic) without converting their operands to Rego values; every
// other call, and every case a native does not take on (non-integral
// arithmetic, for one), goes to OPA's implementation.
type nativeFunc func(args []any) (any, bool, error)

// JSONBuiltin implements a built-in on JSON values, as encoding/json
// decodes them (nil for null; numbers float64, or json.Number for those a
// float64 does not hold exactly): the result and true, or false for
// undefined.
type JSONBuiltin func(args []any) (any, bool)

// errDelegate makes a native hand the call to OPA's implementation.
var errDelegate = errors.New("delegate to OPA's built-in")

var (
	nativesMu sync.RWMutex
	natives   = map[string]nativeFunc{
		"is_object":         isType(func(x any) bool { _, m := x.(map[string]any); _, o := x.(*object); return m || o }),
		"is_string":         isType(func(x any) bool { _, ok := x.(string); return ok }),
		"is_array":          isType(func(x any) bool { _, ok := x.([]any); return ok }),
		"is_number":         isType(func(x any) bool { _, f := x.(float64); _, n := x.(ast.Number); return f || n }),
		"is_boolean":        isType(func(x any) bool { _, ok := x.(bool); return ok }),
		"is_null":           isType(func(x any) bool { _, ok := x.(null); return ok }),
		"is_set":            isType(func(x any) bool { _, ok := x.(*set); return ok }),
		"internal.member_2": member2,
		"internal.member_3": member3,
		"object.get":        objectGet,
		"count":             count,
		"equal":             comparison(func(c int) bool { return c == 0 }),
		"neq":               comparison(func(c int) bool { return c != 0 }),
		"gt":                comparison(func(c int) bool { return c > 0 }),
		"gte":               comparison(func(c int) bool { return c >= 0 }),
		"lt":                comparison(func(c int) bool { return c < 0 }),
		"lte":               comparison(func(c int) bool { return c <= 0 }),
		"plus":              arithmetic(func(a, b float64) float64 { return a + b }),
		"minus":             minus,
		"mul":               arithmetic(func(a, b float64) float64 { return a * b }),
		"div":               div,
		"floor":             rounding(math.Floor),
		"ceil":              rounding(math.Ceil),
		"abs":               rounding(math.Abs),
		"max":               extreme(1),
		"min":               extreme(-1),
		"sum":               sum,
		"sort":              sortNative,
		"regex.match":       regexMatch,
	}
)

// RegisterJSONBuiltin makes plans call f for the built-in name instead of
// its OPA implementation (which must exist too, for OPA's interpreter),
// so that its arguments are not converted to Rego values. f must decide
// as the OPA implementation does.
func RegisterJSONBuiltin(name string, f JSONBuiltin) {
	nativesMu.Lock()
	defer nativesMu.Unlock()
	natives[name] = func(args []any) (any, bool, error) {
		plain := make([]any, len(args))
		for i, a := range args {
			plain[i], _ = toPlain(a)
		}
		v, ok := f(plain)
		if !ok {
			return nil, false, nil
		}
		return norm(v), true, nil
	}
}

// toPlain renders x as JSON values, converting only what the plan built:
// containers of the input come back as they are, unchanged reported
// false.
func toPlain(x any) (any, bool) {
	switch v := x.(type) {
	case null:
		return nil, true
	case ast.Number:
		return json.Number(v), true
	case *object, *set:
		j, _ := toJSON(v)
		return j, true
	case []any:
		var out []any
		for i, e := range v {
			p, changed := toPlain(e)
			if changed && out == nil {
				out = slices.Clone(v)
			}
			if out != nil {
				out[i] = p
			}
		}
		if out != nil {
			return out, true
		}
	case map[string]any:
		var out map[string]any
		for k, e := range v {
			p, changed := toPlain(e)
			if changed && out == nil {
				out = maps.Clone(v)
			}
			if out != nil {
				out[k] = p
			}
		}
		if out != nil {
			return out, true
		}
	}
	return x, false
}

func native(name string) nativeFunc {
	nativesMu.RLock()
	defer nativesMu.RUnlock()
	return natives[name]
}

// builtin is one built-in a plan calls.
type builtin struct {
	name   string
	native nativeFunc
	opa    topdown.BuiltinFunc
	// relation is true for built-ins with several results (walk): the
	// plan scans the array of them.
	relation bool
}

// call evaluates the built-in; a nil result is undefined.
func (b *builtin) call(ev *evaluator, args []any) (any, error) {
	if b.native != nil {
		v, ok, err := b.native(args)
		switch {
		case err == nil && ok:
			return v, nil
		case err == nil:
			return nil, nil
		case !errors.Is(err, errDelegate):
			// As OPA evaluates with strict built-in errors off.
			return nil, nil
		}
	}
	if b.opa == nil {
		return nil, fmt.Errorf("built-in %s has no implementation", b.name)
	}
	terms := make([]*ast.Term, len(args))
	for i, a := range args {
		terms[i] = ast.NewTerm(toAST(a))
	}
	var out *ast.Term
	var all []any
	err := b.opa(ev.bctx, terms, func(t *ast.Term) error {
		if b.relation {
			all = append(all, fromAST(t.Value))
		}
		out = t
		return nil
	})
	if err != nil {
		// As OPA evaluates with strict built-in errors off: a built-in's
		// error makes its expression undefined, unless it halts.
		var halt topdown.Halt
		if errors.As(err, &halt) {
			return nil, fmt.Errorf("%s: %w", b.name, err)
		}
		return nil, nil
	}
	if b.relation {
		if all == nil {
			all = []any{}
		}
		return all, nil
	}
	if out == nil {
		return nil, nil
	}
	return fromAST(out.Value), nil
}

func isType(f func(any) bool) nativeFunc {
	return func(args []any) (any, bool, error) {
		if len(args) != 1 {
			return nil, false, errDelegate
		}
		return f(args[0]), true, nil
	}
}

func member2(args []any) (any, bool, error) {
	if len(args) != 2 {
		return nil, false, errDelegate
	}
	x := args[0]
	switch c := args[1].(type) {
	case []any:
		for _, e := range c {
			if equal(e, x) {
				return true, true, nil
			}
		}
	case *set:
		return c.contains(x), true, nil
	case map[string]any:
		for _, e := range c {
			if equal(e, x) {
				return true, true, nil
			}
		}
	case *object:
		for _, it := range c.items {
			if equal(it.val, x) {
				return true, true, nil
			}
		}
	}
	return false, true, nil
}

func member3(args []any) (any, bool, error) {
	if len(args) != 3 {
		return nil, false, errDelegate
	}
	key, val := args[0], args[1]
	if st, ok := args[2].(*set); ok {
		// As OPA: a set's members are their own keys.
		return st.contains(key) && equal(key, val), true, nil
	}
	v, ok := dotValue(args[2], key)
	return ok && equal(v, val), true, nil
}

func objectGet(args []any) (any, bool, error) {
	if len(args) != 3 {
		return nil, false, errDelegate
	}
	obj, key, def := args[0], args[1], args[2]
	switch obj.(type) {
	case map[string]any, *object:
	default:
		return nil, false, errDelegate // OPA's type error
	}
	path, isPath := key.([]any)
	if !isPath {
		if v, ok := dotValue(obj, key); ok {
			return v, true, nil
		}
		return def, true, nil
	}
	cur := obj
	for _, k := range path {
		v, ok := dotValue(cur, k)
		if !ok {
			return def, true, nil
		}
		cur = v
	}
	return cur, true, nil
}

func count(args []any) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, errDelegate
	}
	switch c := args[0].(type) {
	case []any:
		return box(float64(len(c))), true, nil
	case map[string]any:
		return box(float64(len(c))), true, nil
	case *object:
		return box(float64(c.len())), true, nil
	case *set:
		return box(float64(len(c.elems))), true, nil
	case string:
		return box(float64(utf8.RuneCountInString(c))), true, nil
	}
	return nil, false, errDelegate
}

func comparison(holds func(int) bool) nativeFunc {
	return func(args []any) (any, bool, error) {
		if len(args) != 2 {
			return nil, false, errDelegate
		}
		return holds(compare(args[0], args[1])), true, nil
	}
}

// exact reports whether f is an integer that float64 holds exactly, so
// that integer arithmetic on it is Rego's.
func exact(f float64) bool { return f == math.Trunc(f) && math.Abs(f) < 1<<53 }

func numbers(args []any) (a, b float64, ok bool) {
	if len(args) != 2 {
		return 0, 0, false
	}
	a, aok := args[0].(float64)
	b, bok := args[1].(float64)
	return a, b, aok && bok && exact(a) && exact(b)
}

func arithmetic(op func(a, b float64) float64) nativeFunc {
	return func(args []any) (any, bool, error) {
		a, b, ok := numbers(args)
		if !ok {
			return nil, false, errDelegate
		}
		r := op(a, b)
		if !exact(r) {
			return nil, false, errDelegate
		}
		return box(r), true, nil
	}
}

func minus(args []any) (any, bool, error) {
	if len(args) == 2 {
		if a, ok := args[0].(*set); ok {
			if b, ok := args[1].(*set); ok {
				out := &set{}
				for _, e := range a.elems {
					if !b.contains(e) {
						out.add(e)
					}
				}
				return out, true, nil
			}
		}
	}
	return arithmetic(func(a, b float64) float64 { return a - b })(args)
}

// div divides integers whose quotient is whole, or a decimal of at most
// 15 significant digits (240 / 100): OPA's result is then that decimal,
// and so the float64 nearest to it. Other quotients (1 / 3) are OPA's.
func div(args []any) (any, bool, error) {
	a, b, ok := numbers(args)
	if !ok || b == 0 {
		return nil, false, errDelegate
	}
	if math.Mod(a, b) == 0 {
		return box(a / b), true, nil
	}
	d := int64(math.Abs(b)) / gcd(int64(math.Abs(a)), int64(math.Abs(b)))
	for d%2 == 0 {
		d /= 2
	}
	for d%5 == 0 {
		d /= 5
	}
	q := a / b
	if d != 1 || significantDigits(q) > 15 {
		return nil, false, errDelegate
	}
	return q, true, nil
}

func gcd(a, b int64) int64 {
	for b != 0 {
		a, b = b, a%b
	}
	return a
}

// significantDigits counts the digits of f's shortest decimal form.
func significantDigits(f float64) int {
	n := 0
	leading := true
	for _, c := range strconv.FormatFloat(math.Abs(f), 'e', -1, 64) {
		if c == 'e' {
			break
		}
		if c >= '0' && c <= '9' {
			if c == '0' && leading {
				continue
			}
			leading = false
			n++
		}
	}
	return n
}

func rounding(f func(float64) float64) nativeFunc {
	return func(args []any) (any, bool, error) {
		if len(args) != 1 {
			return nil, false, errDelegate
		}
		x, ok := args[0].(float64)
		if !ok || !exact(f(x)) {
			return nil, false, errDelegate
		}
		return box(f(x)), true, nil
	}
}

func elements(x any) ([]any, bool) {
	switch c := x.(type) {
	case []any:
		return c, true
	case *set:
		return c.ordered(), true
	}
	return nil, false
}

// extreme is max (sign 1) or min (sign -1): undefined on an empty
// collection.
func extreme(sign int) nativeFunc {
	return func(args []any) (any, bool, error) {
		if len(args) != 1 {
			return nil, false, errDelegate
		}
		elems, ok := elements(args[0])
		if !ok {
			return nil, false, errDelegate
		}
		if len(elems) == 0 {
			return nil, false, nil
		}
		best := norm(elems[0])
		for _, e := range elems[1:] {
			if compare(e, best)*sign > 0 {
				best = norm(e)
			}
		}
		return best, true, nil
	}
}

func sum(args []any) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, errDelegate
	}
	elems, ok := elements(args[0])
	if !ok {
		return nil, false, errDelegate
	}
	var total float64
	for _, e := range elems {
		f, ok := norm(e).(float64)
		if !ok || !exact(f) {
			return nil, false, errDelegate
		}
		total += f
	}
	if !exact(total) {
		return nil, false, errDelegate
	}
	return box(total), true, nil
}

func sortNative(args []any) (any, bool, error) {
	if len(args) != 1 {
		return nil, false, errDelegate
	}
	switch c := args[0].(type) {
	case []any:
		out := make([]any, len(c))
		for i, e := range c {
			out[i] = norm(e)
		}
		slices.SortStableFunc(out, compare)
		return out, true, nil
	case *set:
		return slices.Clone(c.ordered()), true, nil
	}
	return nil, false, errDelegate
}

// regexes caches compiled patterns, as OPA's regex built-ins do; it is
// emptied when it grows past a bound, so that patterns built from input
// cannot grow it without end.
var regexes = struct {
	sync.Mutex
	m map[string]*regexp.Regexp
}{m: map[string]*regexp.Regexp{}}

func regexMatch(args []any) (any, bool, error) {
	if len(args) != 2 {
		return nil, false, errDelegate
	}
	pattern, ok := args[0].(string)
	value, ok2 := args[1].(string)
	if !ok || !ok2 {
		return nil, false, errDelegate
	}
	regexes.Lock()
	re, cached := regexes.m[pattern]
	regexes.Unlock()
	if !cached {
		var err error
		if re, err = regexp.Compile(pattern); err != nil {
			return nil, false, errDelegate // OPA's error
		}
		regexes.Lock()
		if len(regexes.m) >= 1000 {
			clear(regexes.m)
		}
		regexes.m[pattern] = re
		regexes.Unlock()
	}
	return re.MatchString(value), true, nil
}
