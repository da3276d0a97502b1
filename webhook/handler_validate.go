package webhook

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"strings"

	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// Validator is the admission.Handler of the validating webhook
// (ValidatePath). It runs the deny and warn rules of the policies in
// service and fails closed: a request it cannot judge is rejected, except
// for fluxgate's own service account. It is safe for concurrent use.
type Validator struct {
	handler
}

var _ admission.Handler = (*Validator)(nil)

// NewValidator returns the validating handler.
func NewValidator(o Options) *Validator {
	return &Validator{handler: newHandler(ValidateName, o)}
}

// Handle judges one admission request. A request that got no evaluation
// slot in time (ErrBusy) is rejected with code 503 here; NewHTTPHandler
// answers it with HTTP 503 instead, leaving it to the failurePolicy.
func (v *Validator) Handle(ctx context.Context, req admission.Request) admission.Response {
	resp, err := v.review(ctx, &req)
	if err != nil {
		return admission.Errored(http.StatusServiceUnavailable, err)
	}
	return resp
}

// review judges one admission request; see reviewer.
func (v *Validator) review(ctx context.Context, req *admission.Request) (admission.Response, error) {
	resp, err := v.handle(ctx, req)
	if err != nil {
		return resp, err
	}
	v.o.Metrics.outcome(v.name, string(req.Operation), resp.Allowed)
	return resp, nil
}

// handle is a chain of early returns, each with its reason.
func (v *Validator) handle(ctx context.Context, req *admission.Request) (admission.Response, error) {
	if reason, ok := v.exemptNamespace(req); ok {
		return admission.Allowed(reason), nil
	}

	eng := v.engine()
	if eng == nil {
		v.o.Metrics.error(v.name, ReasonNotLoaded)
		err := fmt.Errorf("fluxgate cannot judge %s: no policy set loaded yet", subject(req, nil))
		if v.ownUser(req) {
			return admission.Allowed("fluxgate's own service account is never denied").WithWarnings(err.Error()), nil
		}
		return admission.Errored(http.StatusServiceUnavailable, err), nil
	}

	if eng.ExemptNamespace(req.Namespace) {
		return admission.Allowed(fmt.Sprintf("namespace %s is exempt", req.Namespace)), nil
	}

	switch req.SubResource {
	case "":
	case "scale":
		// Before covers: the request's kind is autoscaling/v1 Scale, which
		// no policy names; the workload it scales is what is judged.
		return v.scale(ctx, req, eng)
	default:
		return admission.Allowed(fmt.Sprintf("the %s subresource is not judged", req.SubResource)), nil
	}

	if !v.covers(eng, req.Kind.Kind) {
		return admission.Allowed(fmt.Sprintf("no enabled policy applies to %s", req.Kind.Kind)), nil
	}

	if err := v.slot(ctx); err != nil {
		return v.busy(req, subject(req, nil), err)
	}
	defer v.release()

	raw := v.input(ctx, req)
	d, reason, err := v.evaluate(ctx, func(ctx context.Context) (*policy.Decision, error) { return eng.ValidateRaw(ctx, raw) })
	if de := (*policy.DecodeError)(nil); errors.As(err, &de) {
		return v.malformed(req, de), nil
	}
	if err != nil {
		return v.failed(req, subject(req, raw.Request.Object), reason, err), nil
	}

	if d.Skipped != "" {
		return admission.Allowed(d.Skipped), nil
	}
	return v.respond(req, raw, d), nil
}

// busy answers a request that got no evaluation slot: with the error, for
// the failurePolicy to decide, except for fluxgate's own service account,
// which is admitted with a warning.
func (v *Validator) busy(req *admission.Request, subject string, err error) (admission.Response, error) {
	err = fmt.Errorf("fluxgate could not evaluate %s: %w", subject, err)
	v.o.Log.V(1).Info("no evaluation slot", "webhook", v.name, "uid", req.UID, "error", err.Error())
	if v.ownUser(req) {
		return admission.Allowed("fluxgate's own service account is never denied").WithWarnings(warnings([]string{err.Error()})...), nil
	}
	return admission.Response{}, err
}

// failed answers a request whose evaluation failed: fail closed, except
// for fluxgate's own service account.
func (v *Validator) failed(req *admission.Request, subject, reason string, err error) admission.Response {
	v.o.Metrics.error(v.name, reason)
	err = fmt.Errorf("fluxgate could not evaluate %s: %w", subject, err)
	v.o.Log.Error(err, "evaluation failed", "webhook", v.name, "uid", req.UID, "reason", reason)
	if v.ownUser(req) {
		return admission.Allowed("fluxgate's own service account is never denied").WithWarnings(warnings([]string{err.Error()})...)
	}
	return admission.Errored(http.StatusInternalServerError, err)
}

// respond counts the findings of d, records them as Events and answers:
// denied with every deny message, one per line, or admitted with the
// warnings.
func (v *Validator) respond(req *admission.Request, in inputSource, d *policy.Decision) admission.Response {
	v.count(req, d)

	denies := d.Messages(policy.ActionDeny)
	warns := d.Messages(policy.ActionWarn)
	if len(denies) > 0 && v.ownUser(req) {
		all := append(denies, warns...)
		v.recordEvents(req, in, nil, all)
		return admission.Allowed("fluxgate's own service account is never denied").WithWarnings(warnings(all)...)
	}
	v.recordEvents(req, in, denies, warns)
	if len(denies) > 0 {
		return admission.Denied(strings.Join(denies, "\n")).WithWarnings(warnings(warns)...)
	}
	if len(warns) > 0 {
		return admission.Allowed("admitted with warnings").WithWarnings(warnings(warns)...)
	}
	return admission.Allowed("no policy denies it")
}
