// Package planeval evaluates Rego queries from the plan OPA's planner makes
// of them (OPA's intermediate representation, the one its Wasm compiler
// starts from), instead of with OPA's top-down interpreter.
//
// It exists because the interpreter's cost per expression (unification,
// bindings, virtual documents, converting the input to Rego values, about
// 1.5 µs each with the garbage it leaves) made an admission review of a
// new object cost half a millisecond, while a plan is a short list of
// resolved statements over local slots. OPA ships no Go evaluator of
// plans, only the Wasm compiler, whose runtime needs cgo; this package is
// one, following the Wasm compiler's semantics statement by statement
// (block and break labels, scans, negation, with, memoized rules).
//
// It evaluates on Go values (see value.go): the decoded object is read as
// it is, never converted. Built-ins are OPA's implementations, called by
// name, except the few a review calls most, which run natively (see
// builtins.go) and hand OPA every case they do not take on.
//
// A plan is obtained through OPA's target plugin interface
// (rego.Target(Target)), so OPA's compiler and planner do all the
// compiling: Prepare returns a Program that evaluates without rego's
// per-query machinery, and the plugin also serves rego.PreparedEvalQuery
// and OPA's test runner, which is how every Rego unit test of the
// project runs on this evaluator as well as on OPA's.
package planeval

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
	"github.com/open-policy-agent/opa/v1/metrics"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"
	"github.com/open-policy-agent/opa/v1/topdown/builtins"
	"github.com/open-policy-agent/opa/v1/topdown/print"
)

// Target is the rego.Target name under which this evaluator is
// registered with OPA.
const Target = "fluxgate-plan"

func init() {
	rego.RegisterPlugin(Target, plugin{})
}

// Program is a planned query, ready to evaluate. It is immutable and safe
// for concurrent use.
type Program struct {
	plan     []*block
	planSize int
	funcs    map[string]*function
	byPath   map[string]*function
	strings  []any
	numbers  []any
	// konsts are the constants operands read; stringOps, trueOp and
	// falseOp the operands of the plan's strings and booleans.
	konsts          []any
	stringOps       []operand
	trueOp, falseOp operand
	// capacity holds, while a function compiles, the inserts that follow
	// the making of each object local (see compileBlock); frameSize the
	// local slots it uses so far.
	capacity  map[ir.Local]int32
	frameSize int
	builtins  map[string]*builtin
	extra     map[string]*topdown.Builtin
	files     []string
	nfuncs    int
	// evaluators pools evaluation state (see evaluator).
	evaluators sync.Pool
}

type function struct {
	index  int
	blocks []*block
	ret    int
	size   int
	memo   bool
	params []ir.Local
}

// captureKey carries, in the context given to rego's PrepareForEval, where
// Prepare wants the plugin to hand back the Program.
type captureKey struct{}

// Prepare plans query against compiler and returns its Program. It fails
// when OPA's planner cannot plan the query (the caller may then evaluate
// with OPA's interpreter) or when the plan calls a built-in that has no
// implementation.
func Prepare(ctx context.Context, compiler *ast.Compiler, query string, opts ...func(*rego.Rego)) (*Program, error) {
	var got *Program
	ctx = context.WithValue(ctx, captureKey{}, &got)
	args := append([]func(*rego.Rego){rego.Query(query), rego.Compiler(compiler), rego.Target(Target)}, opts...)
	if _, err := rego.New(args...).PrepareForEval(ctx); err != nil {
		return nil, fmt.Errorf("plan %q: %w", query, err)
	}
	if got == nil {
		return nil, fmt.Errorf("plan %q: OPA did not hand the plan to the evaluator", query)
	}
	return got, nil
}

type plugin struct{}

// IsTarget implements rego.TargetPlugin.
func (plugin) IsTarget(t string) bool { return t == Target }

