package policy

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
	"github.com/open-policy-agent/opa/v1/topdown"

	"github.com/fluxgate/fluxgate/policy/planeval"
)

// Finding is one result of one policy about one object.
type Finding struct {
	// Policy is the id of the policy that produced it, or EngineID for
	// findings about exemptions themselves.
	Policy string `json:"policy"`
	// Action is deny or warn for validation findings, mutate for patches.
	Action  Action `json:"action"`
	Message string `json:"message"`
	// Patch holds the operations of a mutate finding.
	Patch []PatchOp `json:"patch,omitempty"`
}

// EngineID is the policy id of findings the engine makes itself, such as
// an exemption annotation without a reason.
const EngineID = "fluxgate"

// Decision is the outcome of evaluating one request.
type Decision struct {
	// Skipped says why no policy was evaluated; empty when some were.
	Skipped string `json:"skipped,omitempty"`
	// Findings in policy id order: mutations first, then denials and
	// warnings.
	Findings []Finding `json:"findings,omitempty"`
	// Patch is every mutation in the order it was applied to Object.
	Patch []PatchOp `json:"patch,omitempty"`
	// Mutated is the object after all patches; nil when nothing changed.
	Mutated map[string]any `json:"-"`
	// Evaluation identifies the evaluation that made the decision, unique
	// in the process (0 for a request no policy was evaluated for). A
	// decision answered from the cache keeps it, so a caller can remember
	// what it derives from the decision and its object, such as the
	// webhook's JSON patch.
	Evaluation uint64 `json:"-"`
}

// evaluations numbers the decisions evaluated in the process.
var evaluations atomic.Uint64

// Denied reports whether any finding denies the request.
func (d *Decision) Denied() bool {
	for _, f := range d.Findings {
		if f.Action == ActionDeny {
			return true
		}
	}
	return false
}

// Messages returns the messages of the findings with the given action,
// each prefixed by its policy id.
func (d *Decision) Messages(action Action) []string {
	var out []string
	for _, f := range d.Findings {
		if f.Action == action {
			out = append(out, f.Policy+": "+f.Message)
		}
	}
	return out
}

// Engine evaluates requests against a Set under a Config. It is immutable
// and safe for concurrent use; build a new one to change either.
//
// One request costs one query per phase: the enabled policies of the
// request's kind are evaluated together, each reading its own parameters
// (see Set). Mutation queries again only the policies after one whose
// patch changed the object, so that each still sees the object as the
// policies before it left it.
type Engine struct {
	set      *Set
	cfg      *Config
	resolved map[string]resolved
	// params holds each policy's parameters, for sets that pass them as
	// input.parameters; allParams holds them all, keyed by policy id, as
	// input.fluxgate_parameters.
	params    map[string]*ast.Term
	allParams *ast.Term
	// nativeParams holds every policy's parameters by id, as the plan
	// evaluator reads input.fluxgate_parameters.
	nativeParams map[string]any
	// enabled lists, per kind, the policies whose action is not off, in
	// id order.
	enabled map[string][]*compiledPolicy
	// queries caches prepared queries by phase and policy ids.
	queries sync.Map
	// interpreter makes the engine evaluate with OPA's interpreter
	// instead of the plan evaluator, for tests that compare the two.
	interpreter bool
	// fallbacks says why queries OPA's planner refused are evaluated by
	// OPA's interpreter.
	fallbacksMu sync.Mutex
	fallbacks   []string
	// cache holds recent decisions (see cache.go).
	cache        *decisionCache
	hits, misses atomic.Int64
}

// NewEngine checks cfg against set and returns an Engine for them.
func NewEngine(set *Set, cfg *Config) (*Engine, error) {
	return newEngine(set, cfg, false)
}

// NewInterpretingEngine is NewEngine evaluating every query with OPA's
// interpreter, as an Engine does only for a query OPA's planner refuses.
// Tests use it to hold the plan evaluator to OPA's results.
func NewInterpretingEngine(set *Set, cfg *Config) (*Engine, error) {
	return newEngine(set, cfg, true)
}

