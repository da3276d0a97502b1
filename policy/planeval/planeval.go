// Package planeval evaluates Rego queries from the plan OPA's planner makes
// of them (OPA's intermediate representation, the one its Wasm compiler
// starts from), instead of with OPA's top-down interpreter.
//
// It exists because the interpreter's cost per expression (unification,
// bindings, virtual document lookups, about 1.5 µs each with the garbage
// it leaves) is most of an admission review's cost, while a plan is a
// short list of resolved statements over local slots: the same policies,
// the same built-in implementations (OPA's own, called by name), a
// fraction of the work. OPA ships no Go evaluator of plans, only the
// Wasm compiler, whose runtime needs cgo; this package is one, following
// the Wasm compiler's semantics statement by statement (block and break
// labels, scans, negation, with, memoized rules).
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
	plan     *ir.Plan
	planSize int
	funcs    map[string]*function
	byPath   map[string]*function
	strings  []any
	numbers  []any
	builtins map[string]*builtin
	files    []string
	nfuncs   int
	// calls resolves each call statement of the plan to its callee.
	calls map[*ir.CallStmt]callee
	// evaluators pools evaluation state (see evaluator).
	evaluators sync.Pool
}

type callee struct {
	fn      *function
	builtin *builtin
}

type function struct {
	index  int
	fn     *ir.Func
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
		plan:     pol.Plans.Plans[0],
		funcs:    map[string]*function{},
		byPath:   map[string]*function{},
		builtins: map[string]*builtin{},
		calls:    map[*ir.CallStmt]callee{},
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
	p.planSize = blocksSize(p.plan.Blocks, 2)
	if pol.Funcs != nil {
		for i, fn := range pol.Funcs.Funcs {
			size := blocksSize(fn.Blocks, int(fn.Return)+1)
			for _, l := range fn.Params {
				size = max(size, int(l)+1)
			}
			f := &function{index: i, fn: fn, size: size, memo: len(fn.Params) == 2, params: fn.Params}
			p.funcs[fn.Name] = f
			if len(fn.Path) > 0 {
				p.byPath[strings.Join(fn.Path, "/")] = f
			}
		}
		p.nfuncs = len(pol.Funcs.Funcs)
	}
	// Every call resolves now, not at the first request that takes its
	// branch.
	var missing error
	_ = ir.Walk(visitor(func(x any) {
		c, ok := x.(*ir.CallStmt)
		if !ok || missing != nil {
			return
		}
		if f, ok := p.funcs[c.Func]; ok {
			p.calls[c] = callee{fn: f}
			return
		}
		b, ok := p.builtins[c.Func]
		if !ok {
			b = &builtin{name: c.Func, native: native(c.Func), opa: topdown.GetBuiltin(c.Func)}
			if decl, ok := ast.BuiltinMap[c.Func]; ok {
				b.relation = decl.Relation
			}
			if x, ok := extra[c.Func]; ok && x != nil && x.Func != nil {
				b.opa = x.Func
			}
			if b.native == nil && b.opa == nil {
				missing = fmt.Errorf("call to unknown function %s", c.Func)
				return
			}
			p.builtins[c.Func] = b
		}
		p.calls[c] = callee{builtin: b}
	}), pol)
	return p, missing
}

type visitor func(any)

func (visitor) Before(any)                        {}
func (v visitor) Visit(x any) (ir.Visitor, error) { v(x); return v, nil }
func (visitor) After(any)                         {}

