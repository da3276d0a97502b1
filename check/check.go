// Package check runs the policy engine over a set of manifests the way the
// admission webhook would see them one by one, but with the whole set
// known: every object is mutated and then validated, with the
// PodDisruptionBudgets, HorizontalPodAutoscalers and workloads of its
// namespace (in the same build unit) as related objects.
package check

import (
	"context"
	"fmt"
	"runtime"
	"sync"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// Result is one finding about one object, located in its manifest.
type Result struct {
	Policy    string `json:"policy"`
	Action    string `json:"action"`
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	File      string `json:"file"`
	Line      int    `json:"line,omitempty"`
	Message   string `json:"message"`
	// Cluster and Origin are the object's: the cluster it is applied to and
	// the Flux Kustomization or HelmRelease that applies it.
	Cluster string `json:"cluster,omitempty"`
	Origin  string `json:"origin,omitempty"`
}

// InputFinding is a finding about the input rather than a policy's: a
// variable Flux could not substitute, a HelmRelease that could not be
// rendered. Run reports it like a policy finding, under policy
// policy.EngineID, so it is never lost and a deny fails the check.
type InputFinding struct {
	Object  manifest.Object
	Action  policy.Action
	Message string
}

// Summary counts objects read and findings by action.
type Summary struct {
	Objects int `json:"objects"`
	Deny    int `json:"deny"`
	Warn    int `json:"warn"`
	Mutate  int `json:"mutate"`
}

// Report is the outcome of a check.
type Report struct {
	Results []Result `json:"results"`
	Summary Summary  `json:"summary"`
	// Policies describes the policies of the set, for output formats that
	// list rules (SARIF).
	Policies []policy.Metadata `json:"-"`
}

// Denied reports whether any result denies.
func (r *Report) Denied() bool { return r.Summary.Deny > 0 }

// username identifies pipeline checks in input.request.userInfo.
const username = "fluxgate:check"

// Run evaluates every object with eng and returns the input findings,
// then the policies' findings in input order. A policy that fails to
// evaluate is an error naming the object.
func Run(ctx context.Context, eng *policy.Engine, objs []manifest.Object, inputs ...InputFinding) (*Report, error) {
	return RunWith(ctx, eng, objs, Options{}, inputs...)
}

// Options tune Run for callers that share the machine with other work.
type Options struct {
	// Workers bounds the objects evaluated at once; 0 means one per core
	// the process may use (GOMAXPROCS).
	Workers int
	// Pace, when set, is called before each object is evaluated and may
	// wait: the cluster audit keeps a bounded rate with it. An error stops
	// the run.
	Pace func(context.Context) error
}

// RunWith is Run with options.
func RunWith(ctx context.Context, eng *policy.Engine, objs []manifest.Object, opts Options, inputs ...InputFinding) (*Report, error) {
	rep := &Report{Results: []Result{}, Policies: eng.Set().Policies()}
	rep.Summary.Objects = len(objs)
	for i := range inputs {
		in := &inputs[i]
		rep.add(&in.Object, policy.Finding{Policy: policy.EngineID, Action: in.Action, Message: in.Message})
	}
	groups, err := relatedGroups(objs)
	if err != nil {
		return nil, err
	}
	findings, err := review(ctx, eng, objs, groups, opts)
	if err != nil {
		return nil, err
	}
	for i := range objs {
		for _, f := range findings[i] {
			rep.add(&objs[i], f)
		}
	}
	return rep, nil
}

// review evaluates every object, on as many goroutines as the process may
// run at once (the engine is safe for concurrent use, and a repository of
// thousands of workloads is otherwise bound to one core), and returns each
// object's findings at its index, so the report keeps the input order. The
// first evaluation error stops the rest.
func review(ctx context.Context, eng *policy.Engine, objs []manifest.Object, groups map[groupKey]*policy.Related, opts Options) ([][]policy.Finding, error) {
	findings := make([][]policy.Finding, len(objs))
	ctx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	next := make(chan int)
	var wg sync.WaitGroup
	workers := opts.Workers
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	for range min(workers, max(len(objs), 1)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range next {
				obj := &objs[i]
				if opts.Pace != nil {
					if err := opts.Pace(ctx); err != nil {
						cancel(err)
						continue
					}
				}
				in := &policy.Input{Request: requestFor(obj), Related: groups[keyOf(obj)], Complete: true}
				d, err := eng.Review(ctx, in)
				if err != nil {
					cancel(fmt.Errorf("%s: %s: %w", location(obj), describe(obj), err))
					continue
				}
				findings[i] = d.Findings
			}
		}()
	}
feed:
	for i := range objs {
		select {
		case next <- i:
		case <-ctx.Done():
			break feed
		}
	}
	close(next)
	wg.Wait()
	if err := context.Cause(ctx); err != nil {
		return nil, err
	}
	return findings, nil
}