// newEngine is NewEngine, evaluating with OPA's interpreter when
// interpreter is true.
func newEngine(set *Set, cfg *Config, interpreter bool) (*Engine, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	res, err := cfg.resolve(set)
	if err != nil {
		return nil, err
	}
	e := &Engine{set: set, cfg: cfg, interpreter: interpreter, resolved: res, params: make(map[string]*ast.Term, len(res)), enabled: map[string][]*compiledPolicy{}, cache: newDecisionCache()}
	all := ast.NewObject()
	e.nativeParams = make(map[string]any, len(set.policies))
	for _, p := range set.policies {
		id := p.meta.ID
		e.nativeParams[id] = res[id].params
		v, err := ast.InterfaceToValue(res[id].params)
		if err != nil {
			return nil, fmt.Errorf("policy %s: parameters: %w", id, err)
		}
		e.params[id] = ast.NewTerm(v)
		all.Insert(ast.StringTerm(id), e.params[id])
		if res[id].action == ActionOff {
			continue
		}
		for _, k := range p.meta.Kinds {
			e.enabled[k] = append(e.enabled[k], p)
		}
	}
	e.allParams = ast.NewTerm(all)
	// Prepare what every request of a kind asks, so that the first
	// request does not pay for it.
	ctx := context.Background()
	for _, ps := range e.enabled {
		for _, g := range e.groups(ps) {
			if _, err := e.query(ctx, phaseValidate, g); err != nil {
				return nil, err
			}
			if _, err := e.query(ctx, phaseMutate, g); err != nil {
				return nil, err
			}
		}
	}
	return e, nil
}

// Interpreted says why the queries OPA's planner could not plan are
// evaluated by OPA's interpreter, several times slower than the plan
// evaluator; empty when every query is planned (the built-in set's are).
func (e *Engine) Interpreted() []string {
	e.fallbacksMu.Lock()
	defer e.fallbacksMu.Unlock()
	return slices.Clone(e.fallbacks)
}

// Set returns the policy set the engine evaluates.
func (e *Engine) Set() *Set { return e.set }

// ExemptNamespace reports whether objects of namespace ns are never
// evaluated: AlwaysExemptNamespaces, the configuration's fluxNamespace
// (flux-system by default) and its exemptNamespaces.
func (e *Engine) ExemptNamespace(ns string) bool { return e.cfg.exempt(ns) }

// Action returns the effective action of policy id.
func (e *Engine) Action(id string) Action { return e.resolved[id].action }

// Mutate runs every applicable policy's patch rules, each on the object as
// the previous policies left it, and returns the resulting patch.
func (e *Engine) Mutate(ctx context.Context, in *Input) (*Decision, error) {
	return e.decide("mutate", in, func(ev *evaluation, d *Decision) error {
		return ev.mutate(ctx, d)
	})
}

// Validate runs every applicable policy's deny and warn rules.
func (e *Engine) Validate(ctx context.Context, in *Input) (*Decision, error) {
	return e.decide("validate", in, func(ev *evaluation, d *Decision) error {
		return ev.validate(ctx, d)
	})
}

// Review mutates and then validates the mutated object, as the API server
// does with a mutating and a validating webhook. `fluxgate check` uses it.
func (e *Engine) Review(ctx context.Context, in *Input) (*Decision, error) {
	return e.decide("review", in, func(ev *evaluation, d *Decision) error {
		if err := ev.mutate(ctx, d); err != nil {
			return err
		}
		return ev.validate(ctx, d)
	})
}

// decide answers a request from the decision cache (see cache.go) or by
// evaluating it. Decision.Mutated may be shared with other callers and
// must not be modified.
func (e *Engine) decide(phase string, in *Input, evaluate func(*evaluation, *Decision) error) (*Decision, error) {
	ev, d := e.begin(in)
	if ev == nil {
		return d, nil
	}
	key, cacheable := keyOf(phase, in)
	if cacheable {
		if cached, hit := e.cache.get(key); hit {
			e.hits.Add(1)
			return cached, nil
		}
	}
	e.misses.Add(1)
	ev.prepare()
	if err := evaluate(ev, d); err != nil {
		return d, err
	}
	d.Evaluation = evaluations.Add(1)
	if cacheable {
		e.cache.put(key, d)
	}
	return d, nil
}

