package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// reportReconcile writes what kustomize-controller v1.9 writes once it
// handled a reconcile request: lastHandledReconcileAt and the Ready
// condition, and on a failure Reconciling True with ProgressingWithRetry,
// as it keeps retrying.
func reportReconcile(t *testing.T, u *unstructured.Unstructured, token, ready, message string) {
	t.Helper()
	cur := get(t, u)
	conditions := []any{map[string]any{
		"type": "Ready", "status": ready, "reason": map[string]string{"True": "ReconciliationSucceeded", "False": "BuildFailed"}[ready],
		"message": message, "lastTransitionTime": "2026-11-21T20:05:00Z",
	}}
	if ready == "False" {
		conditions = append(conditions, map[string]any{
			"type": "Reconciling", "status": "True", "reason": "ProgressingWithRetry",
			"message": "Detecting drift for revision main@sha1:5e1f with a timeout of 50s", "lastTransitionTime": "2026-11-21T20:05:00Z",
		})
	}
	cur.Object["status"] = map[string]any{
		"lastHandledReconcileAt": token,
		"lastAttemptedRevision":  "main@sha1:5e1f",
		"conditions":             conditions,
	}
	if err := k8s.Status().Update(context.Background(), cur); err != nil {
		t.Fatal(err)
	}
}

// A paused Kustomization annotated fluxgate.dev/reconcile-once goes
// through one reconcile: resumed with a reconcile request, listed in the
// guard's status.releasing, suspended again once Flux reports the
// reconcile, with Events naming the reason and the result; the others
// stay paused, and the end of the maintenance resumes everything as usual.
func TestReconcileOnceDuringAPause(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	label := uniq("once")
	node := labelledNode(t, label)
	ns := namespace(t, nil)
	fixed := flux(t, pause.Kustomization, ns, "security-fix", false)
	broken := flux(t, pause.Kustomization, ns, "broken", false)
	other := flux(t, pause.Kustomization, ns, "other", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0)})
	cordon(t, node, true)
	waitPhase(t, g, v1alpha1.PhasePaused)

	for _, u := range []*unstructured.Unstructured{fixed, broken} {
		cur := get(t, u)
		base := cur.DeepCopy()
		cur.SetAnnotations(mergeAnnotations(cur.GetAnnotations(), v1alpha1.ReconcileOnceAnnotation, "CVE-2026-1234 fix"))
		if err := k8s.Patch(ctx, cur, client.MergeFrom(base), client.FieldOwner("kubectl-annotate")); err != nil {
			t.Fatal(err)
		}
	}
	tokens := map[string]string{}
	eventually(t, func() error {
		kick(t, g)
		for _, u := range []*unstructured.Unstructured{fixed, broken} {
			cur := get(t, u)
			a := cur.GetAnnotations()
			token := a[v1alpha1.ReconcileOnceAtAnnotation]
			if s, _, _ := unstructured.NestedBool(cur.Object, "spec", "suspend"); s || token == "" || a[pause.RequestedAtAnnotation] != token {
				return fmt.Errorf("%s not let through: suspend %v, annotations %v", u.GetName(), s, a)
			}
			tokens[u.GetName()] = token
		}
		if n := len(status(t, g).Releasing); n != 2 {
			return fmt.Errorf("status.releasing has %d objects, want 2", n)
		}
		return nil
	})
	if !suspended(t, other) {
		t.Fatal("a Kustomization without the annotation was let through")
	}

	reportReconcile(t, fixed, tokens["security-fix"], "True", "Applied revision: main@sha1:5e1f")
	reportReconcile(t, broken, tokens["broken"], "False", "kustomize build failed")
	eventually(t, func() error {
		kick(t, g)
		for _, u := range []*unstructured.Unstructured{fixed, broken} {
			cur := get(t, u)
			a := cur.GetAnnotations()
			if s, _, _ := unstructured.NestedBool(cur.Object, "spec", "suspend"); !s || a[v1alpha1.ReconcileOnceAnnotation] != "" || a[v1alpha1.ReconcileOnceAtAnnotation] != "" || a[pause.PausedByAnnotation] != g.Name {
				return fmt.Errorf("%s not paused again: suspend %v, annotations %v", u.GetName(), s, a)
			}
		}
		if n := len(status(t, g).Releasing); n != 0 {
			return fmt.Errorf("status.releasing has %d objects", n)
		}
		return nil
	})
	eventually(t, func() error {
		notes := map[string][]string{}
		for _, e := range guardEvents(t, g.Name) {
			notes[e.Reason] = append(notes[e.Reason], e.Type+" "+e.Message)
		}
		started, ok, failed := strings.Join(notes[v1alpha1.ReconcileOnceStartedReason], "\n"), strings.Join(notes[v1alpha1.ReconcileOnceSucceededReason], "\n"), strings.Join(notes[v1alpha1.ReconcileOnceFailedReason], "\n")
		if !strings.Contains(started, `"CVE-2026-1234 fix", asked by field manager "kubectl-annotate"`) ||
			!strings.Contains(ok, "Normal Kustomization "+ns+"/security-fix reconciled once") || !strings.Contains(ok, "Ready at revision main@sha1:5e1f: Applied revision") ||
			!strings.Contains(failed, "Warning Kustomization "+ns+"/broken reconciled once") || !strings.Contains(failed, "not Ready at revision main@sha1:5e1f (BuildFailed): kustomize build failed") {
			return fmt.Errorf("events on the guard: %v", notes)
		}
		return nil
	})

	cordon(t, node, false)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	for _, u := range []*unstructured.Unstructured{fixed, broken, other} {
		if suspended(t, u) {
			t.Errorf("%s still suspended after the maintenance", u.GetName())
		}
	}
}

func mergeAnnotations(a map[string]string, key, value string) map[string]string {
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	return a
}
