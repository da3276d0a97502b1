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
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/ir"
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
	builtins        map[string]*builtin
	extra           map[string]*topdown.Builtin
	files           []string
	nfuncs          int
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
	c := &compiler{p: p}
	for _, fn := range funcs {
		f := p.funcs[fn.Name]
		c.startFrame(append([]ir.Local{fn.Return}, fn.Params...))
		blocks, err := c.compileBlocks(fn.Blocks)
		if err != nil {
			return nil, fmt.Errorf("function %s: %w", fn.Name, err)
		}
		f.blocks, f.size = blocks, c.frameSize
	}
	c.startFrame([]ir.Local{ir.Input, ir.Data})
	blocks, err := c.compileBlocks(plan.Blocks)
	if err != nil {
		return nil, err
	}
	p.plan, p.planSize = blocks, c.frameSize
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