// blocksSize is the number of local slots the blocks need, at least min.
func blocksSize(blocks []*ir.Block, min int) int {
	size := min
	see := func(l ir.Local) { size = max(size, int(l)+1) }
	seeOp := func(o ir.Operand) {
		if l, ok := o.Value.(ir.Local); ok {
			see(l)
		}
	}
	for _, b := range blocks {
		_ = ir.Walk(visitor(func(x any) {
			switch s := x.(type) {
			case *ir.ReturnLocalStmt:
				see(s.Source)
			case *ir.CallStmt:
				see(s.Result)
				for _, a := range s.Args {
					seeOp(a)
				}
			case *ir.CallDynamicStmt:
				see(s.Result)
				for _, a := range s.Args {
					see(a)
				}
				for _, a := range s.Path {
					seeOp(a)
				}
			case *ir.DotStmt:
				seeOp(s.Source)
				seeOp(s.Key)
				see(s.Target)
			case *ir.LenStmt:
				seeOp(s.Source)
				see(s.Target)
			case *ir.ScanStmt:
				see(s.Source)
				see(s.Key)
				see(s.Value)
			case *ir.AssignIntStmt:
				see(s.Target)
			case *ir.AssignVarStmt:
				seeOp(s.Source)
				see(s.Target)
			case *ir.AssignVarOnceStmt:
				seeOp(s.Source)
				see(s.Target)
			case *ir.ResetLocalStmt:
				see(s.Target)
			case *ir.MakeNullStmt:
				see(s.Target)
			case *ir.MakeNumberIntStmt:
				see(s.Target)
			case *ir.MakeNumberRefStmt:
				see(s.Target)
			case *ir.MakeArrayStmt:
				see(s.Target)
			case *ir.MakeObjectStmt:
				see(s.Target)
			case *ir.MakeSetStmt:
				see(s.Target)
			case *ir.EqualStmt:
				seeOp(s.A)
				seeOp(s.B)
			case *ir.NotEqualStmt:
				seeOp(s.A)
				seeOp(s.B)
			case *ir.IsArrayStmt:
				seeOp(s.Source)
			case *ir.IsObjectStmt:
				seeOp(s.Source)
			case *ir.IsSetStmt:
				seeOp(s.Source)
			case *ir.IsDefinedStmt:
				see(s.Source)
			case *ir.IsUndefinedStmt:
				see(s.Source)
			case *ir.ArrayAppendStmt:
				seeOp(s.Value)
				see(s.Array)
			case *ir.ObjectInsertStmt:
				seeOp(s.Key)
				seeOp(s.Value)
				see(s.Object)
			case *ir.ObjectInsertOnceStmt:
				seeOp(s.Key)
				seeOp(s.Value)
				see(s.Object)
			case *ir.ObjectMergeStmt:
				see(s.A)
				see(s.B)
				see(s.Target)
			case *ir.SetAddStmt:
				seeOp(s.Value)
				see(s.Set)
			case *ir.WithStmt:
				see(s.Local)
				seeOp(s.Value)
			case *ir.ResultSetAddStmt:
				see(s.Value)
			}
		}), b)
	}
	return size
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
	results, err := p.results(ctx, input)
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
// variables of the query's first solution, as encoding/json would decode
// them (sets as arrays, in Rego's order), or nil when the query has no
// solution.
func (p *Program) First(ctx context.Context, input any) (map[string]any, error) {
	results, err := p.results(ctx, norm(input))
	if err != nil || len(results) == 0 {
		return nil, err
	}
	first, err := toJSON(results[0])
	if err != nil {
		return nil, err
	}
	vars, _ := first.(map[string]any)
	return vars, nil
}

// results evaluates the query on input (nil: undefined).
func (p *Program) results(ctx context.Context, input any) ([]any, error) {
	ev := p.evaluators.Get().(*evaluator)
	defer p.release(ev)
	ev.ctx = ctx
	ev.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noMetrics, Cache: builtins.Cache{}}
	locals := ev.frame(p.planSize)
	locals[ir.Input] = input
	locals[ir.Data] = emptyData
	for _, b := range p.plan.Blocks {
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

// block runs b's statements on locals. It returns -1 when the block ran to
// its end, returned after a ReturnLocalStmt, or n ≥ 0 when control leaves
// it towards the n-th enclosing label (0: the end of this block).
func (ev *evaluator) block(locals []any, b *ir.Block) (int, error) {
	for _, s := range b.Stmts {
		switch s := s.(type) {
		case *ir.DotStmt:
			src := ev.operand(locals, s.Source)
			if src == nil {
				return 0, nil
			}
			v, ok := dotValue(src, ev.operand(locals, s.Key))
			if !ok {
				return 0, nil
			}
			locals[s.Target] = v
		case *ir.AssignVarStmt:
			locals[s.Target] = ev.operand(locals, s.Source)
		case *ir.AssignVarOnceStmt:
			v := ev.operand(locals, s.Source)
			if cur := locals[s.Target]; cur != nil && !equal(cur, v) {
				return 0, ev.conflict(s.Location, "complete rules must not produce multiple outputs")
			}
			locals[s.Target] = v
		case *ir.CallStmt:
			v, err := ev.call(locals, s)
			if err != nil {
				return 0, err
			}
			if v == nil {
				return 0, nil
			}
			locals[s.Result] = v
		case *ir.NotEqualStmt:
			a, b := ev.operand(locals, s.A), ev.operand(locals, s.B)
			if a == nil || b == nil || equal(a, b) {
				return 0, nil
			}
		case *ir.EqualStmt:
			a, b := ev.operand(locals, s.A), ev.operand(locals, s.B)
			if a == nil || b == nil || !equal(a, b) {
				return 0, nil
			}
		case *ir.IsDefinedStmt:
			if locals[s.Source] == nil {
				return 0, nil
			}
		case *ir.IsUndefinedStmt:
			if locals[s.Source] != nil {
				return 0, nil
			}
		case *ir.ResetLocalStmt:
			locals[s.Target] = nil
		case *ir.ReturnLocalStmt:
			// The caller reads the return local itself.
			return returned, nil
		case *ir.BlockStmt:
			for _, nb := range s.Blocks {
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
		case *ir.BreakStmt:
			return int(s.Index), nil
		case *ir.ScanStmt:
			br, err := ev.scan(locals, s)
			if err != nil || br >= 0 {
				return br, err
			}
		case *ir.NotStmt:
			br, err := ev.block(locals, s.Block)
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
		case *ir.ArrayAppendStmt:
			arr, ok := locals[s.Array].([]any)
			if !ok {
				return 0, fmt.Errorf("array append to %T", locals[s.Array])
			}
			locals[s.Array] = append(arr, ev.operand(locals, s.Value))
		case *ir.SetAddStmt:
			st, ok := locals[s.Set].(*set)
			if !ok {
				return 0, fmt.Errorf("set add to %T", locals[s.Set])
			}
			st.add(ev.operand(locals, s.Value))
		case *ir.ObjectInsertStmt:
			obj, ok := locals[s.Object].(*object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[s.Object])
			}
			obj.insert(ev.operand(locals, s.Key), ev.operand(locals, s.Value))
		case *ir.ObjectInsertOnceStmt:
			obj, ok := locals[s.Object].(*object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[s.Object])
			}
			k, v := ev.operand(locals, s.Key), ev.operand(locals, s.Value)
			if cur, ok := obj.get(k); ok && !equal(cur, v) {
				return 0, ev.conflict(s.Location, "object keys must be unique")
			}
			obj.insert(k, v)
		case *ir.ObjectMergeStmt:
			merged, ok := mergeObjects(locals[s.A], locals[s.B])
			if !ok {
				return 0, nil
			}
			locals[s.Target] = merged
		case *ir.MakeArrayStmt:
			locals[s.Target] = make([]any, 0, s.Capacity)
		case *ir.MakeObjectStmt:
			locals[s.Target] = newObject()
		case *ir.MakeSetStmt:
			locals[s.Target] = &set{}
		case *ir.MakeNullStmt:
			locals[s.Target] = null{}
		case *ir.MakeNumberIntStmt:
			locals[s.Target] = box(float64(s.Value))
		case *ir.MakeNumberRefStmt:
			locals[s.Target] = ev.p.numbers[s.Index]
		case *ir.AssignIntStmt:
			locals[s.Target] = box(float64(s.Value))
		case *ir.IsArrayStmt:
			if _, ok := ev.operand(locals, s.Source).([]any); !ok {
				return 0, nil
			}
		case *ir.IsObjectStmt:
			switch ev.operand(locals, s.Source).(type) {
			case map[string]any, *object:
			default:
				return 0, nil
			}
		case *ir.IsSetStmt:
			if _, ok := ev.operand(locals, s.Source).(*set); !ok {
				return 0, nil
			}
		case *ir.LenStmt:
			n, ok, _ := count([]any{ev.operand(locals, s.Source)})
			if !ok {
				return 0, nil
			}
			locals[s.Target] = n
		case *ir.WithStmt:
			br, err := ev.with(locals, s)
			if err != nil || br >= 0 {
				return br, err
			}
		case *ir.CallDynamicStmt:
			v, found, err := ev.callDynamic(locals, s)
			if err != nil {
				return 0, err
			}
			if !found || v == nil {
				return 0, nil
			}
			locals[s.Result] = v
		case *ir.ResultSetAddStmt:
			ev.results.add(locals[s.Value])
		case *ir.NopStmt:
		default:
			return 0, fmt.Errorf("statement %T is not supported", s)
		}
	}
	return -1, nil
}

// scan runs the scan's block for each element of its source; -1 when the
// enclosing block goes on after it. As in Wasm, the block sits in a loop
// inside a block: a break of 0 goes to the next element, of 1 past the
// scan.
func (ev *evaluator) scan(locals []any, s *ir.ScanStmt) (int, error) {
	src := locals[s.Source]
	if src == nil {
		return -1, nil
	}
	br := -1
	var err error
	step := func(k, v any) bool {
		if err = ev.tick(); err != nil {
			return true
		}
		locals[s.Key], locals[s.Value] = k, v
		br, err = ev.block(locals, s.Block)
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

// with runs the statement's block with its local changed; -1 when the
// block held.
func (ev *evaluator) with(locals []any, s *ir.WithStmt) (int, error) {
	saved := locals[s.Local]
	value := ev.operand(locals, s.Value)
	if len(s.Path) == 0 {
		locals[s.Local] = value
	} else {
		path := make([]string, len(s.Path))
		for i, idx := range s.Path {
			path[i] = ev.p.strings[idx].(string)
		}
		locals[s.Local] = upsert(saved, path, value)
	}
	if len(ev.memo) == cap(ev.memo) {
		ev.memo = append(ev.memo, ev.p.newMemoScope())
	} else {
		ev.memo = ev.memo[:len(ev.memo)+1]
		if ev.memo[len(ev.memo)-1].values == nil {
			ev.memo[len(ev.memo)-1] = ev.p.newMemoScope()
		}
	}
	br, err := ev.block(locals, s.Block)
	top := &ev.memo[len(ev.memo)-1]
	clear(top.values)
	clear(top.known)
	ev.memo = ev.memo[:len(ev.memo)-1]
	locals[s.Local] = saved
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

// call runs a planned function or a built-in; nil when undefined.
func (ev *evaluator) call(locals []any, s *ir.CallStmt) (any, error) {
	c := ev.p.calls[s]
	if f := c.fn; f != nil {
		if f.memo {
			if v, ok := ev.memoGet(f.index); ok {
				return v, nil
			}
		}
		frame := ev.frame(f.size)
		for i, a := range s.Args {
			if i < len(f.params) {
				frame[f.params[i]] = ev.operand(locals, a)
			}
		}
		return ev.run(f, frame)
	}
	args := ev.frame(len(s.Args))
	defer ev.pop(args)
	for i, a := range s.Args {
		args[i] = ev.operand(locals, a)
		if args[i] == nil {
			return nil, nil
		}
	}
	return c.builtin.call(ev, args)
}

// run evaluates function f with its parameters set in frame, the top
// frame of the stack, and pops it.
func (ev *evaluator) run(f *function, frame []any) (any, error) {
	defer ev.pop(frame)
	if err := ev.tick(); err != nil {
		return nil, err
	}
	for _, b := range f.fn.Blocks {
		br, err := ev.block(frame, b)
		if err != nil {
			return nil, err
		}
		if br == returned {
			break
		}
	}
	v := frame[f.fn.Return]
	if f.memo {
		ev.memoPut(f.index, v)
	}
	return v, nil
}

func (ev *evaluator) callDynamic(locals []any, s *ir.CallDynamicStmt) (any, bool, error) {
	parts := make([]string, len(s.Path))
	for i, o := range s.Path {
		str, ok := ev.operand(locals, o).(string)
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
	for i, l := range s.Args {
		if i < len(f.params) {
			frame[f.params[i]] = locals[l]
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

func (ev *evaluator) operand(locals []any, o ir.Operand) any {
	switch v := o.Value.(type) {
	case ir.Local:
		return locals[v]
	case ir.StringIndex:
		return ev.p.strings[v]
	case ir.Bool:
		return bool(v)
	}
	return nil
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
