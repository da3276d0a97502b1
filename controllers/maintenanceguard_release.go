package controllers

import (
	"context"
	"encoding/json"
	"fmt"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

const (
	// releaseTimeout bounds a one-shot reconcile: a Flux controller that
	// never answers (down, or the source never ready) must not leave the
	// object running through the maintenance.
	releaseTimeout = 10 * time.Minute
	// releaseRecheck is how soon the guard looks again at a one-shot
	// reconcile in flight, beside the Flux events that wake it.
	releaseRecheck = 5 * time.Second
)

// releaseOnce drives the one-shot reconciles (fluxgate.dev/reconcile-once)
// of the objects the guard holds: an annotated object still suspended is
// un-suspended with a reconcile request; an object let through is
// suspended again once Flux reports that reconcile (status
// lastHandledReconcileAt equal to the request, Ready settled), or after
// releaseTimeout. Events on the guard and on the object record who asked,
// why and the result. When several guards hold the object, the first by
// name drives it. It returns the objects let through now.
func (r *MaintenanceGuardReconciler) releaseOnce(ctx context.Context, g *v1alpha1.MaintenanceGuard, held []*unstructured.Unstructured, now time.Time) ([]v1alpha1.ReleasedObject, error) {
	p := &pause.Pauser{Client: r.Client, Guard: g.Name, FieldManager: v1alpha1.FieldManager}
	var releasing []v1alpha1.ReleasedObject
	var errs []error
	for _, obj := range held {
		a := obj.GetAnnotations()
		reason, token := strings.TrimSpace(a[v1alpha1.ReconcileOnceAnnotation]), a[v1alpha1.ReconcileOnceAtAnnotation]
		if reason == "" && token == "" {
			continue
		}
		if holders := pause.Holders(obj); len(holders) == 0 || holders[0] != g.Name {
			continue
		}
		what := fmt.Sprintf("%s %s/%s", obj.GetKind(), obj.GetNamespace(), obj.GetName())
		who := annotatedBy(obj, v1alpha1.ReconcileOnceAnnotation)
		released := v1alpha1.ReleasedObject{Kind: v1alpha1.TargetKind(obj.GetKind()), Namespace: obj.GetNamespace(), Name: obj.GetName(), Reason: truncate(reason, 256)}
		if token == "" {
			if pause.Classify(obj, g.Name) != pause.Held {
				continue
			}
			// The webhook's change-freeze reads status.releasing from its
			// cache: the object is listed there first, and un-suspended
			// only once this guard, read from the same cache, shows it,
			// so that Flux's apply never meets a freeze that does not know.
			if !announced(g, released) {
				releasing = append(releasing, released)
				continue
			}
			token = now.UTC().Format(time.RFC3339Nano)
			if err := p.StartRelease(ctx, obj, token); err != nil {
				errs = append(errs, err)
				continue
			}
			msg := fmt.Sprintf("%s resumed for one reconcile while paused: %q, asked by %s", what, reason, who)
			r.event(g, corev1.EventTypeNormal, v1alpha1.ReconcileOnceStartedReason, "%s", msg)
			r.event(obj, corev1.EventTypeNormal, v1alpha1.ReconcileOnceStartedReason, "%s (MaintenanceGuard %s)", msg, g.Name)
			released.RequestedAt = token
			releasing = append(releasing, released)
			continue
		}
		outcome, done := reconcileOutcome(obj, token)
		requested, _ := time.Parse(time.RFC3339Nano, token)
		if !done && now.Sub(requested) < releaseTimeout {
			released.RequestedAt = token
			releasing = append(releasing, released)
			continue
		}
		if err := p.FinishRelease(ctx, obj); err != nil {
			errs = append(errs, err)
			continue
		}
		eventType, eventReason := corev1.EventTypeNormal, v1alpha1.ReconcileOnceSucceededReason
		if !done {
			outcome = fmt.Sprintf("no reconcile reported within %s", releaseTimeout)
		}
		if !done || !strings.HasPrefix(outcome, "Ready") {
			eventType, eventReason = corev1.EventTypeWarning, v1alpha1.ReconcileOnceFailedReason
		}
		msg := fmt.Sprintf("%s reconciled once (%q, asked by %s): %s; suspended again", what, reason, who, outcome)
		r.event(g, eventType, eventReason, "%s", msg)
		r.event(obj, eventType, eventReason, "%s (MaintenanceGuard %s)", msg, g.Name)
	}
	return releasing, joinErrors("one-shot reconcile", errs)
}

// progressingWithRetry is the reason of the Reconciling condition Flux's
// controllers leave True after a failed run, until a retry succeeds
// (meta.ProgressingWithRetryReason of github.com/fluxcd/pkg/apis/meta).
const progressingWithRetry = "ProgressingWithRetry"

// announced reports whether the guard as read lists obj in
// status.releasing.
func announced(g *v1alpha1.MaintenanceGuard, obj v1alpha1.ReleasedObject) bool {
	for _, r := range g.Status.Releasing {
		if r.Kind == obj.Kind && r.Namespace == obj.Namespace && r.Name == obj.Name {
			return true
		}
	}
	return false
}

// reconcileOutcome reads whether Flux reported the reconcile requested
// with token, and how it went: "Ready: <message>" or "not Ready
// (<reason>): <message>", with the revision.
func reconcileOutcome(obj *unstructured.Unstructured, token string) (string, bool) {
	if lastHandledReconcile(obj) != token || !(pause.Settled(obj) || failedAwaitingRetry(obj)) {
		return "", false
	}
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] != "Ready" {
			continue
		}
		msg, _ := m["message"].(string)
		reason, _ := m["reason"].(string)
		revision, _, _ := unstructured.NestedString(obj.Object, "status", "lastAttemptedRevision")
		if revision != "" {
			revision = " at revision " + revision
		}
		switch m["status"] {
		case "True":
			return fmt.Sprintf("Ready%s: %s", revision, msg), true
		case "False":
			return fmt.Sprintf("not Ready%s (%s): %s", revision, reason, msg), true
		}
	}
	return "", false
}