// PrepareForEval implements rego.TargetPlugin.
func (plugin) PrepareForEval(ctx context.Context, pol *ir.Policy, opts ...rego.PrepareOption) (rego.TargetPluginEval, error) {
	cfg := &rego.PrepareConfig{}
	for _, o := range opts {
		o(cfg)
	}
	p, err := newProgram(pol, cfg.BuiltinFuncs())
	if err != nil {
		return nil, err
	}
	if dst, ok := ctx.Value(captureKey{}).(**Program); ok {
		*dst = p
	}
	return p, nil
}

func newProgram(pol *ir.Policy, extra map[string]*topdown.Builtin) (*Program, error) {
	if pol.Plans == nil || len(pol.Plans.Plans) != 1 {
		return nil, errors.New("want exactly one plan")
	}
	p := &Program{
		funcs:    map[string]*function{},
		byPath:   map[string]*function{},
		builtins: map[string]*builtin{},
		extra:    extra,
	}
	p.evaluators.New = p.newEvaluator
	if pol.Static != nil {
		for _, s := range pol.Static.Strings {
			p.strings = append(p.strings, s.Value)
			p.numbers = append(p.numbers, number(ast.Number(s.Value)))
		}
		for _, f := range pol.Static.Files {
			p.files = append(p.files, f.Value)
		}
	}
	p.konsts = []any{nil} // ^0: undefined
	for _, str := range p.strings {
		p.stringOps = append(p.stringOps, p.konst(str))
	}
	p.trueOp, p.falseOp = p.konst(true), p.konst(false)
	plan := pol.Plans.Plans[0]
	var funcs []*ir.Func
	if pol.Funcs != nil {
		funcs = pol.Funcs.Funcs
	}
	// Every function exists before any is compiled: calls name them.
	for i, fn := range funcs {
		f := &function{index: i, ret: int(fn.Return), memo: len(fn.Params) == 2, params: fn.Params}
		p.funcs[fn.Name] = f
		if len(fn.Path) > 0 {
			p.byPath[strings.Join(fn.Path, "/")] = f
		}
	}
	p.nfuncs = len(funcs)
	for _, fn := range funcs {
		f := p.funcs[fn.Name]
		p.startFrame(append([]ir.Local{fn.Return}, fn.Params...))
		blocks, err := p.compileBlocks(fn.Blocks)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.Name, err)
		}
		f.blocks, f.size = blocks, p.frameSize
	}
	p.startFrame([]ir.Local{ir.Input, ir.Data})
	blocks, err := p.compileBlocks(plan.Blocks)
	if err != nil {
		return nil, err
	}
	p.plan, p.planSize = blocks, p.frameSize
	p.capacity = nil
	return p, nil
}

// builtin resolves the built-in name, once per program.
func (p *Program) builtin(name string) (*builtin, error) {
	if b, ok := p.builtins[name]; ok {
		return b, nil
	}
	b := &builtin{name: name, native: native(name), opa: topdown.GetBuiltin(name)}
	if x, ok := p.extra[name]; ok && x != nil && x.Func != nil {
		b.opa = x.Func
	}
	if decl, ok := ast.BuiltinMap[name]; ok {
		b.relation = decl.Relation
	}
	if b.native == nil && b.opa == nil {
		return nil, fmt.Errorf("call to unknown function %s", name)
	}
	p.builtins[name] = b
	return b, nil
}

// Eval implements rego.TargetPluginEval, for rego.PreparedEvalQuery and
// OPA's test runner: the result set of the query on ectx's input.
func (p *Program) Eval(ctx context.Context, ectx *rego.EvalContext, _ ast.Value) (ast.Value, error) {
	var input any
	if v := ectx.ParsedInput(); v != nil {
		input = fromAST(v)
	} else if raw := ectx.RawInput(); raw != nil {
		v, err := ast.InterfaceToValue(*raw)
		if err != nil {
			return nil, fmt.Errorf("convert input: %w", err)
		}
		input = fromAST(v)
	}
	results, err := p.resultsWith(ctx, input, ectx.PrintHook())
	if err != nil {
		return nil, err
	}
	out := ast.NewSet()
	for _, r := range results {
		out.Add(ast.NewTerm(toAST(r)))
	}
	return out, nil
}

