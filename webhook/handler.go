package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync/atomic"
	"time"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// handler holds what the mutator and the validator share. Apart from the
// engine pointer in Options.Policies and the kind index below, which are
// both replaced atomically, it is immutable after construction.
type handler struct {
	o     Options
	name  string
	kinds atomic.Pointer[kindIndex]
}

func newHandler(name string, o Options) handler {
	o = o.withDefaults()
	o.Metrics.limit(o.Reviews.Size())
	return handler{o: o, name: name}
}

// reviewer is implemented by the Validator and the Mutator. review
// answers like Handle, except that a review that got no evaluation slot
// (ErrBusy) is returned as an error, which NewHTTPHandler answers with
// HTTP 503 so that the webhook's failurePolicy decides.
type reviewer interface {
	review(ctx context.Context, req *admission.Request) (admission.Response, error)
}

// kindIndex records which kinds an engine evaluates at all, so requests
// for other kinds are answered before their objects are decoded.
type kindIndex struct {
	eng   *policy.Engine
	kinds map[string]bool
}

// engine returns the engine in service, or nil before the first load.
func (h *handler) engine() *policy.Engine {
	if h.o.Policies == nil {
		return nil
	}
	return h.o.Policies.Engine()
}

// exemptNamespace says why a request's namespace is never evaluated, if
// it is: fluxgate's own namespace and the AlwaysExemptNamespaces. The
// configured exemptNamespaces are the engine's decision (Decision.Skipped).
func (h *handler) exemptNamespace(req *admission.Request) (string, bool) {
	ns := req.Namespace
	switch {
	case ns == "":
		return "", false
	case ns == h.o.Namespace:
		return fmt.Sprintf("namespace %s is fluxgate's own", ns), true
	case slices.Contains(policy.AlwaysExemptNamespaces, ns):
		return fmt.Sprintf("namespace %s is always exempt", ns), true
	}
	return "", false
}

// ownUser reports whether fluxgate itself sent the request.
func (h *handler) ownUser(req *admission.Request) bool {
	return h.o.ServiceAccount != "" && req.UserInfo.Username == h.o.ServiceAccount
}

// covers reports whether any policy of eng whose action is not off
// applies to kind.
func (h *handler) covers(eng *policy.Engine, kind string) bool {
	idx := h.kinds.Load()
	if idx == nil || idx.eng != eng {
		idx = &kindIndex{eng: eng, kinds: map[string]bool{}}
		for _, p := range eng.Set().Policies() {
			if eng.Action(p.ID) == policy.ActionOff {
				continue
			}
			for _, k := range p.Kinds {
				idx.kinds[k] = true
			}
		}
		h.kinds.Store(idx)
	}
	return idx.kinds[kind]
}

// input is the request as the engine takes it: its objects still JSON,
// decoded without metadata.managedFields (decodeForPolicies) only when
// the decision cache has no answer for their bytes. Related objects come
// from Options.Related; when they cannot be read the request is evaluated
// without them, which only weakens cross-object rules.
func (h *handler) input(ctx context.Context, req *admission.Request) *policy.RawInput {
	kind := policy.GroupVersionKind{Group: req.Kind.Group, Version: req.Kind.Version, Kind: req.Kind.Kind}
	in := &policy.RawInput{
		Input:     policy.Input{Request: policyRequest(req, kind, nil, nil)},
		Object:    req.Object.Raw,
		OldObject: req.OldObject.Raw,
		Decode:    decodeForPolicies,
	}
	in.Maintenance = h.maintenance(ctx, req)
	if rel, err := h.related(ctx, req); err == nil {
		in.Related = rel
	}
	return in
}

// malformed answers a request whose object cannot be decoded.
func (h *handler) malformed(req *admission.Request, de *policy.DecodeError) admission.Response {
	err := fmt.Errorf("decode %s of %s: %w", de.Field, subject(req, nil), de.Err)
	h.o.Metrics.error(h.name, ReasonDecode)
	h.o.Log.Info("rejecting malformed admission request", "webhook", h.name, "uid", req.UID, "error", err.Error())
	return admission.Errored(http.StatusBadRequest, err)
}

