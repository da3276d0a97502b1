package webhook

import (
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// The reasons and the action of the Events the validator records. Flux
// shows only its Kustomization's message, so Events are how the owners of
// a workload learn about warnings (and, outside dry runs, denials).
const (
	EventReasonWarning = "PolicyWarning"
	EventReasonDenied  = "PolicyDenied"
	EventAction        = "Admission"
)

// recordEvents records one Warning event per deny and warn finding of d,
// at most maxEvents, denials first. Dry runs record nothing: the webhooks
// declare sideEffects: None, and Flux dry-runs every object on every
// interval. denied is false when the request was admitted in spite of its
// deny findings (fluxgate's own service account); those are then
// recorded as warnings.
func (h *handler) recordEvents(req *admission.Request, in *policy.Input, d *policy.Decision, denied bool) {
	if h.o.Events == nil || in.Request.DryRun {
		return
	}
	target := eventTarget(req, in.Request.OldObject)
	if target == nil {
		return
	}
	n := 0
	record := func(action policy.Action, reason string) {
		for _, f := range d.Findings {
			if f.Action != action || n >= maxEvents {
				continue
			}
			n++
			note := truncateBytes(printable(f.Policy+": "+f.Message), maxNoteBytes)
			h.o.Events.Eventf(target, nil, corev1.EventTypeWarning, reason, EventAction, "%s", note)
		}
	}
	if denied {
		record(policy.ActionDeny, EventReasonDenied)
	} else {
		record(policy.ActionDeny, EventReasonWarning)
	}
	record(policy.ActionWarn, EventReasonWarning)
}

// eventTarget is what Events about a request are recorded on: the object
// itself when it already exists (UPDATE, DELETE), otherwise its
// Namespace. The Namespace reference carries the namespace as its own
// namespace, so the Event is stored, and listed by `kubectl get events`,
// beside the workload rather than in "default". A new cluster-scoped
// object has neither, and gets no Event.
func eventTarget(req *admission.Request, old map[string]any) *corev1.ObjectReference {
	if old != nil && req.Operation != "CREATE" {
		meta, _ := old["metadata"].(map[string]any)
		ref := &corev1.ObjectReference{
			APIVersion: schema.GroupVersion{Group: req.Kind.Group, Version: req.Kind.Version}.String(),
			Kind:       req.Kind.Kind,
			Namespace:  req.Namespace,
			Name:       req.Name,
		}
		if s, _ := old["apiVersion"].(string); s != "" {
			ref.APIVersion = s
		}
		if s, _ := old["kind"].(string); s != "" {
			ref.Kind = s
		}
		if s, _ := meta["namespace"].(string); s != "" {
			ref.Namespace = s
		}
		if s, _ := meta["name"].(string); s != "" {
			ref.Name = s
		}
		if s, _ := meta["uid"].(string); s != "" {
			ref.UID = types.UID(s)
		}
		if s, _ := meta["resourceVersion"].(string); s != "" {
			ref.ResourceVersion = s
		}
		if ref.Name != "" && ref.Kind != "" {
			return ref
		}
	}
	if req.Namespace == "" {
		return nil
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: req.Namespace, Namespace: req.Namespace}
}
