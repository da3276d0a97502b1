package webhook

import (
	"context"
	"errors"
	"fmt"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/utils/lru"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// Mutator is the admission.Handler of the mutating webhook (MutatePath).
// It applies the patch rules of the policies in service to CREATE and
// UPDATE requests. It never rejects a well-formed request: whatever it
// cannot patch is admitted unchanged with a warning, and the validating
// webhook judges it. It is safe for concurrent use.
type Mutator struct {
	handler
	// patches remembers the JSON patch built for a decision (by
	// policy.Decision.Evaluation): a decision from the cache was made for
	// the same object, so its patch is the same, and building it means
	// decoding the object and comparing it with the patched one, most of
	// a repeated mutation's cost.
	patches *lru.Cache
}

// patchMemoSize matches the engine's decision cache: a patch is remembered
// as long as its decision is likely to be.
const patchMemoSize = 8192

var _ admission.Handler = (*Mutator)(nil)

// NewMutator returns the mutating handler.
func NewMutator(o Options) *Mutator {
	return &Mutator{handler: newHandler(MutateName, o), patches: lru.New(patchMemoSize)}
}

// Handle patches one admission request. A request that got no evaluation
// slot in time (ErrBusy) is admitted unchanged with a warning here;
// NewHTTPHandler answers it with HTTP 503 instead, leaving it to the
// failurePolicy.
func (m *Mutator) Handle(ctx context.Context, req admission.Request) admission.Response {
	resp, err := m.review(ctx, &req)
	if err != nil {
		return admission.Allowed("admitted unchanged").WithWarnings(warnings([]string{err.Error()})...)
	}
	return resp
}

// review patches one admission request; see reviewer.
func (m *Mutator) review(ctx context.Context, req *admission.Request) (admission.Response, error) {
	resp, err := m.handle(ctx, req)
	if err != nil {
		return resp, err
	}
	m.o.Metrics.outcome(m.name, string(req.Operation), resp.Allowed)
	return resp, nil
}

// handle is a chain of early returns, each with its reason.
func (m *Mutator) handle(ctx context.Context, req *admission.Request) (admission.Response, error) {
	if reason, ok := m.exemptNamespace(req); ok {
		return admission.Allowed(reason), nil
	}

	if req.Operation != admissionv1.Create && req.Operation != admissionv1.Update {
		return admission.Allowed(fmt.Sprintf("%s requests are not mutated", req.Operation)), nil
	}

	// The mutating webhook is not registered for subresources; a Scale
	// (or a status) is never patched, even if a configuration sends one.
	if req.SubResource != "" {
		return admission.Allowed(fmt.Sprintf("the %s subresource is not mutated", req.SubResource)), nil
	}

	eng := m.engine()
	if eng == nil {
		m.o.Metrics.error(m.name, ReasonNotLoaded)
		return admission.Allowed("no policy set loaded yet").
			WithWarnings(fmt.Sprintf("fluxgate did not mutate %s: no policy set loaded yet", subject(req, nil))), nil
	}

	if eng.ExemptNamespace(req.Namespace) {
		return admission.Allowed(fmt.Sprintf("namespace %s is exempt", req.Namespace)), nil
	}

	if !m.covers(eng, req.Kind.Kind) {
		return admission.Allowed(fmt.Sprintf("no enabled policy applies to %s", req.Kind.Kind)), nil
	}

	if err := m.slot(ctx); err != nil {
		err = fmt.Errorf("fluxgate could not mutate %s: %w", subject(req, nil), err)
		m.o.Log.V(1).Info("no evaluation slot", "webhook", m.name, "uid", req.UID, "error", err.Error())
		return admission.Response{}, err
	}
	defer m.release()

	raw := m.input(ctx, req)
	d, reason, err := m.evaluate(ctx, func(ctx context.Context) (*policy.Decision, error) { return eng.MutateRaw(ctx, raw) })
	if de := (*policy.DecodeError)(nil); errors.As(err, &de) {
		return m.malformed(req, de), nil
	}
	if err != nil {
		return m.unchanged(req, &raw.Input, reason, err), nil
	}

	if d.Skipped != "" {
		return admission.Allowed(d.Skipped), nil
	}
	m.count(req, d)

	if d.Mutated == nil {
		return admission.Allowed("no policy patches it"), nil
	}
	if ops, ok := m.patches.Get(d.Evaluation); ok && d.Evaluation != 0 {
		return patchOps(ops.([]jsonpatch.JsonPatchOperation)), nil
	}
	// The patch is built against the object, which a decision from the
	// cache did not need decoded.
	in, err := raw.Decoded()
	if err != nil {
		return admission.Response{}, fmt.Errorf("decode %s again: %w", subject(req, nil), err)
	}

	// The patch is the difference between the object the API server sent
	// and the patched one, so fields fluxgate does not know survive and
	// each operation is minimal.
	resp, ok := patchResponse(in.Request.Object, d.Mutated)
	if ok && d.Evaluation != 0 {
		m.patches.Add(d.Evaluation, resp.Patches)
	}
	if !ok {
		resp = patchResponseFromRaw(req.Object.Raw, d.Mutated)
	}
	if !resp.Allowed {
		return m.unchanged(req, in, ReasonEvaluation, fmt.Errorf("build the JSON patch: %s", resp.Result.Message)), nil
	}
	return resp, nil
}

// unchanged admits a request the mutator could not patch, with a warning
// naming the error; the validating webhook still judges the object.
func (m *Mutator) unchanged(req *admission.Request, in *policy.Input, reason string, err error) admission.Response {
	m.o.Metrics.error(m.name, reason)
	err = fmt.Errorf("fluxgate could not mutate %s and admitted it unchanged: %w", subject(req, in.Request.Object), err)
	m.o.Log.Error(err, "mutation failed", "webhook", m.name, "uid", req.UID, "reason", reason)
	return admission.Allowed("admitted unchanged").WithWarnings(warnings([]string{err.Error()})...)
}
