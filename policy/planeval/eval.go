package planeval

// The evaluator: the statements of a compiled plan, run on local slots.

import (
	"context"
	"fmt"
	"maps"
	"math"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/topdown"
)

var noMetrics = metrics.NoOp()

// evaluator is one evaluation's state. Evaluators are pooled per Program:
// their stack of local slots and their memo tables are reused.
type evaluator struct {
	p       *Program
	ctx     context.Context
	bctx    topdown.BuiltinContext
	results set
	// stack holds the local slots of the functions being evaluated, top
	// the first free slot.
	stack []any
	top   int
	// memo holds the values of the rules (functions of input and data
	// only) evaluated so far, one scope per enclosing with.
	memo  []memoScope
	steps int
}

type memoScope struct {
	values []any
	known  []bool
}

// frame returns size fresh local slots on the stack; pop frees them.
func (ev *evaluator) frame(size int) []any {
	if ev.top+size > len(ev.stack) {
		// The frames below keep the old array: slices of it stay valid,
		// and their slots in the new one stay unused until they are popped.
		ev.stack = make([]any, max(2*len(ev.stack), ev.top+size))
	}
	f := ev.stack[ev.top : ev.top+size : ev.top+size]
	ev.top += size
	return f
}

// pop frees the top frame f.
func (ev *evaluator) pop(f []any) {
	clear(f)
	ev.top -= len(f)
}

// returned is the block result that carries a ReturnLocalStmt up to its
// function; other results are -1 (the block ran to its end) or the number
// of enclosing labels a break still has to leave, as in Wasm.
const returned = 1 << 30

// block runs b's instructions on locals. It returns -1 when the block ran
// to its end, returned after a return, or n ≥ 0 when control leaves it
// towards the n-th enclosing label (0: the end of this block).
func (ev *evaluator) block(locals []any, b *block) (int, error) {
	k := ev.p.konsts
	for i := range b.instrs {
		in := &b.instrs[i]
		switch in.op {
		case opDot:
			src := get(locals, k, in.a)
			if src == nil {
				return 0, nil
			}
			v, ok := dotValue(src, get(locals, k, in.b))
			if !ok {
				return 0, nil
			}
			locals[in.target] = v
		case opAssign:
			locals[in.target] = get(locals, k, in.a)
		case opAssignOnce:
			v := get(locals, k, in.a)
			if cur := locals[in.target]; cur != nil && !equal(cur, v) {
				return 0, ev.conflict(in.rare.loc, "complete rules must not produce multiple outputs")
			}
			locals[in.target] = v
		case opCallFunc:
			f := in.call.fn
			if f.memo {
				if m, ok := ev.memoGet(f.index); ok {
					if m == nil {
						return 0, nil
					}
					locals[in.target] = m
					continue
				}
			}
			frame := ev.frame(f.size)
			for j, a := range in.call.args {
				frame[f.params[j]] = get(locals, k, a)
			}
			v, err := ev.run(f, frame)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			locals[in.target] = v
		case opCallBuiltin:
			args := ev.frame(len(in.call.args))
			undefined := false
			for j, a := range in.call.args {
				if args[j] = get(locals, k, a); args[j] == nil {
					undefined = true
				}
			}
			var v any
			var err error
			if !undefined {
				v, err = in.call.bi.call(ev, args)
			}
			ev.pop(args)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			locals[in.target] = v
		case opNotEqual:
			a, b := get(locals, k, in.a), get(locals, k, in.b)
			if a == nil || b == nil || equal(a, b) {
				return 0, nil
			}
		case opEqual:
			a, b := get(locals, k, in.a), get(locals, k, in.b)
			if a == nil || b == nil || !equal(a, b) {
				return 0, nil
			}
		case opIsDefined:
			if locals[in.target] == nil {
				return 0, nil
			}
		case opIsUndefined:
			if locals[in.target] != nil {
				return 0, nil
			}
		case opReset:
			locals[in.target] = nil
		case opReturn:
			// The caller reads the return local itself.
			return returned, nil
		case opBlocks:
			for _, nb := range in.blocks {
				br, err := ev.block(locals, nb)
				if err != nil {
					return 0, err
				}
				if br == returned {
					return br, nil
				}
				if br > 0 {
					return br - 1, nil
				}
			}
		case opBreak:
			return int(in.n), nil
		case opScan:
			br, err := ev.scan(locals, in)
			if err != nil || br >= 0 {
				return br, err
			}
		case opNot:
			br, err := ev.block(locals, in.blocks[0])
			if err != nil {
				return 0, err
			}
			switch {
			case br == returned:
				return br, nil
			case br < 0: // the negated block holds
				return 0, nil
			case br > 0:
				return br - 1, nil
			}
		case opArrayAppend:
			arr, ok := locals[in.target].([]any)
			if !ok {
				return 0, fmt.Errorf("array append to %T", locals[in.target])
			}
			locals[in.target] = append(arr, get(locals, k, in.a))
		case opSetAdd:
			st, ok := locals[in.target].(*set)
			if !ok {
				return 0, fmt.Errorf("set add to %T", locals[in.target])
			}
			if st == emptySet {
				st = &set{}
				locals[in.target] = st
			}
			st.add(get(locals, k, in.a))
		case opObjectInsert:
			obj, ok := locals[in.target].(*object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[in.target])
			}
			if obj == emptyObject {
				obj = newObjectCap(int(in.n))
				locals[in.target] = obj
			}
			obj.insert(get(locals, k, in.a), get(locals, k, in.b))
		case opObjectInsertOnce:
			obj, ok := locals[in.target].(*object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[in.target])
			}
			key, val := get(locals, k, in.a), get(locals, k, in.b)
			if cur, ok := obj.get(key); ok && !equal(cur, val) {
				return 0, ev.conflict(in.rare.loc, "object keys must be unique")
			}
			if obj == emptyObject {
				obj = newObjectCap(int(in.n))
				locals[in.target] = obj
			}
			obj.insert(key, val)
		case opObjectMerge:
			merged, ok := mergeObjects(get(locals, k, in.a), get(locals, k, in.b))
			if !ok {
				return 0, nil
			}
			locals[in.target] = merged
		case opMakeArray:
			locals[in.target] = make([]any, 0, in.n)
		case opMakeObject:
			// Made on the first insert (see emptySet).
			locals[in.target] = emptyObject
		case opMakeSet:
			// Made on the first add (see emptySet).
			locals[in.target] = emptySet
		case opConst:
			locals[in.target] = k[^in.a]
		case opIsArray:
			if _, ok := get(locals, k, in.a).([]any); !ok {
				return 0, nil
			}
		case opIsObject:
			switch get(locals, k, in.a).(type) {
			case map[string]any, *object:
			default:
				return 0, nil
			}
		case opIsSet:
			if _, ok := get(locals, k, in.a).(*set); !ok {
				return 0, nil
			}
		case opLen:
			n, ok, _ := count([]any{get(locals, k, in.a)})
			if !ok {
				return 0, nil
			}
			locals[in.target] = n
		case opWith:
			br, err := ev.with(locals, in)
			if err != nil || br >= 0 {
				return br, err
			}
		case opCallDynamic:
			v, found, err := ev.callDynamic(locals, in)
			if err != nil {
				return 0, err
			}
			if !found || v == nil {
				return 0, nil
			}
			locals[in.target] = v
		case opResultAdd:
			ev.results.add(locals[in.target])
		case opNop:
		}
	}
	return -1, nil
}

