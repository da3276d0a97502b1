package controllers

import (
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/maintenance/timing"
)

// maxListedPaused bounds status.paused; the annotations on the objects
// are the full record.
const maxListedPaused = 100

// setStatus records the outcome of a reconcile in the guard's status.
func (r *MaintenanceGuardReconciler) setStatus(g *v1alpha1.MaintenanceGuard, d timing.Decision, active []signals.Signal, problems []string, held []*unstructured.Unstructured, now time.Time, actErr error) {
	st := &g.Status
	prevPhase := st.Phase
	st.Phase = v1alpha1.Phase(d.Next.Phase)
	st.SignalSince = timePtr(ceilSecond(d.Next.SignalSince))
	if d.Next.Phase == timing.Settling {
		st.LastSignalClearTime = timePtr(ceilSecond(d.Next.ClearSince))
	}
	if d.Action == timing.Pause && prevPhase != v1alpha1.PhasePaused && prevPhase != v1alpha1.PhaseSettling {
		st.LastPauseTime = timePtr(d.Next.PausedSince)
	}
	if d.Action == timing.Resume && actErr == nil {
		st.LastResumeTime = &metav1.Time{Time: now}
	}

	since := map[v1alpha1.SignalType]metav1.Time{}
	for _, s := range st.ActiveSignals {
		since[s.Type] = s.Since
	}
	st.ActiveSignals = st.ActiveSignals[:0]
	var names []string
	for _, s := range active {
		t := v1alpha1.SignalType(s.Type)
		first, ok := since[t]
		if !ok {
			first = metav1.Time{Time: now}
		}
		st.ActiveSignals = append(st.ActiveSignals, v1alpha1.ActiveSignal{Type: t, Detail: s.Detail, Since: first})
		names = append(names, string(s.Type))
	}
	st.ActiveSignalNames = strings.Join(names, ",")

	// Only objects whose in-flight reconcile has finished count as paused:
	// suspend does not stop a run that already started.
	st.Paused = st.Paused[:0]
	var settled, inFlight int32
	for _, u := range held {
		if s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); !s {
			continue
		}
		if !pause.Settled(u) {
			inFlight++
			continue
		}
		settled++
		if len(st.Paused) < maxListedPaused {
			at, _ := time.Parse(time.RFC3339, u.GetAnnotations()[pause.PausedAtAnnotation])
			st.Paused = append(st.Paused, v1alpha1.PausedObject{Kind: v1alpha1.TargetKind(u.GetKind()), Namespace: u.GetNamespace(), Name: u.GetName(), PausedAt: metav1.Time{Time: at}})
		}
	}
	sort.Slice(st.Paused, func(i, j int) bool {
		a, b := st.Paused[i], st.Paused[j]
		if a.Namespace != b.Namespace {
			return a.Namespace < b.Namespace
		}
		if a.Name != b.Name {
			return a.Name < b.Name
		}
		return a.Kind < b.Kind
	})
	st.PausedCount = settled

	activeCond := metav1.Condition{Type: v1alpha1.MaintenanceActiveCondition, Status: metav1.ConditionFalse, Reason: v1alpha1.NoSignalsReason, Message: "no maintenance signal"}
	if len(active) > 0 {
		activeCond = metav1.Condition{Type: v1alpha1.MaintenanceActiveCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.SignalsActiveReason, Message: pauseReason(active)}
	}
	if d.MaxPauseExceeded {
		activeCond.Reason = v1alpha1.MaxPauseExceededReason
		activeCond.Message = fmt.Sprintf("paused for longer than maxPause %s: %s", g.Spec.MaxPauseDuration(), activeCond.Message)
	}
	activeCond.ObservedGeneration = g.Generation
	apimeta.SetStatusCondition(&st.Conditions, activeCond)

	ready := metav1.Condition{Type: v1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.SucceededReason, ObservedGeneration: g.Generation,
		Message: readyMessage(st.Phase, settled, inFlight)}
	switch {
	case actErr != nil && d.Action == timing.Resume:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.ResumeFailedReason, truncate(actErr.Error(), 1024)
	case actErr != nil:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.PauseFailedReason, truncate(actErr.Error(), 1024)
	case d.MaxPauseExceeded:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.MaxPauseExceededReason, activeCond.Message
	case len(problems) > 0:
		ready.Status, ready.Reason, ready.Message = metav1.ConditionFalse, v1alpha1.InvalidFreezeWindowReason, truncate(strings.Join(problems, "; "), 1024)
	case inFlight > 0:
		ready.Reason = v1alpha1.ProgressingReason
	}
	apimeta.SetStatusCondition(&st.Conditions, ready)
}

func readyMessage(phase v1alpha1.Phase, settled, inFlight int32) string {
	msg := fmt.Sprintf("%s: %d Flux objects paused", phase, settled)
	if inFlight > 0 {
		msg += fmt.Sprintf(", %d more once their running reconcile finishes", inFlight)
	}
	return msg
}

// warnMaxPause raises the Warning Event once per pause: called before
// the status is updated, it sees whether the last reconcile already did.
func (r *MaintenanceGuardReconciler) warnMaxPause(g *v1alpha1.MaintenanceGuard) {
	if c := apimeta.FindStatusCondition(g.Status.Conditions, v1alpha1.MaintenanceActiveCondition); c != nil && c.Reason == v1alpha1.MaxPauseExceededReason {
		return
	}
	action := "Flux stays paused until the signals clear"
	if g.Spec.ResumeAfterMaxPause {
		action = "resuming Flux as spec.resumeAfterMaxPause asks"
	}
	r.event(g, corev1.EventTypeWarning, ReasonMaxPauseExceeded, "maintenance has held Flux paused for longer than maxPause %s; %s", g.Spec.MaxPauseDuration(), action)
}

func markNotReady(g *v1alpha1.MaintenanceGuard, reason, msg string) {
	apimeta.SetStatusCondition(&g.Status.Conditions, metav1.Condition{
		Type: v1alpha1.ReadyCondition, Status: metav1.ConditionFalse, Reason: reason,
		Message: truncate(msg, 1024), ObservedGeneration: g.Generation,
	})
}

// ceilSecond rounds t up to a whole second. The API keeps status times in
// whole seconds; the starts of the debounce and settle waits are rounded up
// rather than down so that, read back, neither ends early.
func ceilSecond(t time.Time) time.Time {
	if c := t.Truncate(time.Second); !c.Equal(t) {
		return c.Add(time.Second)
	}
	return t
}

func timePtr(t time.Time) *metav1.Time {
	if t.IsZero() {
		return nil
	}
	return &metav1.Time{Time: t}
}
