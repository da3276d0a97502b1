package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"maps"
	"net/http"
	"regexp"

	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// scaledKinds maps the resources whose scale subresource the validator
// judges to the kind of their objects.
var scaledKinds = map[string]string{
	"apps/deployments":  "Deployment",
	"apps/statefulsets": "StatefulSet",
}

// scale judges a request for the scale subresource of a Deployment or
// StatefulSet (`kubectl scale`, or anything that writes
// deployments/scale): the request carries an autoscaling/v1 Scale, not
// the workload. It is judged as an UPDATE of the workload, as fluxgate's
// cache holds it, from the current replica count to the new one, and
// only findings the new count introduces count: the workload is
// evaluated at the new count and, when that finds anything, at the
// current count too, and a finding that the current count already
// produces (up to the numbers in its message) is left out. So a workload
// whose other faults predate fluxgate can still be scaled during an
// incident, and only rules that depend on the replica count
// (pdb-drain-safe, pdb-coverage, replicas-ha) answer a scale.
//
// A workload that is not in the cache yet is admitted with a warning that
// says so: there is nothing to judge it by.
func (v *Validator) scale(ctx context.Context, req *admission.Request, eng *policy.Engine) (admission.Response, error) {
	kind, ok := scaledKinds[req.Resource.Group+"/"+req.Resource.Resource]
	if !ok {
		return admission.Allowed(fmt.Sprintf("the scale subresource of %s is not judged", req.Resource.Resource)), nil
	}
	if req.Operation != admissionv1.Update {
		return admission.Allowed(fmt.Sprintf("%s requests for a scale are not judged", req.Operation)), nil
	}
	if !v.covers(eng, kind) {
		return admission.Allowed(fmt.Sprintf("no enabled policy applies to %s", kind)), nil
	}
	name := fmt.Sprintf("%s %s/%s", kind, req.Namespace, req.Name)

	if err := v.slot(ctx); err != nil {
		return v.busy(req, name, err)
	}
	defer v.release()

	next, err := decodeScale(req.Object.Raw)
	if err != nil {
		return v.malformedScale(req, fmt.Errorf("decode the Scale of %s: %w", name, err)), nil
	}
	if next == nil {
		return v.malformedScale(req, fmt.Errorf("decode the Scale of %s: the request carries no object", name)), nil
	}
	current, err := decodeScale(req.OldObject.Raw)
	if err != nil {
		return v.malformedScale(req, fmt.Errorf("decode the old Scale of %s: %w", name, err)), nil
	}
	what := fmt.Sprintf("scaling %s to %d replicas", name, next.replicas)

	rel, err := v.related(ctx, req)
	if err != nil {
		return admission.Allowed("related objects unreadable").
			WithWarnings(fmt.Sprintf("fluxgate did not judge %s: %v", what, err)), nil
	}
	cached := rel.Object(kind, req.Name)
	if cached == nil {
		v.o.Metrics.error(v.name, ReasonRelated)
		v.o.Log.Info("admitting a scale of a workload that is not in the cache yet",
			"webhook", v.name, "uid", req.UID, "kind", kind, "namespace", req.Namespace, "name", req.Name)
		return admission.Allowed("workload not in the cache yet").
			WithWarnings(fmt.Sprintf("fluxgate did not judge %s: the %s is not in its cache yet", what, kind)), nil
	}

	// The old Scale is the API server's view of the current count and
	// version; the cache may lag behind it.
	base := withReplicas(cached, current)
	gvk := policy.GroupVersionKind{Group: req.Resource.Group, Version: req.Resource.Version, Kind: kind}
	in := &policy.Input{
		Request:     policyRequest(req, gvk, withReplicas(base, next), base),
		Related:     rel,
		Maintenance: v.maintenance(ctx, req),
	}
	unchanged := *in
	unchanged.Request.Object = base

	d, reason, err := v.evaluate(ctx, func(ctx context.Context) (*policy.Decision, error) {
		after, err := eng.Validate(ctx, in)
		if err != nil || after.Skipped != "" || len(after.Findings) == 0 {
			// Nothing the current count could have produced first: the
			// second evaluation is only needed to leave findings out.
			return after, err
		}
		before, err := eng.Validate(ctx, &unchanged)
		if err != nil {
			return nil, err
		}
		return introduced(before, after), nil
	})
	if err != nil {
		return v.failed(req, what, reason, err), nil
	}
	if d.Skipped != "" {
		return admission.Allowed(d.Skipped), nil
	}
	return v.respond(req, decodedInput{in}, d), nil
}