// scan runs the scan's block for each element of its source; -1 when the
// enclosing block goes on after it. As in Wasm, the block sits in a loop
// inside a block: a break of 0 goes to the next element, of 1 past the
// scan.
func (ev *evaluator) scan(locals []any, in *instr) (int, error) {
	src := get(locals, ev.p.konsts, in.a)
	if src == nil {
		return -1, nil
	}
	body := in.blocks[0]
	br := -1
	var err error
	step := func(k, v any) bool {
		if err = ev.tick(); err != nil {
			return true
		}
		locals[in.rare.key], locals[in.rare.value] = k, v
		br, err = ev.block(locals, body)
		return err != nil || (br >= 1)
	}
	switch c := src.(type) {
	case []any:
		for i, e := range c {
			if step(box(float64(i)), norm(e)) {
				break
			}
		}
	case map[string]any:
		keys := make([]string, 0, len(c))
		for k := range c {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for _, k := range keys {
			if step(k, norm(c[k])) {
				break
			}
		}
	case *object:
		for _, i := range c.order() {
			if step(c.items[i].key, c.items[i].val) {
				break
			}
		}
	case *set:
		for _, e := range slices.Clone(c.ordered()) {
			if step(e, e) {
				break
			}
		}
	default:
		return -1, nil
	}
	switch {
	case err != nil:
		return 0, err
	case br == returned:
		return br, nil
	case br >= 2:
		return br - 2, nil
	}
	return -1, nil
}

// with runs the instruction's block with its local changed; -1 when the
// block held.
func (ev *evaluator) with(locals []any, in *instr) (int, error) {
	saved := locals[in.target]
	value := get(locals, ev.p.konsts, in.a)
	if len(in.rare.path) == 0 {
		locals[in.target] = value
	} else {
		locals[in.target] = upsert(saved, in.rare.path, value)
	}
	if len(ev.memo) == cap(ev.memo) {
		ev.memo = append(ev.memo, ev.p.newMemoScope())
	} else {
		ev.memo = ev.memo[:len(ev.memo)+1]
		if ev.memo[len(ev.memo)-1].values == nil {
			ev.memo[len(ev.memo)-1] = ev.p.newMemoScope()
		}
	}
	br, err := ev.block(locals, in.blocks[0])
	top := &ev.memo[len(ev.memo)-1]
	clear(top.values)
	clear(top.known)
	ev.memo = ev.memo[:len(ev.memo)-1]
	locals[in.target] = saved
	switch {
	case err != nil:
		return 0, err
	case br == returned:
		return br, nil
	case br < 0:
		return -1, nil
	case br == 0:
		return 0, nil
	}
	return br - 1, nil
}

// upsert returns a copy of doc (an object, or a new one) with value at
// path, copying each object along the path; doc is left as it was.
func upsert(doc any, path []string, value any) any {
	if d, ok := doc.(*object); ok {
		o := newObjectCap(len(d.items) + 1)
		for _, it := range d.items {
			o.insert(it.key, it.val)
		}
		if len(path) > 1 {
			cur, _ := o.get(path[0])
			value = upsert(cur, path[1:], value)
		}
		o.insert(path[0], value)
		return o
	}
	out := map[string]any{}
	if d, ok := doc.(map[string]any); ok {
		maps.Copy(out, d)
	}
	if len(path) > 1 {
		value = upsert(out[path[0]], path[1:], value)
	}
	out[path[0]] = value
	return out
}

// mergeObjects merges b into a as OPA's ast.Object.Merge does; false when
// they do not merge.
func mergeObjects(a, b any) (any, bool) {
	switch a.(type) {
	case map[string]any, *object:
	default:
		return nil, false
	}
	switch b.(type) {
	case map[string]any, *object:
	default:
		return nil, false
	}
	merged, ok := toAST(a).(ast.Object).Merge(toAST(b).(ast.Object))
	if !ok {
		return nil, false
	}
	return fromAST(merged), true
}

// run evaluates function f with its parameters set in frame, the top
// frame of the stack, and pops it.
func (ev *evaluator) run(f *function, frame []any) (any, error) {
	defer ev.pop(frame)
	if err := ev.tick(); err != nil {
		return nil, err
	}
	for _, b := range f.blocks {
		br, err := ev.block(frame, b)
		if err != nil {
			return nil, err
		}
		if br == returned {
			break
		}
	}
	v := frame[f.ret]
	if f.memo {
		ev.memoPut(f.index, v)
	}
	return v, nil
}

func (ev *evaluator) callDynamic(locals []any, in *instr) (any, bool, error) {
	parts := make([]string, len(in.call.args))
	for i, o := range in.call.args {
		str, ok := get(locals, ev.p.konsts, o).(string)
		if !ok {
			return nil, false, nil
		}
		parts[i] = str
	}
	f, ok := ev.p.byPath[strings.Join(parts, "/")]
	if !ok {
		return nil, false, nil
	}
	if f.memo {
		if v, ok := ev.memoGet(f.index); ok {
			return v, true, nil
		}
	}
	frame := ev.frame(f.size)
	for i, a := range in.rare.dynArgs {
		if i < len(f.params) {
			frame[f.params[i]] = get(locals, ev.p.konsts, a)
		}
	}
	v, err := ev.run(f, frame)
	return v, true, err
}

func (ev *evaluator) memoGet(i int) (any, bool) {
	m := &ev.memo[len(ev.memo)-1]
	return m.values[i], m.known[i]
}

func (ev *evaluator) memoPut(i int, v any) {
	m := &ev.memo[len(ev.memo)-1]
	m.values[i], m.known[i] = v, true
}

// tick checks for cancellation now and then, as OPA's interpreter does.
func (ev *evaluator) tick() error {
	ev.steps++
	if ev.steps&255 == 0 {
		if err := ev.ctx.Err(); err != nil {
			return &topdown.Error{Code: topdown.CancelErr, Message: fmt.Sprintf("evaluation cancelled: %v", err)}
		}
	}
	return nil
}

func (ev *evaluator) conflict(loc ir.Location, msg string) error {
	e := &topdown.Error{Code: topdown.ConflictErr, Message: msg}
	if loc.File >= 0 && loc.File < len(ev.p.files) {
		e.Location = &ast.Location{File: ev.p.files[loc.File], Row: loc.Row, Col: loc.Col}
	}
	return e
}

// dotValue is src[key]; false when undefined.
func dotValue(src, key any) (any, bool) {
	if key == nil {
		return nil, false
	}
	switch c := src.(type) {
	case map[string]any:
		k, ok := key.(string)
		if !ok {
			return nil, false
		}
		v, ok := c[k]
		if !ok {
			return nil, false
		}
		return norm(v), true
	case *object:
		return c.get(key)
	case []any:
		f, ok := key.(float64)
		if !ok || f != math.Trunc(f) || f < 0 || f >= float64(len(c)) {
			return nil, false
		}
		return norm(c[int(f)]), true
	case *set:
		if c.contains(key) {
			return key, true
		}
	}
	return nil, false
}
