package policy

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/rego"
)

// unsafeBuiltins may not be called by any policy, beside every built-in
// OPA marks nondeterministic (time.now_ns, rand.intn, uuid.rfc4122,
// http.send, io.jwt.encode_sign ...): admission decisions must be pure
// functions of their input, never wait on the network or read the host,
// and give the same answer in the webhook, in `fluxgate check` and in the
// Flux dry run that precedes every apply. These are deterministic in
// OPA's sense but still read the host or the runtime.
var unsafeBuiltins = map[string]struct{}{
	"http.send":          {},
	"net.lookup_ip_addr": {},
	"opa.runtime":        {},
	"trace":              {},
}

// refusedBuiltin reports whether policies may not call b.
func refusedBuiltin(b *ast.Builtin) bool {
	_, unsafe := unsafeBuiltins[b.Name]
	return unsafe || b.IsNondeterministic()
}

// refusedNames are the names of the refused built-ins, for messages.
var refusedNames = sync.OnceValue(func() map[string]bool {
	names := map[string]bool{}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if refusedBuiltin(b) {
			names[b.Name] = true
		}
	}
	return names
})

// explainRefused says why a call to a refused built-in is "undefined":
// OPA only knows that the capabilities lack it.
func explainRefused(ps []Problem) []Problem {
	const undefined = "undefined function "
	for i, p := range ps {
		at := strings.Index(p.Message, undefined)
		if at < 0 {
			continue
		}
		if name := strings.TrimSpace(p.Message[at+len(undefined):]); refusedNames()[name] {
			ps[i].Message += " (refused: policies must be pure functions of their input, so built-ins that are nondeterministic or reach the network or the host are not available)"
		}
	}
	return ps
}

// capabilities are this OPA version's, without the refused built-ins: a
// policy that calls one fails to compile as calling an undefined function.
var capabilities = sync.OnceValue(func() *ast.Capabilities {
	caps := ast.CapabilitiesForThisVersion()
	caps.Builtins = slices.DeleteFunc(caps.Builtins, refusedBuiltin)
	return caps
})

// Set is an immutable, compiled set of policies. It is safe for concurrent
// use; Engines prepare their queries against its compiler.
type Set struct {
	policies []*compiledPolicy
	byID     map[string]*compiledPolicy
	files    []string
	compiler *ast.Compiler
	// prepareMu serialises the queries prepared against compiler (see
	// Engine.prepareQuery).
	prepareMu sync.Mutex
	// parametersInInput is true when a module outside every policy
	// package reads input.parameters: each policy then needs its own
	// query, with its parameters as input.parameters. Otherwise the
	// policy packages' input.parameters are rewritten to
	// input.fluxgate_parameters["<id>"], so that one query evaluates every
	// policy of a kind.
	parametersInInput bool
	// policyOfFile maps each module of a policy package to the policy id,
	// to attribute evaluation errors.
	policyOfFile map[string]string
}

type compiledPolicy struct {
	meta Metadata
}

// parametersKey is where the engine hands every policy's parameters to a
// combined query: input.fluxgate_parameters["<id>"].
const parametersKey = "fluxgate_parameters"