// malformedScale answers a Scale that cannot be read with a bad request.
func (v *Validator) malformedScale(req *admission.Request, err error) admission.Response {
	v.o.Metrics.error(v.name, ReasonDecode)
	v.o.Log.Info("rejecting malformed admission request", "webhook", v.name, "uid", req.UID, "error", err.Error())
	return admission.Errored(http.StatusBadRequest, err)
}

// scaleObject is what the validator reads of an autoscaling/v1 Scale.
type scaleObject struct {
	replicas        int64
	resourceVersion string
}

// decodeScale reads the replica count and resourceVersion of a Scale; nil
// when raw is empty. An omitted spec.replicas is 0 (the field is
// omitempty).
func decodeScale(raw []byte) (*scaleObject, error) {
	if len(bytes.TrimSpace(raw)) == 0 {
		return nil, nil
	}
	var s struct {
		Metadata struct {
			ResourceVersion string `json:"resourceVersion"`
		} `json:"metadata"`
		Spec struct {
			Replicas *int64 `json:"replicas"`
		} `json:"spec"`
	}
	if err := json.Unmarshal(raw, &s); err != nil {
		return nil, err
	}
	out := &scaleObject{resourceVersion: s.Metadata.ResourceVersion}
	if s.Spec.Replicas != nil {
		out.replicas = *s.Spec.Replicas
	}
	if out.replicas < 0 {
		return nil, errors.New("spec.replicas is negative")
	}
	return out, nil
}

// withReplicas returns a copy of obj with the replica count and
// resourceVersion of s; obj, which the cache shares, is not modified. A
// nil s returns obj.
func withReplicas(obj map[string]any, s *scaleObject) map[string]any {
	if s == nil {
		return obj
	}
	out := maps.Clone(obj)
	spec := cloneField(obj, "spec")
	spec["replicas"] = s.replicas
	out["spec"] = spec
	if s.resourceVersion != "" {
		meta := cloneField(obj, "metadata")
		meta["resourceVersion"] = s.resourceVersion
		out["metadata"] = meta
	}
	return out
}

// cloneField returns a shallow copy of the object obj holds at key, or an
// empty map when it holds none.
func cloneField(obj map[string]any, key string) map[string]any {
	m, _ := obj[key].(map[string]any)
	if m == nil {
		return map[string]any{}
	}
	return maps.Clone(m)
}

// counts matches the numbers in a message that stand alone (a count, a
// percentage, "spec.minAvailable: 2"), not digits inside names such as
// web-2 or app1.
var counts = regexp.MustCompile(`(^|[^\w./-])\d+(\.\d+)?`)

// findingKey identifies a finding across replica counts: its policy,
// action and message with the standalone numbers masked, since the
// messages of replica-dependent rules quote the counts.
func findingKey(f policy.Finding) string {
	return f.Policy + "\x00" + string(f.Action) + "\x00" + counts.ReplaceAllString(f.Message, "${1}#")
}

// introduced returns the findings of after that before does not have.
func introduced(before, after *policy.Decision) *policy.Decision {
	seen := make(map[string]bool, len(before.Findings))
	for _, f := range before.Findings {
		seen[findingKey(f)] = true
	}
	out := &policy.Decision{}
	for _, f := range after.Findings {
		if !seen[findingKey(f)] {
			out.Findings = append(out.Findings, f)
		}
	}
	return out
}