// CacheStats returns how many decisions were answered from the cache and
// how many were evaluated, since the engine was built.
func (e *Engine) CacheStats() (hits, misses int64) {
	return e.hits.Load(), e.misses.Load()
}

type phase string

const (
	phaseValidate phase = "validate"
	phaseMutate   phase = "mutate"
)

// groups splits policies into the lists one query evaluates together:
// all of them, or one each when the set passes parameters as
// input.parameters.
func (e *Engine) groups(ps []*compiledPolicy) [][]*compiledPolicy {
	if len(ps) == 0 {
		return nil
	}
	if !e.set.parametersInInput {
		return [][]*compiledPolicy{ps}
	}
	out := make([][]*compiledPolicy, len(ps))
	for i, p := range ps {
		out[i] = []*compiledPolicy{p}
	}
	return out
}

// query returns the prepared query of phase over ps, preparing it on first
// use; nil when none of ps has rules of that phase.
func (e *Engine) query(ctx context.Context, ph phase, ps []*compiledPolicy) (*preparedQuery, error) {
	var key strings.Builder
	key.WriteString(string(ph))
	for _, p := range ps {
		key.WriteByte('|')
		key.WriteString(p.meta.ID)
	}
	if q, ok := e.queries.Load(key.String()); ok {
		return q.(*preparedQuery), nil
	}
	text := validationQuery(ps)
	if ph == phaseMutate {
		text = mutationQuery(ps)
	}
	var pq *preparedQuery
	if text != "" {
		var err error
		if pq, err = e.prepareQuery(ctx, ph, ps, text); err != nil {
			return nil, fmt.Errorf("policies %s: %w", ids(ps), err)
		}
	}
	q, _ := e.queries.LoadOrStore(key.String(), pq)
	return q.(*preparedQuery), nil
}

// preparedQuery is one query, planned for the plan evaluator (see
// planeval), or prepared for OPA's interpreter when OPA's planner cannot
// plan it, or, when it cannot plan a query of several policies, the
// queries of each policy (parts, nil for a policy without rules of the
// phase), so that only the policies it refuses are interpreted.
type preparedQuery struct {
	plan    *planeval.Program
	topdown *rego.PreparedEvalQuery
	parts   []*preparedQuery
}

func (e *Engine) prepareQuery(ctx context.Context, ph phase, ps []*compiledPolicy, text string) (*preparedQuery, error) {
	if !e.interpreter {
		plan, err := e.locked(func() (any, error) { return planeval.Prepare(ctx, e.set.compiler, text) })
		if err == nil {
			return &preparedQuery{plan: plan.(*planeval.Program)}, nil
		}
		if len(ps) > 1 {
			parts := make([]*preparedQuery, len(ps))
			for i := range ps {
				part, err := e.query(ctx, ph, ps[i:i+1])
				if err != nil {
					return nil, err
				}
				parts[i] = part
			}
			return &preparedQuery{parts: parts}, nil
		}
		e.fallbacksMu.Lock()
		e.fallbacks = append(e.fallbacks, fmt.Sprintf("policy %s, %s: %v", ps[0].meta.ID, ph, err))
		e.fallbacksMu.Unlock()
	}
	td, err := e.locked(func() (any, error) { return prepare(ctx, e.set.compiler, text) })
	if err != nil {
		return nil, err
	}
	return &preparedQuery{topdown: td.(*rego.PreparedEvalQuery)}, nil
}

// locked prepares a query against the set's compiler. Preparing one for a
// target plugin writes the compiler's evaluation mode (rego.New), and
// queries are prepared on demand while others are prepared or
// evaluated: one at a time per set.
func (e *Engine) locked(prepare func() (any, error)) (any, error) {
	e.set.prepareMu.Lock()
	defer e.set.prepareMu.Unlock()
	return prepare()
}