// First evaluates the query on input, a value as encoding/json decodes
// it (containers as map[string]any and []any; numbers of any Go number
// type), which the evaluation reads but never modifies. It returns the
// query's first solution, or nil when the query has none.
func (p *Program) First(ctx context.Context, input any) (*Result, error) {
	results, err := p.results(ctx, norm(input))
	if err != nil || len(results) == 0 {
		return nil, err
	}
	obj, ok := results[0].(*object)
	if !ok {
		return nil, fmt.Errorf("planeval: a solution is a %T, not an object", results[0])
	}
	return &Result{vars: obj}, nil
}

// Result is one solution of a query: the values of its variables.
type Result struct{ vars *object }

// Var returns the value of the query variable name as encoding/json would
// decode it (sets as arrays, in Rego's order); nil when the solution does
// not bind it.
func (r *Result) Var(name string) (any, error) {
	if r == nil {
		return nil, nil
	}
	v, ok := r.vars.get(name)
	if !ok {
		return nil, nil
	}
	return toJSON(v)
}

// results evaluates the query on input (nil: undefined).
func (p *Program) results(ctx context.Context, input any) ([]any, error) {
	return p.resultsWith(ctx, input, nil)
}

// resultsWith is results, printing print() calls to hook: OPA's test
// runner captures them; the engine's policies print nowhere.
func (p *Program) resultsWith(ctx context.Context, input any, hook print.Hook) ([]any, error) {
	ev := p.evaluators.Get().(*evaluator)
	defer p.release(ev)
	ev.ctx = ctx
	ev.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noMetrics, Cache: builtins.Cache{}, PrintHook: hook}
	locals := ev.frame(p.planSize)
	locals[ir.Input] = input
	locals[ir.Data] = emptyData
	for _, b := range p.plan {
		if _, err := ev.block(locals, b); err != nil {
			return nil, err
		}
	}
	return ev.results.elems, nil
}

// emptyData is data: fluxgate loads no base documents.
var emptyData = map[string]any{}

// release clears what an evaluation left in ev, so that it holds no
// request's values while pooled, and pools it.
func (p *Program) release(ev *evaluator) {
	clear(ev.stack[:min(ev.top, len(ev.stack))])
	ev.top = 0
	for i := range ev.memo {
		clear(ev.memo[i].values)
		clear(ev.memo[i].known)
	}
	ev.memo = ev.memo[:1]
	ev.ctx, ev.bctx, ev.results = nil, topdown.BuiltinContext{}, set{}
	ev.steps = 0
	p.evaluators.Put(ev)
}

func (p *Program) newEvaluator() any {
	ev := &evaluator{p: p, stack: make([]any, 256)}
	ev.memo = []memoScope{p.newMemoScope()}
	return ev
}

func (p *Program) newMemoScope() memoScope {
	return memoScope{values: make([]any, p.nfuncs), known: make([]bool, p.nfuncs)}
}

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
			var v any
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
			k, v := get(locals, k, in.a), get(locals, k, in.b)
			if cur, ok := obj.get(k); ok && !equal(cur, v) {
				return 0, ev.conflict(in.rare.loc, "object keys must be unique")
			}
			if obj == emptyObject {
				obj = newObjectCap(int(in.n))
				locals[in.target] = obj
			}
			obj.insert(k, v)
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
	out := map[string]any{}
	switch d := doc.(type) {
	case map[string]any:
		for k, v := range d {
			out[k] = v
		}
	case *object:
		o := newObject()
		for _, it := range d.items {
			o.insert(it.key, it.val)
		}
		if len(path) == 1 {
			o.insert(path[0], value)
		} else {
			cur, _ := o.get(path[0])
			o.insert(path[0], upsert(cur, path[1:], value))
		}
		return o
	}
	if len(path) == 1 {
		out[path[0]] = value
	} else {
		out[path[0]] = upsert(out[path[0]], path[1:], value)
	}
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