// add records finding f about obj and counts it.
func (r *Report) add(obj *manifest.Object, f policy.Finding) {
	r.Results = append(r.Results, Result{
		Policy: f.Policy, Action: string(f.Action),
		Kind: obj.Kind(), Namespace: obj.Namespace(), Name: obj.Name(),
		File: obj.File, Line: obj.Line, Message: f.Message,
		Cluster: obj.Cluster, Origin: obj.Origin,
	})
	r.Summary.count(f.Action)
}

// count counts a finding of action a.
func (s *Summary) count(a policy.Action) {
	switch a {
	case policy.ActionDeny:
		s.Deny++
	case policy.ActionWarn:
		s.Warn++
	case policy.ActionMutate:
		s.Mutate++
	}
}

func requestFor(obj *manifest.Object) policy.Request {
	return policy.Request{
		Operation: policy.OperationCreate,
		Kind:      policy.KindOf(obj.APIVersion(), obj.Kind()),
		Namespace: obj.Namespace(),
		Name:      obj.Name(),
		Object:    obj.Data,
		UserInfo:  policy.UserInfo{Username: username},
	}
}

func location(obj *manifest.Object) string {
	if obj.Line > 0 {
		return fmt.Sprintf("%s:%d", obj.File, obj.Line)
	}
	return obj.File
}

func describe(obj *manifest.Object) string {
	if ns := obj.Namespace(); ns != "" {
		return fmt.Sprintf("%s %s/%s", obj.Kind(), ns, obj.Name())
	}
	return fmt.Sprintf("%s %s", obj.Kind(), obj.Name())
}

// groupKey identifies the objects that relate to each other: same
// cluster (every object a cluster's Flux Kustomizations apply, whatever
// build it came from) or, for objects no Kustomization reaches, same build
// unit; and same namespace. An empty namespace is the default namespace,
// where the object would land if applied without one.
type groupKey struct{ cluster, set, namespace string }

func keyOf(obj *manifest.Object) groupKey {
	ns := obj.Namespace()
	if ns == "" {
		ns = "default"
	}
	if obj.Cluster != "" {
		return groupKey{cluster: obj.Cluster, namespace: ns}
	}
	return groupKey{set: obj.Set, namespace: ns}
}

// relatedGroups converts the related objects of each group once, so that
// a check over thousands of objects stays linear.
func relatedGroups(objs []manifest.Object) (map[groupKey]*policy.Related, error) {
	members := map[groupKey][]map[string]any{}
	for i := range objs {
		if _, ok := policy.RelatedKinds[objs[i].Kind()]; ok {
			k := keyOf(&objs[i])
			members[k] = append(members[k], objs[i].Data)
		}
	}
	out := make(map[groupKey]*policy.Related, len(members))
	for k, m := range members {
		rel, err := policy.NewRelated(m...)
		if err != nil {
			return nil, fmt.Errorf("namespace %s: %w", k.namespace, err)
		}
		out[k] = rel
	}
	return out, nil
}
