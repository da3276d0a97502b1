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
	plan      *ir.Plan
	planSize  int
	funcs     map[string]*function
	byPath    map[string]*function
	strings   []*ast.Term
	numbers   []*ast.Term
	builtins  map[string]topdown.BuiltinFunc
	files     []string
	nfuncs    int
	emptyData *ast.Term
	// evaluators pools evaluation state (see evaluator).
	evaluators sync.Pool
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
		plan:      pol.Plans.Plans[0],
		funcs:     map[string]*function{},
		byPath:    map[string]*function{},
		builtins:  map[string]topdown.BuiltinFunc{},
		emptyData: ast.NewTerm(ast.NewObject()),
	}
	if pol.Static != nil {
		for _, s := range pol.Static.Strings {
			p.strings = append(p.strings, ast.StringTerm(s.Value))
			p.numbers = append(p.numbers, ast.NewTerm(ast.Number(s.Value)))
		}
		for _, f := range pol.Static.Files {
			p.files = append(p.files, f.Value)
		}
		for _, b := range pol.Static.BuiltinFuncs {
			impl := topdown.GetBuiltin(b.Name)
			if x, ok := extra[b.Name]; ok && x != nil && x.Func != nil {
				impl = x.Func
			}
			if impl == nil {
				return nil, fmt.Errorf("built-in %s has no implementation", b.Name)
			}
			p.builtins[b.Name] = impl
		}
	}
	p.evaluators.New = p.newEvaluator
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
	// Every call must resolve now, not at the first request that takes
	// that branch.
	var missing error
	_ = ir.Walk(visitor(func(x any) {
		if c, ok := x.(*ir.CallStmt); ok && missing == nil {
			if _, ok := p.funcs[c.Func]; !ok {
				if _, ok := p.builtins[c.Func]; !ok {
					if impl := topdown.GetBuiltin(c.Func); impl != nil {
						p.builtins[c.Func] = impl
					} else {
						missing = fmt.Errorf("call to unknown function %s", c.Func)
					}
				}
			}
		}
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
	var input *ast.Term
	if v := ectx.ParsedInput(); v != nil {
		input = ast.NewTerm(v)
	} else if raw := ectx.RawInput(); raw != nil {
		v, err := ast.InterfaceToValue(*raw)
		if err != nil {
			return nil, fmt.Errorf("convert input: %w", err)
		}
		input = ast.NewTerm(v)
	}
	return p.Results(ctx, input)
}

// Results evaluates the query on input (nil: undefined) and returns its
// result set: one object per solution, binding the query's variables.
func (p *Program) Results(ctx context.Context, input *ast.Term) (ast.Set, error) {
	ev := p.evaluators.Get().(*evaluator)
	defer p.release(ev)
	ev.ctx, ev.results = ctx, ast.NewSet()
	ev.bctx = topdown.BuiltinContext{Context: ctx, Metrics: noMetrics, Cache: builtins.Cache{}}
	locals := ev.frame(p.planSize)
	locals[ir.Input] = input
	locals[ir.Data] = p.emptyData
	for _, b := range p.plan.Blocks {
		if _, err := ev.block(locals, b); err != nil {
			return nil, err
		}
	}
	return ev.results, nil
}

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
	ev.ctx, ev.results, ev.bctx, ev.out = nil, nil, topdown.BuiltinContext{}, nil
	ev.steps = 0
	p.evaluators.Put(ev)
}

func (p *Program) newEvaluator() any {
	ev := &evaluator{p: p, stack: make([]*ast.Term, 256)}
	ev.memo = []memoScope{p.newMemoScope()}
	ev.emit = ev.setOut
	return ev
}

func (p *Program) newMemoScope() memoScope {
	return memoScope{values: make([]*ast.Term, p.nfuncs), known: make([]bool, p.nfuncs)}
}

// First evaluates the query on input and returns the variables of its
// first solution, nil when it has none.
func (p *Program) First(ctx context.Context, input *ast.Term) (ast.Object, error) {
	rs, err := p.Results(ctx, input)
	if err != nil || rs.Len() == 0 {
		return nil, err
	}
	var first ast.Object
	rs.Until(func(t *ast.Term) bool {
		first, _ = t.Value.(ast.Object)
		return true
	})
	return first, nil
}

var noMetrics = metrics.NoOp()

// evaluator is one evaluation's state. Evaluators are pooled per Program:
// their stack of local slots and their memo tables are reused.
type evaluator struct {
	p       *Program
	ctx     context.Context
	bctx    topdown.BuiltinContext
	results ast.Set
	// stack holds the local slots of the functions being evaluated, top
	// the first free slot.
	stack []*ast.Term
	top   int
	// memo holds the values of the rules (functions of input and data
	// only) evaluated so far, one scope per enclosing with.
	memo []memoScope
	// out receives a built-in's result through emit.
	out   *ast.Term
	emit  func(*ast.Term) error
	steps int
}

type memoScope struct {
	values []*ast.Term
	known  []bool
}

func (ev *evaluator) setOut(t *ast.Term) error {
	ev.out = t
	return nil
}

// frame returns size fresh local slots on the stack; pop them with
// ev.top -= size once done, after clearing them.
func (ev *evaluator) frame(size int) []*ast.Term {
	if ev.top+size > len(ev.stack) {
		// The frames below keep the old array: slices of it stay valid,
		// and their slots in the new one stay unused until they are popped.
		ev.stack = make([]*ast.Term, max(2*len(ev.stack), ev.top+size))
	}
	f := ev.stack[ev.top : ev.top+size : ev.top+size]
	ev.top += size
	return f
}

// returned is the block result that carries a ReturnLocalStmt up to its
// function; other results are -1 (the block ran to its end) or the number
// of enclosing labels a break still has to leave, as in Wasm.
const returned = 1 << 30

// block runs b's statements on locals. It returns -1 when the block ran to
// its end, returned after a ReturnLocalStmt, or n ≥ 0 when control leaves
// it towards the n-th enclosing label (0: the end of this block).
func (ev *evaluator) block(locals []*ast.Term, b *ir.Block) (int, error) {
	for _, s := range b.Stmts {
		switch s := s.(type) {
		case *ir.DotStmt:
			src := ev.operand(locals, s.Source)
			if src == nil {
				return 0, nil
			}
			v := dot(src, ev.operand(locals, s.Key))
			if v == nil {
				return 0, nil
			}
			locals[s.Target] = v
		case *ir.AssignVarStmt:
			locals[s.Target] = ev.operand(locals, s.Source)
		case *ir.AssignVarOnceStmt:
			v := ev.operand(locals, s.Source)
			if cur := locals[s.Target]; cur != nil && ast.Compare(cur.Value, v.Value) != 0 {
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
			if a == nil || b == nil || ast.Compare(a.Value, b.Value) == 0 {
				return 0, nil
			}
		case *ir.EqualStmt:
			a, b := ev.operand(locals, s.A), ev.operand(locals, s.B)
			if a == nil || b == nil || ast.Compare(a.Value, b.Value) != 0 {
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
			arr, ok := locals[s.Array].Value.(*ast.Array)
			if !ok {
				return 0, fmt.Errorf("array append to %T", locals[s.Array].Value)
			}
			locals[s.Array] = ast.NewTerm(arr.Append(ev.operand(locals, s.Value)))
		case *ir.SetAddStmt:
			set, ok := locals[s.Set].Value.(ast.Set)
			if !ok {
				return 0, fmt.Errorf("set add to %T", locals[s.Set].Value)
			}
			set.Add(ev.operand(locals, s.Value))
		case *ir.ObjectInsertStmt:
			obj, ok := locals[s.Object].Value.(ast.Object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[s.Object].Value)
			}
			obj.Insert(ev.operand(locals, s.Key), ev.operand(locals, s.Value))
		case *ir.ObjectInsertOnceStmt:
			obj, ok := locals[s.Object].Value.(ast.Object)
			if !ok {
				return 0, fmt.Errorf("object insert into %T", locals[s.Object].Value)
			}
			k, v := ev.operand(locals, s.Key), ev.operand(locals, s.Value)
			if cur := obj.Get(k); cur != nil && ast.Compare(cur.Value, v.Value) != 0 {
				return 0, ev.conflict(s.Location, "object keys must be unique")
			}
			obj.Insert(k, v)
		case *ir.ObjectMergeStmt:
			a, aok := locals[s.A].Value.(ast.Object)
			b, bok := locals[s.B].Value.(ast.Object)
			if !aok || !bok {
				return 0, nil
			}
			merged, ok := a.Merge(b)
			if !ok {
				return 0, nil
			}
			locals[s.Target] = ast.NewTerm(merged)
		case *ir.MakeArrayStmt:
			locals[s.Target] = ast.NewTerm(ast.NewArrayWithCapacity(int(s.Capacity)))
		case *ir.MakeObjectStmt:
			locals[s.Target] = ast.NewTerm(ast.NewObject())
		case *ir.MakeSetStmt:
			locals[s.Target] = ast.NewTerm(ast.NewSet())
		case *ir.MakeNullStmt:
			locals[s.Target] = ast.NullTerm()
		case *ir.MakeNumberIntStmt:
			locals[s.Target] = ast.InternedTerm(int(s.Value))
		case *ir.MakeNumberRefStmt:
			locals[s.Target] = ev.p.numbers[s.Index]
		case *ir.AssignIntStmt:
			locals[s.Target] = ast.InternedTerm(int(s.Value))
		case *ir.IsArrayStmt:
			if v := ev.operand(locals, s.Source); v == nil || !isArray(v) {
				return 0, nil
			}
		case *ir.IsObjectStmt:
			if v := ev.operand(locals, s.Source); v == nil || !isObject(v) {
				return 0, nil
			}
		case *ir.IsSetStmt:
			if v := ev.operand(locals, s.Source); v == nil || !isSet(v) {
				return 0, nil
			}
		case *ir.LenStmt:
			n, ok := length(ev.operand(locals, s.Source))
			if !ok {
				return 0, nil
			}
			locals[s.Target] = ast.InternedTerm(n)
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
			ev.results.Add(locals[s.Value])
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
func (ev *evaluator) scan(locals []*ast.Term, s *ir.ScanStmt) (int, error) {
	src := locals[s.Source]
	if src == nil {
		return -1, nil
	}
	if err := ev.tick(); err != nil {
		return 0, err
	}
	var br int
	var err error
	step := func(k, v *ast.Term) bool {
		locals[s.Key], locals[s.Value] = k, v
		br, err = ev.block(locals, s.Block)
		return err != nil || br >= 1
	}
	switch c := src.Value.(type) {
	case *ast.Array:
		for i := range c.Len() {
			if step(ast.InternedTerm(i), c.Elem(i)) {
				break
			}
		}
	case ast.Object:
		c.Until(func(k, v *ast.Term) bool { return step(k, v) })
	case ast.Set:
		c.Until(func(x *ast.Term) bool { return step(x, x) })
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
func (ev *evaluator) with(locals []*ast.Term, s *ir.WithStmt) (int, error) {
	saved := locals[s.Local]
	value := ev.operand(locals, s.Value)
	if len(s.Path) == 0 {
		locals[s.Local] = value
	} else {
		path := make([]*ast.Term, len(s.Path))
		for i, idx := range s.Path {
			path[i] = ev.p.strings[idx]
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
// path, copying each object along the path.
func upsert(doc *ast.Term, path []*ast.Term, value *ast.Term) *ast.Term {
	var obj ast.Object
	if doc != nil {
		if o, ok := doc.Value.(ast.Object); ok {
			obj = o.Copy()
		}
	}
	if obj == nil {
		obj = ast.NewObject()
	}
	if len(path) == 1 {
		obj.Insert(path[0], value)
	} else {
		obj.Insert(path[0], upsert(obj.Get(path[0]), path[1:], value))
	}
	return ast.NewTerm(obj)
}

// call runs a planned function or a built-in; nil when undefined.
func (ev *evaluator) call(locals []*ast.Term, s *ir.CallStmt) (*ast.Term, error) {
	if f, ok := ev.p.funcs[s.Func]; ok {
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
	impl := ev.p.builtins[s.Func]
	args := ev.frame(len(s.Args))
	defer ev.pop(args)
	for i, a := range s.Args {
		args[i] = ev.operand(locals, a)
		if args[i] == nil {
			return nil, nil
		}
	}
	ev.out = nil
	if err := impl(ev.bctx, args, ev.emit); err != nil {
		// As OPA evaluates with strict built-in errors off: a built-in's
		// error makes its expression undefined, unless it halts.
		var halt topdown.Halt
		if errors.As(err, &halt) {
			return nil, fmt.Errorf("%s: %w", s.Func, err)
		}
		return nil, nil
	}
	return ev.out, nil
}

// pop frees the top frame f.
func (ev *evaluator) pop(f []*ast.Term) {
	clear(f)
	ev.top -= len(f)
}

// run evaluates function f with its parameters set in frame, the top
// frame of the stack, and pops it.
func (ev *evaluator) run(f *function, frame []*ast.Term) (*ast.Term, error) {
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

func (ev *evaluator) callDynamic(locals []*ast.Term, s *ir.CallDynamicStmt) (*ast.Term, bool, error) {
	parts := make([]string, len(s.Path))
	for i, o := range s.Path {
		t := ev.operand(locals, o)
		str, ok := t.Value.(ast.String)
		if !ok {
			return nil, false, nil
		}
		parts[i] = string(str)
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

func (ev *evaluator) memoGet(i int) (*ast.Term, bool) {
	m := &ev.memo[len(ev.memo)-1]
	return m.values[i], m.known[i]
}

func (ev *evaluator) memoPut(i int, v *ast.Term) {
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

func (ev *evaluator) operand(locals []*ast.Term, o ir.Operand) *ast.Term {
	switch v := o.Value.(type) {
	case ir.Local:
		return locals[v]
	case ir.StringIndex:
		return ev.p.strings[v]
	case ir.Bool:
		return ast.InternedTerm(bool(v))
	}
	return nil
}

// dot is src[key], nil when undefined.
func dot(src, key *ast.Term) *ast.Term {
	if key == nil {
		return nil
	}
	switch c := src.Value.(type) {
	case ast.Object:
		return c.Get(key)
	case *ast.Array:
		n, ok := key.Value.(ast.Number)
		if !ok {
			return nil
		}
		i, ok := n.Int()
		if !ok || i < 0 || i >= c.Len() {
			return nil
		}
		return c.Elem(i)
	case ast.Set:
		if c.Contains(key) {
			return key
		}
	}
	return nil
}

func isArray(t *ast.Term) bool  { _, ok := t.Value.(*ast.Array); return ok }
func isObject(t *ast.Term) bool { _, ok := t.Value.(ast.Object); return ok }
func isSet(t *ast.Term) bool    { _, ok := t.Value.(ast.Set); return ok }

func length(t *ast.Term) (int, bool) {
	if t == nil {
		return 0, false
	}
	switch c := t.Value.(type) {
	case *ast.Array:
		return c.Len(), true
	case ast.Object:
		return c.Len(), true
	case ast.Set:
		return c.Len(), true
	case ast.String:
		return len([]rune(string(c))), true
	}
	return 0, false
}
