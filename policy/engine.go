package policy

import (
	"context"
	"fmt"
	"sort"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
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
}

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
type Engine struct {
	set      *Set
	cfg      *Config
	resolved map[string]resolved
	params   map[string]*ast.Term
}

// NewEngine checks cfg against set and returns an Engine for them.
func NewEngine(set *Set, cfg *Config) (*Engine, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	res, err := cfg.resolve(set)
	if err != nil {
		return nil, err
	}
	params := make(map[string]*ast.Term, len(res))
	for id, r := range res {
		v, err := ast.InterfaceToValue(r.params)
		if err != nil {
			return nil, fmt.Errorf("policy %s: parameters: %w", id, err)
		}
		params[id] = ast.NewTerm(v)
	}
	return &Engine{set: set, cfg: cfg, resolved: res, params: params}, nil
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
	ev, d, err := e.begin(in)
	if ev == nil || err != nil {
		return d, err
	}
	return d, ev.mutate(ctx, d)
}

// Validate runs every applicable policy's deny and warn rules.
func (e *Engine) Validate(ctx context.Context, in *Input) (*Decision, error) {
	ev, d, err := e.begin(in)
	if ev == nil || err != nil {
		return d, err
	}
	return d, ev.validate(ctx, d)
}

// Review mutates and then validates the mutated object, as the API server
// does with a mutating and a validating webhook. `fluxgate check` uses it.
func (e *Engine) Review(ctx context.Context, in *Input) (*Decision, error) {
	ev, d, err := e.begin(in)
	if ev == nil || err != nil {
		return d, err
	}
	if err := ev.mutate(ctx, d); err != nil {
		return d, err
	}
	return d, ev.validate(ctx, d)
}

// evaluation holds what one request's policy runs share.
type evaluation struct {
	e           *Engine
	in          *Input
	object      map[string]any
	policies    []*compiledPolicy
	exempt      exemptions
	related     *ast.Term
	context     *ast.Term
	maintenance *ast.Term
}

// begin decides whether the request is evaluated at all and, if so, which
// policies apply. A nil evaluation with a nil error means skipped.
func (e *Engine) begin(in *Input) (*evaluation, *Decision, error) {
	d := &Decision{}
	req := &in.Request
	if reason, ok := e.cfg.exemptReason(req.Namespace); ok {
		d.Skipped = reason
		return nil, d, nil
	}
	obj := req.object()
	if obj == nil {
		d.Skipped = "request carries no object"
		return nil, d, nil
	}
	ev := &evaluation{e: e, in: in, object: obj, exempt: parseExemptions(obj, e.set)}
	for _, p := range e.set.policies {
		if !p.meta.AppliesTo(req.Kind.Kind) || e.resolved[p.meta.ID].action == ActionOff {
			continue
		}
		if ev.exempt.valid && ev.exempt.ids[p.meta.ID] {
			continue
		}
		ev.policies = append(ev.policies, p)
	}
	if len(ev.policies) == 0 && len(ev.exempt.findings) == 0 {
		d.Skipped = fmt.Sprintf("no enabled policy applies to %s", kindName(req.Kind.Kind))
		return nil, d, nil
	}
	ev.related = in.Related.term(req.Kind.Kind, req.Name)
	ev.context = ast.ObjectTerm(ast.Item(ast.StringTerm("complete"), ast.BooleanTerm(in.Complete)))
	maint, err := in.Maintenance.toTerm()
	if err != nil {
		return nil, d, err
	}
	ev.maintenance = maint
	return ev, d, nil
}

func kindName(k string) string {
	if k == "" {
		return "objects without a kind"
	}
	return k
}

func (ev *evaluation) input(requestTerm *ast.Term, policyID string) ast.Value {
	return ast.NewObject(
		ast.Item(ast.StringTerm("request"), requestTerm),
		ast.Item(ast.StringTerm("parameters"), ev.e.params[policyID]),
		ast.Item(ast.StringTerm("related"), ev.related),
		ast.Item(ast.StringTerm("context"), ev.context),
		ast.Item(ast.StringTerm("maintenance"), ev.maintenance),
	)
}

func (ev *evaluation) mutate(ctx context.Context, d *Decision) error {
	current := ev.object
	var reqTerm *ast.Term
	for _, p := range ev.policies {
		if p.mutate == nil {
			continue
		}
		if reqTerm == nil {
			var err error
			if reqTerm, err = ev.in.Request.toTerm(current); err != nil {
				return err
			}
		}
		rs, err := p.mutate.Eval(ctx, rego.EvalParsedInput(ev.input(reqTerm, p.meta.ID)))
		if err != nil {
			return fmt.Errorf("policy %s: evaluate patch: %w", p.meta.ID, err)
		}
		ops, err := patchFromResult(rs)
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
		current, reqTerm = next, nil
		d.Patch = append(d.Patch, ops...)
		d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: ActionMutate, Message: describePatch(ops), Patch: ops})
	}
	if len(d.Patch) > 0 {
		d.Mutated = current
		ev.object = current
	}
	return nil
}

func (ev *evaluation) validate(ctx context.Context, d *Decision) error {
	d.Findings = append(d.Findings, ev.exempt.findings...)
	reqTerm, err := ev.in.Request.toTerm(ev.object)
	if err != nil {
		return err
	}
	for _, p := range ev.policies {
		if p.validate == nil {
			continue
		}
		rs, err := p.validate.Eval(ctx, rego.EvalParsedInput(ev.input(reqTerm, p.meta.ID)))
		if err != nil {
			return fmt.Errorf("policy %s: evaluate: %w", p.meta.ID, err)
		}
		if len(rs) == 0 {
			continue
		}
		denyAs := ev.e.resolved[p.meta.ID].action
		for _, msg := range messages(rs[0].Bindings["deny"]) {
			d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: denyAs, Message: msg})
		}
		for _, msg := range messages(rs[0].Bindings["warn"]) {
			d.Findings = append(d.Findings, Finding{Policy: p.meta.ID, Action: ActionWarn, Message: msg})
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