func ids(ps []*compiledPolicy) string {
	out := make([]string, len(ps))
	for i, p := range ps {
		out[i] = p.meta.ID
	}
	return strings.Join(out, ", ")
}

// evaluation holds what one request's queries share.
type evaluation struct {
	e        *Engine
	in       *Input
	object   map[string]any
	policies []*compiledPolicy
	exempt   exemptions
	// shared is the plan evaluator's input: what every query of the
	// request shares, and the request and parameters of the query that
	// runs (queries run one after another, and none keeps its input).
	shared map[string]any
	// related, context and maintenance are those parts as Rego values,
	// for queries OPA's interpreter evaluates.
	related     *ast.Term
	context     *ast.Term
	maintenance *ast.Term
	// request is input.request as the last query saw it, while the
	// object has not changed since; requestMap is its map (see render).
	request    *rendered
	requestMap map[string]any
}

// begin decides whether the request is evaluated at all and, if so, which
// policies apply. A nil evaluation means skipped, with the reason in the
// Decision.
func (e *Engine) begin(in *Input) (*evaluation, *Decision) {
	d := &Decision{}
	req := &in.Request
	if reason, ok := e.cfg.exemptReason(req.Namespace); ok {
		d.Skipped = reason
		return nil, d
	}
	obj := req.object()
	if obj == nil {
		d.Skipped = "request carries no object"
		return nil, d
	}
	ev := &evaluation{e: e, in: in, object: obj, exempt: parseExemptions(obj, e.set)}
	ev.policies = e.enabled[req.Kind.Kind]
	if ev.exempt.valid {
		ev.policies = slices.DeleteFunc(slices.Clone(ev.policies), func(p *compiledPolicy) bool { return ev.exempt.ids[p.meta.ID] })
	}
	if len(ev.policies) == 0 && len(ev.exempt.findings) == 0 {
		d.Skipped = fmt.Sprintf("no enabled policy applies to %s", kindName(req.Kind.Kind))
		return nil, d
	}
	return ev, d
}

// prepare renders what every query of the request shares, for the plan
// evaluator; the Rego values OPA's interpreter needs are converted only
// for a query that runs on it (see terms).
func (ev *evaluation) prepare() {
	in := ev.in
	ev.shared = make(map[string]any, 6)
	ev.shared["related"] = in.Related.native(in.Request.Kind.Kind, in.Request.Name)
	ev.shared["context"] = contexts[in.Complete]
	ev.shared["maintenance"] = in.Maintenance.native()
}

// contexts are input.context, by Input.Complete; shared, as the plan
// evaluator never modifies its input.
var contexts = map[bool]map[string]any{false: {"complete": false}, true: {"complete": true}}

// terms converts what every query of the request shares for OPA's
// interpreter, once.
func (ev *evaluation) terms() error {
	if ev.related != nil {
		return nil
	}
	in := ev.in
	maint, err := in.Maintenance.toTerm()
	if err != nil {
		return err
	}
	related, err := in.Related.term(in.Request.Kind.Kind, in.Request.Name)
	if err != nil {
		return err
	}
	ev.related = related
	ev.context = ast.ObjectTerm(ast.Item(ast.StringTerm("complete"), ast.BooleanTerm(in.Complete)))
	ev.maintenance = maint
	return nil
}

func kindName(k string) string {
	if k == "" {
		return "objects without a kind"
	}
	return k
}

// input is the whole input of one query over ps, for the plan evaluator:
// their parameters are in input.fluxgate_parameters, or, for a set that
// reads input.parameters outside its policies, in input.parameters of a
// one-policy query. The evaluator reads it as it is, never converting or
// modifying it.
func (ev *evaluation) input(request map[string]any, ps []*compiledPolicy) map[string]any {
	in := ev.shared
	in["request"] = request
	if ev.e.set.parametersInInput {
		in["parameters"] = ev.e.resolved[ps[0].meta.ID].params
	} else {
		in[parametersKey] = ev.e.nativeParams
	}
	return in
}