// policyRequest is the engine's view of req, judged as an object of kind
// going from old to obj.
func policyRequest(req *admission.Request, kind policy.GroupVersionKind, obj, old map[string]any) policy.Request {
	return policy.Request{
		UID:       string(req.UID),
		Operation: policy.Operation(req.Operation),
		Kind:      kind,
		Namespace: req.Namespace,
		Name:      req.Name,
		Object:    obj,
		OldObject: old,
		UserInfo:  policy.UserInfo{Username: req.UserInfo.Username, Groups: req.UserInfo.Groups},
		DryRun:    req.DryRun != nil && *req.DryRun,
	}
}

// maintenance reads the maintenance state; when it cannot be read the
// request is evaluated as if no maintenance were active.
func (h *handler) maintenance(ctx context.Context, req *admission.Request) policy.Maintenance {
	if h.o.Maintenance == nil {
		return policy.Maintenance{}
	}
	m, err := h.o.Maintenance.Maintenance(ctx)
	if err != nil {
		h.o.Metrics.error(h.name, ReasonRelated)
		h.o.Log.Error(err, "reading the maintenance state failed; evaluating as if no maintenance were active",
			"webhook", h.name, "uid", req.UID)
	}
	return m
}

// related reads the related objects of the request's namespace under the
// evaluation deadline. An error is counted and logged here; callers decide
// what to do without them. No source, or no namespace, gives nil.
func (h *handler) related(ctx context.Context, req *admission.Request) (*policy.Related, error) {
	if h.o.Related == nil || req.Namespace == "" {
		return nil, nil
	}
	rctx, cancel := context.WithTimeout(ctx, h.o.EvalTimeout)
	defer cancel()
	rel, err := h.o.Related.Related(rctx, req.Namespace)
	if err != nil {
		h.o.Metrics.error(h.name, ReasonRelated)
		h.o.Log.Error(err, "reading related objects failed",
			"webhook", h.name, "uid", req.UID, "namespace", req.Namespace)
		return nil, fmt.Errorf("read the related objects of namespace %s: %w", req.Namespace, err)
	}
	return rel, nil
}

// evaluate runs fn under the evaluation deadline, measures it and sorts a
// failure into timeout or evaluation; a *policy.DecodeError (the request
// is malformed) is returned as it is, unmeasured.
func (h *handler) evaluate(ctx context.Context, fn func(context.Context) (*policy.Decision, error)) (*policy.Decision, string, error) {
	ectx, cancel := context.WithTimeout(ctx, h.o.EvalTimeout)
	defer cancel()
	start := time.Now()
	d, err := fn(ectx)
	if de := (*policy.DecodeError)(nil); errors.As(err, &de) {
		// A malformed request was not evaluated.
		return nil, ReasonDecode, err
	}
	h.o.Metrics.evaluation(h.name, time.Since(start))
	if err == nil {
		return d, "", nil
	}
	if errors.Is(ectx.Err(), context.DeadlineExceeded) {
		return nil, ReasonTimeout, fmt.Errorf("evaluation timed out after %s: %w", h.o.EvalTimeout, err)
	}
	return nil, ReasonEvaluation, err
}

// count records the findings of a decision.
func (h *handler) count(req *admission.Request, d *policy.Decision) {
	for _, f := range d.Findings {
		h.o.Metrics.finding(h.name, string(req.Operation), f)
	}
}

// subject names the object of a request the way policy messages do:
// "Kind namespace/name", or "Kind name" for cluster-scoped objects.
// obj, when given, supplies a name the request lacks (generateName).
func subject(req *admission.Request, obj map[string]any) string {
	name := req.Name
	if name == "" {
		meta, _ := obj["metadata"].(map[string]any)
		if n, _ := meta["name"].(string); n != "" {
			name = n
		} else if g, _ := meta["generateName"].(string); g != "" {
			name = g + "*"
		} else {
			name = "(unnamed)"
		}
	}
	kind := req.Kind.Kind
	if kind == "" {
		kind = "object"
	}
	if req.Namespace == "" {
		return kind + " " + name
	}
	return kind + " " + req.Namespace + "/" + name
}