// Compile parses and compiles modules (test modules are left out) into one
// Set. Any parse, compile or metadata problem rejects the whole set with a
// *CompileError that names file, line and message.
func Compile(ctx context.Context, modules []Module) (*Set, error) {
	parsed := make(map[string]*ast.Module, len(modules))
	var problems []Problem
	var files []string
	for _, m := range WithoutTests(modules) {
		if _, dup := parsed[m.File]; dup {
			problems = append(problems, Problem{File: m.File, Message: "loaded twice"})
			continue
		}
		mod, err := ast.ParseModuleWithOpts(m.File, m.Text, ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			problems = append(problems, problemsFromOPA(err)...)
			continue
		}
		parsed[m.File] = mod
		files = append(files, m.File)
	}
	if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}

	// Metadata is read before compiling, to know which packages are
	// policies, but its problems are reported only once the modules
	// compile: a syntax or type error explains more.
	metas, metaProblems := collectMetadata(files, parsed)
	set := &Set{byID: make(map[string]*compiledPolicy, len(metas)), files: files, policyOfFile: map[string]string{}}
	idOfPackage := make(map[string]string, len(metas))
	for _, md := range metas {
		idOfPackage[md.Package] = md.ID
	}
	for _, f := range files {
		pkg := parsed[f].Package.Path.String()
		if id, ok := idOfPackage[pkg]; ok {
			set.policyOfFile[f] = id
		} else if readsParameters(parsed[f]) {
			set.parametersInInput = true
		}
	}
	if !set.parametersInInput {
		for f, id := range set.policyOfFile {
			if err := parametersFromEngine(parsed[f], id); err != nil {
				return nil, &CompileError{Problems: []Problem{{File: f, Message: err.Error()}}}
			}
		}
	}

	compiler := ast.NewCompiler().
		WithCapabilities(capabilities()).
		WithDefaultRegoVersion(ast.RegoV1)
	compiler.Compile(parsed)
	if compiler.Failed() {
		return nil, &CompileError{Problems: explainRefused(problemsFromOPA(compiler.Errors))}
	}
	if len(metaProblems) > 0 {
		return nil, &CompileError{Problems: metaProblems}
	}
	set.compiler = compiler
	for _, md := range metas {
		cp := &compiledPolicy{meta: *md}
		set.policies = append(set.policies, cp)
		set.byID[md.ID] = cp
	}
	// Prepare each policy once, so that a policy whose rules cannot be
	// queried is rejected here with its file rather than when an Engine
	// is built.
	for _, md := range metas {
		for _, q := range []string{validationQuery([]*compiledPolicy{set.byID[md.ID]}), mutationQuery([]*compiledPolicy{set.byID[md.ID]})} {
			if q == "" {
				continue
			}
			if _, err := prepare(ctx, compiler, q); err != nil {
				return nil, &CompileError{Problems: []Problem{{File: md.File, Message: fmt.Sprintf("policy %s: %v", md.ID, err)}}}
			}
		}
	}
	return set, nil
}

// isParametersRef reports whether r reads input.parameters.
func isParametersRef(r ast.Ref) bool {
	if len(r) < 2 || !r[0].Equal(ast.InputRootDocument) {
		return false
	}
	s, ok := r[1].Value.(ast.String)
	return ok && string(s) == "parameters"
}

// readsParameters reports whether mod reads input.parameters anywhere.
func readsParameters(mod *ast.Module) bool {
	found := false
	ast.WalkRefs(mod, func(r ast.Ref) bool {
		if isParametersRef(r) {
			found = true
		}
		return found
	})
	return found
}

// parametersFromEngine rewrites the module's input.parameters into
// input.fluxgate_parameters["<id>"], where a combined query finds the
// parameters of policy id.
func parametersFromEngine(mod *ast.Module, id string) error {
	_, err := ast.TransformRefs(mod, func(r ast.Ref) (ast.Value, error) {
		if !isParametersRef(r) {
			return r, nil
		}
		out := make(ast.Ref, 0, len(r)+1)
		out = append(out, r[0], ast.StringTerm(parametersKey), ast.StringTerm(id))
		return append(out, r[2:]...), nil
	})
	if err != nil {
		return fmt.Errorf("policy %s: read parameters from the engine: %w", id, err)
	}
	return nil
}

// collectMetadata finds the policies among the parsed modules. Several
// modules may share a package; exactly one of them declares its metadata.
func collectMetadata(files []string, parsed map[string]*ast.Module) ([]*Metadata, []Problem) {
	var problems []Problem
	byPkg := map[string]*Metadata{}
	byID := map[string]*Metadata{}
	rules := map[string]map[string]bool{}
	misshapen := map[string][]Problem{}
	for _, f := range files {
		mod := parsed[f]
		pkg := mod.Package.Path.String()
		if rules[pkg] == nil {
			rules[pkg] = map[string]bool{}
		}
		for _, r := range mod.Rules {
			name := r.Head.Name.String()
			if len(r.Head.Reference) > 0 {
				name = r.Head.Reference[0].String()
			}
			rules[pkg][name] = true
			if p, bad := resultRuleShape(f, name, r); bad {
				misshapen[pkg] = append(misshapen[pkg], p)
			}
		}
		md, ps := metadataFromModule(f, mod)
		problems = append(problems, ps...)
		if md == nil {
			continue
		}
		if prev, ok := byPkg[pkg]; ok {
			problems = append(problems, Problem{File: f, Message: fmt.Sprintf("package %s already declares policy metadata in %s", pkg, prev.File)})
			continue
		}
		if prev, ok := byID[md.ID]; ok {
			problems = append(problems, Problem{File: f, Message: fmt.Sprintf("policy id %s is already declared by %s", md.ID, prev.File)})
			continue
		}
		byPkg[pkg], byID[md.ID] = md, md
	}
	metas := make([]*Metadata, 0, len(byID))
	for pkg, md := range byPkg {
		problems = append(problems, misshapen[pkg]...)
		r := rules[pkg]
		md.hasDeny, md.hasWarn, md.hasPatch = r["deny"], r["warn"], r["patch"]
		if !md.hasDeny && !md.hasWarn && !md.hasPatch {
			problems = append(problems, Problem{File: md.File, Message: fmt.Sprintf("policy %s defines none of the rules deny, warn or patch", md.ID)})
		}
		metas = append(metas, md)
	}
	sort.Slice(metas, func(i, j int) bool { return metas[i].ID < metas[j].ID })
	sortProblems(problems)
	return metas, problems
}