// lazyInput is input for OPA's interpreter: a lazy object (see
// Request.native), as request is: they belong to one evaluation, whose
// queries run one after another, as OPA caches the fields it converts
// without a lock.
func (ev *evaluation) lazyInput(request ast.Object, ps []*compiledPolicy) (ast.Value, error) {
	if err := ev.terms(); err != nil {
		return nil, err
	}
	in := map[string]any{
		"request":     request,
		"related":     ev.related.Value,
		"context":     ev.context.Value,
		"maintenance": ev.maintenance.Value,
	}
	if ev.e.set.parametersInInput {
		in["parameters"] = ev.e.params[ps[0].meta.ID].Value
	} else {
		in[parametersKey] = ev.e.allParams.Value
	}
	return ast.LazyObject(in), nil
}

// run evaluates the query of phase over ps and returns its one result's
// bindings, which bind nothing when ps has no rules of that phase.
func (ev *evaluation) run(ctx context.Context, ph phase, ps []*compiledPolicy, request *rendered) (bindings, error) {
	q, err := ev.e.query(ctx, ph, ps)
	if err != nil {
		return nil, err
	}
	return ev.runPrepared(ctx, ph, ps, q, request)
}

func (ev *evaluation) runPrepared(ctx context.Context, ph phase, ps []*compiledPolicy, q *preparedQuery, request *rendered) (bindings, error) {
	if q == nil {
		return noBindings{}, nil
	}
	if q.parts != nil {
		out := make(partBindings, len(q.parts))
		for i, part := range q.parts {
			vars, err := ev.runPrepared(ctx, ph, ps[i:i+1], part, request)
			if err != nil {
				return nil, err
			}
			out[i] = vars
		}
		return out, nil
	}
	if q.plan != nil {
		res, err := q.plan.First(ctx, ev.input(request.native, ps))
		if err != nil {
			return nil, ev.e.evalError(ph, ps, err)
		}
		return res, nil
	}
	if request.lazy == nil {
		request.lazy = ast.LazyObject(request.native)
	}
	input, err := ev.lazyInput(request.lazy, ps)
	if err != nil {
		return nil, err
	}
	rs, err := q.topdown.Eval(ctx, rego.EvalParsedInput(input))
	if err != nil {
		return nil, ev.e.evalError(ph, ps, err)
	}
	if len(rs) == 0 {
		return noBindings{}, nil
	}
	return varsBindings(rs[0].Bindings), nil
}

// bindings are the variables of a query's solution: a *planeval.Result,
// or OPA's interpreter's.
type bindings interface {
	Var(name string) (any, error)
}

type varsBindings rego.Vars

func (v varsBindings) Var(name string) (any, error) { return v[name], nil }

type noBindings struct{}

func (noBindings) Var(string) (any, error) { return nil, nil }

// partBindings are the bindings of the queries of each policy of a
// group, read by the names of the group's query (d<i> is the i-th
// policy's d0).
type partBindings []bindings

func (b partBindings) Var(name string) (any, error) {
	i, err := strconv.Atoi(name[1:])
	if err != nil || i < 0 || i >= len(b) {
		return nil, nil
	}
	return b[i].Var(name[:1] + "0")
}

// resultVar names the variable a combined query binds the rule of the
// i-th policy to (d, w or p; see validationQuery).
func resultVar(rule byte, i int) string {
	if i < len(resultVars) {
		return resultVars[i][rule]
	}
	return fmt.Sprintf("%c%d", rule, i)
}

var resultVars = func() (out [64]map[byte]string) {
	for i := range out {
		out[i] = map[byte]string{}
		for _, r := range []byte("dwp") {
			out[i][r] = fmt.Sprintf("%c%d", r, i)
		}
	}
	return out
}()

// render returns input.request with obj as its object. The map is made
// once per evaluation and its object replaced for each later state:
// queries run one after another, and the bindings of one are read before
// the object changes.
func (ev *evaluation) render(obj map[string]any) *rendered {
	if ev.requestMap == nil {
		ev.requestMap = ev.in.Request.native(obj)
	} else if obj != nil {
		ev.requestMap["object"] = withoutManagedFields(obj)
	} else {
		ev.requestMap["object"] = nil
	}
	return &rendered{native: ev.requestMap}
}