// failedAwaitingRetry reports a run that finished and failed: Flux keeps
// Reconciling True (reason ProgressingWithRetry) next to Ready False
// until a retry succeeds, so such an object is never Settled, and a
// failed one-shot reconcile would stay un-suspended, retried at every
// retryInterval, until releaseTimeout. A retry in progress sets Ready
// Unknown and the reason Progressing, which this does not count.
func failedAwaitingRetry(obj *unstructured.Unstructured) bool {
	var readyFalse, retrying bool
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		switch m["type"] {
		case "Ready":
			readyFalse = m["status"] == "False"
		case "Reconciling":
			retrying = m["status"] == "True" && m["reason"] == progressingWithRetry
		}
	}
	return readyFalse && retrying
}

// lastHandledReconcile is the reconcile request Flux last handled.
func lastHandledReconcile(obj *unstructured.Unstructured) string {
	v, _, _ := unstructured.NestedString(obj.Object, "status", "lastHandledReconcileAt")
	return v
}

// annotatedBy names the field manager that set annotation key (kubectl
// annotate, kubectl-client-side-apply, a Flux controller applying it from
// Git, ...): the API server does not record the user, only the manager.
func annotatedBy(obj *unstructured.Unstructured, key string) string {
	field := "f:" + key
	for _, mf := range obj.GetManagedFields() {
		if mf.FieldsV1 == nil {
			continue
		}
		var fields map[string]map[string]map[string]any
		if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
			continue
		}
		if _, ok := fields["f:metadata"]["f:annotations"][field]; ok {
			return fmt.Sprintf("field manager %q", mf.Manager)
		}
	}
	return "an unknown writer"
}