// resultRules are the rules the engine reads from a policy package. Each
// must be a set ("deny contains msg if ..."): the engine reads every
// member, so a single value ("deny := msg if ...") or an object
// ("deny[k] := v") would compile, load and never take effect.
var resultRules = map[string]string{
	"deny":  "deny contains msg if { ... }",
	"warn":  "warn contains msg if { ... }",
	"patch": `patch contains {"op": ..., "path": ..., "value": ...} if { ... }`,
}

// resultRuleShape reports a rule named like a result rule that is not a
// plain partial set rule, located at the rule.
func resultRuleShape(file, name string, r *ast.Rule) (Problem, bool) {
	want, ok := resultRules[name]
	if !ok {
		return Problem{}, false
	}
	var got string
	switch {
	case len(r.Head.Args) > 0:
		got = "a function"
	case r.Head.RuleKind() != ast.MultiValue:
		got = "a single value"
		if len(r.Head.Reference) > 1 {
			got = "an object"
		}
	case len(r.Head.Reference) > 1:
		got = "a nested set"
	default:
		return Problem{}, false
	}
	p := Problem{File: file, Message: fmt.Sprintf("rule %s is %s, but the engine reads %s as a set of results; write %s", name, got, name, want)}
	if r.Location != nil {
		p.Line, p.Column = r.Location.Row, r.Location.Col
	}
	return p, true
}

// validationQuery asks for the deny and warn sets of every policy in ps
// in one evaluation, bound to d<i> and w<i>; a rule a package does not
// define is bound to the empty set so the query is never undefined.
func validationQuery(ps []*compiledPolicy) string {
	var parts []string
	for i, p := range ps {
		if !p.meta.hasDeny && !p.meta.hasWarn {
			continue
		}
		deny, warn := "set()", "set()"
		if p.meta.hasDeny {
			deny = p.meta.Package + ".deny"
		}
		if p.meta.hasWarn {
			warn = p.meta.Package + ".warn"
		}
		parts = append(parts, fmt.Sprintf("d%d := %s; w%d := %s", i, deny, i, warn))
	}
	return strings.Join(parts, "; ")
}

// mutationQuery asks for the patch set of every policy in ps that has
// one, bound to p<i>.
func mutationQuery(ps []*compiledPolicy) string {
	var parts []string
	for i, p := range ps {
		if p.meta.hasPatch {
			parts = append(parts, fmt.Sprintf("p%d := %s.patch", i, p.meta.Package))
		}
	}
	return strings.Join(parts, "; ")
}

func prepare(ctx context.Context, compiler *ast.Compiler, query string) (*rego.PreparedEvalQuery, error) {
	pq, err := rego.New(
		rego.Query(query),
		rego.Compiler(compiler),
		rego.StrictBuiltinErrors(false),
	).PrepareForEval(ctx)
	if err != nil {
		return nil, fmt.Errorf("prepare %q: %w", query, err)
	}
	return &pq, nil
}

// Policies returns the metadata of every policy in the set, ordered by id.
func (s *Set) Policies() []Metadata {
	out := make([]Metadata, 0, len(s.policies))
	for _, p := range s.policies {
		out = append(out, p.meta)
	}
	return out
}

// Policy returns the metadata of the policy with the given id.
func (s *Set) Policy(id string) (Metadata, bool) {
	p, ok := s.byID[id]
	if !ok {
		return Metadata{}, false
	}
	return p.meta, true
}

// Files returns the modules the set was compiled from.
func (s *Set) Files() []string {
	return append([]string(nil), s.files...)
}