// rendered is input.request for one state of the object: the Go values
// the plan evaluator reads, and the lazy object OPA's interpreter reads,
// made on first use and kept while the object does not change, so that
// the next query reuses what the previous one converted.
type rendered struct {
	native map[string]any
	lazy   ast.Object
}

// evalError names the policy whose rule failed when the error locates it,
// else every policy of the query.
func (e *Engine) evalError(ph phase, ps []*compiledPolicy, err error) error {
	what := "evaluate"
	if ph == phaseMutate {
		what = "evaluate patch"
	}
	var te *topdown.Error
	if errors.As(err, &te) && te.Location != nil {
		if id, ok := e.set.policyOfFile[te.Location.File]; ok {
			return fmt.Errorf("policy %s: %s: %w", id, what, err)
		}
	}
	if len(ps) == 1 {
		return fmt.Errorf("policy %s: %s: %w", ps[0].meta.ID, what, err)
	}
	return fmt.Errorf("policies %s: %s: %w", ids(ps), what, err)
}

func (ev *evaluation) mutate(ctx context.Context, d *Decision) error {
	current := ev.object
	var pending []*compiledPolicy
	for _, p := range ev.policies {
		if p.meta.hasPatch {
			pending = append(pending, p)
		}
	}
	for len(pending) > 0 {
		request := ev.render(current)
		ev.request = request
		applied := -1
		for _, g := range ev.e.groups(pending) {
			vars, err := ev.run(ctx, phaseMutate, g, request)
			if err != nil {
				return err
			}
			for i, p := range g {
				v, err := vars.Var(resultVar('p', i))
				if err != nil {
					return ev.e.evalError(phaseMutate, g, err)
				}
				ops, err := patchFromResult(v)
				if err != nil {
					return fmt.Errorf("policy %s: %w", p.meta.ID, err)
				}
				if len(ops) == 0 {
					continue
				}
				next, err := applyPatch(current, ops)
				if err != nil {
					return fmt.Errorf("policy %s: %w", p.meta.ID, err)
				}
				current = next
				ev.request = nil
				d.Patch = append(d.Patch, ops...)
				d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: ActionMutate, Message: describePatch(ops), Patch: ops})
				applied = slices.Index(pending, p)
				break
			}
			if applied >= 0 {
				break
			}
		}
		if applied < 0 {
			break
		}
		// The policies after the one that patched see the patched object.
		pending = pending[applied+1:]
	}
	if len(d.Patch) > 0 {
		d.Mutated = current
		ev.object = current
	}
	return nil
}

func (ev *evaluation) validate(ctx context.Context, d *Decision) error {
	d.Findings = append(d.Findings, ev.exempt.findings...)
	request := ev.request
	if request == nil {
		request = ev.render(ev.object)
	}
	for _, g := range ev.e.groups(ev.policies) {
		vars, err := ev.run(ctx, phaseValidate, g, request)
		if err != nil {
			return err
		}
		for i, p := range g {
			denyAs := ev.e.resolved[p.meta.ID].action
			deny, err := vars.Var(resultVar('d', i))
			if err != nil {
				return ev.e.evalError(phaseValidate, g, err)
			}
			warn, err := vars.Var(resultVar('w', i))
			if err != nil {
				return ev.e.evalError(phaseValidate, g, err)
			}
			for _, msg := range messages(deny) {
				d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: denyAs, Message: msg})
			}
			for _, msg := range messages(warn) {
				d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: ActionWarn, Message: msg})
			}
		}
	}
	return nil
}

// messages turns a Rego set of messages into sorted strings; a policy that
// yields something other than a string still gets its value reported.
func messages(v any) []string {
	items, _ := v.([]any)
	out := make([]string, 0, len(items))
	for _, it := range items {
		if s, ok := it.(string); ok {
			out = append(out, s)
		} else {
			out = append(out, fmt.Sprint(it))
		}
	}
	sort.Strings(out)
	return out
}
