package planeval

import (
	"cmp"
	"encoding/json"
	"fmt"
	"hash/maphash"
	"math"
	"slices"
	"strconv"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Values are Go values, so that an object decoded from JSON is evaluated
// as it is, never converted:
//
//   - null is null{} (a nil inside an input container reads as null; a
//     nil local is undefined);
//   - booleans are bool, strings string;
//   - numbers are float64, as JSON decoding makes them (other Go number
//     types in the input read as float64), or ast.Number for those a
//     float64 does not hold exactly (a json.Number of 20 digits, or OPA's
//     result of 1/3), so that no number loses precision OPA keeps;
//   - arrays are []any, objects map[string]any (from the input) or
//     *object (built by the plan, any keys), sets *set.
//
// The containers of the input are never modified. Elements of input
// containers are normalized when they are read (see norm).
type null struct{}

// object is an object the plan builds: insertion ordered, iterated in
// Rego's order of its keys.
type object struct {
	items []item
	index map[string]int // string keys, once the object has several
}

type item struct{ key, val any }

// set is a set the plan builds, iterated in Rego's order.
type set struct {
	elems  []any
	sorted bool
	index  map[uint64][]int // by hash, once the set has several elements
}

// emptySet and emptyObject stand for the sets and objects a plan makes
// until their first member: most rules of a review produce nothing, and
// a plan adds to a set or object only through the local it made it in,
// which the add replaces, before it copies that local anywhere (OPA's
// planner builds every set, object and array so; arrays rely on it too,
// as an append may move them). They are never modified.
var (
	emptySet    = &set{sorted: true}
	emptyObject = &object{}
)

// indexFrom is the size from which objects and sets index their members:
// below it, a scan is cheaper than hashing.
const indexFrom = 8

func newObject() *object { return newObjectCap(4) }

func newObjectCap(n int) *object { return &object{items: make([]item, 0, max(n, 2))} }

func (o *object) len() int { return len(o.items) }

func (o *object) get(k any) (any, bool) {
	if i := o.find(k); i >= 0 {
		return o.items[i].val, true
	}
	return nil, false
}

func (o *object) find(k any) int {
	if s, ok := k.(string); ok {
		if o.index != nil {
			if i, ok := o.index[s]; ok {
				return i
			}
			return -1
		}
		for i, it := range o.items {
			if ks, ok := it.key.(string); ok && ks == s {
				return i
			}
		}
		return -1
	}
	for i, it := range o.items {
		if equal(it.key, k) {
			return i
		}
	}
	return -1
}

func (o *object) insert(k, v any) {
	if i := o.find(k); i >= 0 {
		o.items[i].val = v
		return
	}
	o.items = append(o.items, item{k, v})
	switch {
	case o.index != nil:
		if s, ok := k.(string); ok {
			o.index[s] = len(o.items) - 1
		}
	case len(o.items) == indexFrom:
		o.index = make(map[string]int, 2*indexFrom)
		for i, it := range o.items {
			if s, ok := it.key.(string); ok {
				o.index[s] = i
			}
		}
	}
}

// order returns the indexes of o's items in Rego's order of their keys.
func (o *object) order() []int {
	idx := make([]int, len(o.items))
	for i := range idx {
		idx[i] = i
	}
	slices.SortFunc(idx, func(a, b int) int { return compare(o.items[a].key, o.items[b].key) })
	return idx
}

func (s *set) contains(x any) bool {
	if s.index != nil {
		for _, i := range s.index[hashOf(x)] {
			if equal(s.elems[i], x) {
				return true
			}
		}
		return false
	}
	for _, e := range s.elems {
		if equal(e, x) {
			return true
		}
	}
	return false
}

func (s *set) add(x any) {
	if s.contains(x) {
		return
	}
	s.elems = append(s.elems, x)
	s.sorted = false
	switch {
	case s.index != nil:
		h := hashOf(x)
		s.index[h] = append(s.index[h], len(s.elems)-1)
	case len(s.elems) == indexFrom:
		s.index = make(map[uint64][]int, 2*indexFrom)
		for i, e := range s.elems {
			h := hashOf(e)
			s.index[h] = append(s.index[h], i)
		}
	}
}

// ordered returns the elements in Rego's order.
func (s *set) ordered() []any {
	if !s.sorted && len(s.elems) > 1 {
		slices.SortFunc(s.elems, compare)
		s.sorted = true
		if s.index != nil {
			clear(s.index)
			for i, e := range s.elems {
				h := hashOf(e)
				s.index[h] = append(s.index[h], i)
			}
		}
	}
	return s.elems
}

// norm turns a value read from an input container into the model's.
func norm(x any) any {
	switch v := x.(type) {
	case nil:
		return null{}
	case float64, string, bool, map[string]any, []any, null, *object, *set:
		return x
	case int:
		return box(float64(v))
	case int64:
		return box(float64(v))
	case int32:
		return box(float64(v))
	case uint64:
		return float64(v)
	case uint32:
		return float64(v)
	case float32:
		return float64(v)
	case json.Number:
		return number(ast.Number(v))
	case ast.Number:
		return v
	case ast.Value:
		return fromAST(v)
	case *ast.Term:
		return fromAST(v.Value)
	}
	return x
}

// smallInts holds the boxes of small whole numbers, so that counting and
// indexing do not allocate one each.
var smallInts = func() (out [1024]any) {
	for i := range out {
		out[i] = float64(i)
	}
	return out
}()

// box returns f as a value, without allocating for small whole numbers.
func box(f float64) any {
	if f >= 0 && f < float64(len(smallInts)) && f == math.Trunc(f) && !math.Signbit(f) {
		return smallInts[int(f)]
	}
	return f
}

// number is n as a float64 when that holds it exactly, else n itself.
func number(n ast.Number) any {
	if i, ok := n.Int64(); ok {
		if f := float64(i); exact(f) && int64(f) == i {
			return box(f)
		}
		return n
	}
	f, err := strconv.ParseFloat(string(n), 64)
	if err != nil || strconv.FormatFloat(f, 'g', -1, 64) != string(n) {
		return n
	}
	return f
}

// rank is a value's place in Rego's order of types.
func rank(x any) int {
	switch x.(type) {
	case null:
		return 0
	case bool:
		return 1
	case float64, ast.Number:
		return 2
	case string:
		return 3
	case []any:
		return 7
	case map[string]any, *object:
		return 8
	case *set:
		return 9
	}
	return 100
}

// compare orders values as OPA does (ast.Compare).
func compare(a, b any) int {
	a, b = norm(a), norm(b)
	ra, rb := rank(a), rank(b)
	if ra != rb {
		return cmp.Compare(ra, rb)
	}
	switch a := a.(type) {
	case null:
		return 0
	case bool:
		bb := b.(bool)
		switch {
		case a == bb:
			return 0
		case !a:
			return -1
		}
		return 1
	case float64:
		if f, ok := b.(float64); ok {
			return cmp.Compare(a, f)
		}
		return ast.NumberCompare(floatNumber(a), b.(ast.Number))
	case ast.Number:
		return ast.NumberCompare(a, asNumber(b))
	case string:
		return cmp.Compare(a, b.(string))
	case []any:
		return slices.CompareFunc(a, b.([]any), compare)
	case *set:
		return slices.CompareFunc(a.ordered(), b.(*set).ordered(), compare)
	case map[string]any, *object:
		ka, va := sortedItems(a)
		kb, vb := sortedItems(b)
		for i := range min(len(ka), len(kb)) {
			if c := compare(ka[i], kb[i]); c != 0 {
				return c
			}
			if c := compare(va[i], vb[i]); c != 0 {
				return c
			}
		}
		return len(ka) - len(kb)
	}
	return 0
}

// sortedItems returns an object's keys and values in Rego's order.
func sortedItems(o any) (keys, vals []any) {
	switch o := o.(type) {
	case map[string]any:
		ks := make([]string, 0, len(o))
		for k := range o {
			ks = append(ks, k)
		}
		slices.Sort(ks)
		keys, vals = make([]any, len(ks)), make([]any, len(ks))
		for i, k := range ks {
			keys[i], vals[i] = k, norm(o[k])
		}
	case *object:
		for _, i := range o.order() {
			keys = append(keys, o.items[i].key)
			vals = append(vals, o.items[i].val)
		}
	}
	return keys, vals
}

// equal reports whether Rego sees a and b as the same value.
func equal(a, b any) bool {
	if as, ok := a.(string); ok {
		// The common case; norm leaves strings, and only strings, strings.
		bs, ok := b.(string)
		return ok && as == bs
	}
	a, b = norm(a), norm(b)
	switch a := a.(type) {
	case string:
		s, ok := b.(string)
		return ok && a == s
	case float64:
		switch f := b.(type) {
		case float64:
			return a == f
		case ast.Number:
			return ast.NumberCompare(floatNumber(a), f) == 0
		}
		return false
	case ast.Number:
		switch b.(type) {
		case float64, ast.Number:
			return ast.NumberCompare(a, asNumber(b)) == 0
		}
		return false
	case bool:
		x, ok := b.(bool)
		return ok && a == x
	case null:
		_, ok := b.(null)
		return ok
	case []any:
		x, ok := b.([]any)
		return ok && slices.EqualFunc(a, x, equal)
	case map[string]any:
		switch x := b.(type) {
		case map[string]any:
			if len(a) != len(x) {
				return false
			}
			for k, v := range a {
				w, ok := x[k]
				if !ok || !equal(v, w) {
					return false
				}
			}
			return true
		case *object:
			return objectEqualsMap(x, a)
		}
		return false
	case *object:
		switch x := b.(type) {
		case map[string]any:
			return objectEqualsMap(a, x)
		case *object:
			if len(a.items) != len(x.items) {
				return false
			}
			for _, it := range a.items {
				w, ok := x.get(it.key)
				if !ok || !equal(it.val, w) {
					return false
				}
			}
			return true
		}
		return false
	case *set:
		x, ok := b.(*set)
		if !ok || len(a.elems) != len(x.elems) {
			return false
		}
		for _, e := range a.elems {
			if !x.contains(e) {
				return false
			}
		}
		return true
	}
	return false
}

func objectEqualsMap(o *object, m map[string]any) bool {
	if len(o.items) != len(m) {
		return false
	}
	for _, it := range o.items {
		s, ok := it.key.(string)
		if !ok {
			return false
		}
		w, ok := m[s]
		if !ok || !equal(it.val, w) {
			return false
		}
	}
	return true
}

var seed = maphash.MakeSeed()

// hashOf hashes x consistently with equal.
func hashOf(x any) uint64 {
	switch v := norm(x).(type) {
	case string:
		return maphash.String(seed, v)
	case float64:
		if v == 0 {
			v = 0 // -0 and 0 are equal
		}
		return math.Float64bits(v)*0x9e3779b97f4a7c15 + 1
	case ast.Number:
		// Equal numbers have the same nearest float64.
		f, _ := v.Float64()
		return hashOf(f)
	case bool:
		if v {
			return 3
		}
		return 5
	case null:
		return 7
	case []any:
		h := uint64(11)
		for _, e := range v {
			h = h*31 + hashOf(e)
		}
		return h
	case map[string]any:
		var h uint64 = 13
		for k, e := range v {
			h += maphash.String(seed, k)*31 ^ hashOf(e)
		}
		return h
	case *object:
		var h uint64 = 13
		for _, it := range v.items {
			h += hashOf(it.key)*31 ^ hashOf(it.val)
		}
		return h
	case *set:
		var h uint64 = 17
		for _, e := range v.elems {
			h += hashOf(e)
		}
		return h
	}
	return 0
}

// toAST converts a value for OPA's built-ins and for results handed to
// OPA.
func toAST(x any) ast.Value {
	switch v := norm(x).(type) {
	case null:
		return ast.NullValue
	case bool:
		return ast.Boolean(v)
	case string:
		return ast.String(v)
	case float64:
		return floatNumber(v)
	case ast.Number:
		return v
	case []any:
		terms := make([]*ast.Term, len(v))
		for i, e := range v {
			terms[i] = ast.NewTerm(toAST(e))
		}
		return ast.NewArray(terms...)
	case map[string]any:
		items := make([][2]*ast.Term, 0, len(v))
		for k, e := range v {
			items = append(items, [2]*ast.Term{ast.StringTerm(k), ast.NewTerm(toAST(e))})
		}
		return ast.NewObject(items...)
	case *object:
		items := make([][2]*ast.Term, len(v.items))
		for i, it := range v.items {
			items[i] = [2]*ast.Term{ast.NewTerm(toAST(it.key)), ast.NewTerm(toAST(it.val))}
		}
		return ast.NewObject(items...)
	case *set:
		terms := make([]*ast.Term, len(v.elems))
		for i, e := range v.elems {
			terms[i] = ast.NewTerm(toAST(e))
		}
		return ast.NewSet(terms...)
	}
	panic(fmt.Sprintf("planeval: no Rego value for %T", x))
}

// asNumber is a number of the model as an ast.Number.
func asNumber(x any) ast.Number {
	if f, ok := x.(float64); ok {
		return floatNumber(f)
	}
	return x.(ast.Number)
}

// floatNumber renders f as OPA renders a float64 it converts.
func floatNumber(f float64) ast.Number {
	if f == math.Trunc(f) && math.Abs(f) < 1<<53 {
		return ast.Number(strconv.FormatInt(int64(f), 10))
	}
	return ast.Number(strconv.FormatFloat(f, 'g', -1, 64))
}

// fromAST converts a value OPA gives back (a built-in's result, an input
// given as a Rego value).
func fromAST(v ast.Value) any {
	switch v := v.(type) {
	case ast.Null:
		return null{}
	case ast.Boolean:
		return bool(v)
	case ast.String:
		return string(v)
	case ast.Number:
		return number(v)
	case *ast.Array:
		out := make([]any, v.Len())
		for i := range out {
			out[i] = fromAST(v.Elem(i).Value)
		}
		return out
	case ast.Object:
		allStrings := true
		v.Foreach(func(k, _ *ast.Term) {
			if _, ok := k.Value.(ast.String); !ok {
				allStrings = false
			}
		})
		if allStrings {
			m := make(map[string]any, v.Len())
			v.Foreach(func(k, e *ast.Term) { m[string(k.Value.(ast.String))] = fromAST(e.Value) })
			return m
		}
		o := newObject()
		v.Foreach(func(k, e *ast.Term) { o.insert(fromAST(k.Value), fromAST(e.Value)) })
		return o
	case ast.Set:
		s := &set{}
		v.Foreach(func(e *ast.Term) { s.add(fromAST(e.Value)) })
		return s
	}
	panic(fmt.Sprintf("planeval: cannot evaluate on a %T", v))
}

// toJSON converts a result to the shapes encoding/json decodes (sets as
// arrays in Rego's order, as OPA renders them).
func toJSON(x any) (any, error) {
	switch v := norm(x).(type) {
	case null:
		return nil, nil
	case bool, string, float64:
		return v, nil
	case ast.Number:
		return json.Number(v), nil
	case []any:
		return jsonArray(v)
	case map[string]any:
		out := make(map[string]any, len(v))
		for k, e := range v {
			j, err := toJSON(e)
			if err != nil {
				return nil, err
			}
			out[k] = j
		}
		return out, nil
	case *object:
		out := make(map[string]any, len(v.items))
		for _, it := range v.items {
			s, ok := it.key.(string)
			if !ok {
				// As ast.JSON does: a key that is not a string is written
				// as its Rego text.
				s = toAST(it.key).String()
			}
			j, err := toJSON(it.val)
			if err != nil {
				return nil, err
			}
			out[s] = j
		}
		return out, nil
	case *set:
		return jsonArray(v.ordered())
	}
	return nil, fmt.Errorf("planeval: no JSON for %T", x)
}

func jsonArray(elems []any) (any, error) {
	out := make([]any, len(elems))
	for i, e := range elems {
		j, err := toJSON(e)
		if err != nil {
			return nil, err
		}
		out[i] = j
	}
	return out, nil
}
