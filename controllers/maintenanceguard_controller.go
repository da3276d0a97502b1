package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/maintenance/timing"
)

// GuardFinalizer makes deleting a guard resume what it holds first.
const GuardFinalizer = "fluxgate.dev/maintenance-guard"

// Event reasons on guards and on the Flux objects they pause.
const (
	ReasonMaintenancePaused  = "MaintenancePaused"
	ReasonMaintenanceResumed = "MaintenanceResumed"
	ReasonPauseReverted      = "PauseReverted"
	ReasonMaxPauseExceeded   = v1alpha1.MaxPauseExceededReason
)

// pollInterval bounds how long a signal the guard does not watch (kured's
// lock, upgrade Plans, NodeMaintenances, kube-apiserver pods) can go
// unnoticed.
const pollInterval = 30 * time.Second

// writeWorkers bounds concurrent writes to Flux objects in one transition.
const writeWorkers = 16

// MaintenanceGuardReconciler pauses the Flux objects a MaintenanceGuard
// selects while its signals say maintenance is under way, and resumes
// them once the signals have been clear for the settle period. Every fact
// it acts on is re-read from the API on each reconcile (signals, the
// guard's status, the annotations on the objects), so a restart at any
// point finishes the job without losing or repeating a step.
type MaintenanceGuardReconciler struct {
	Client  client.Client
	Events  events.EventRecorder
	Metrics *GuardMetrics
	// Now is the clock; tests inject one.
	Now func() time.Time
	Log logr.Logger
}

// SetupWithManager registers the controller. It needs the leader: two
// replicas must not pause and resume the same objects at once.
func (r *MaintenanceGuardReconciler) SetupWithManager(mgr ctrl.Manager) error {
	if r.Now == nil {
		r.Now = time.Now
	}
	allGuards := handler.EnqueueRequestsFromMapFunc(func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list v1alpha1.MaintenanceGuardList
		if err := mgr.GetClient().List(ctx, &list); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for _, g := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&g)})
		}
		return reqs
	})
	b := ctrl.NewControllerManagedBy(mgr).
		Named("maintenanceguard").
		For(&v1alpha1.MaintenanceGuard{}).
		Watches(&corev1.Node{}, allGuards)
	for _, k := range targetKinds {
		// A cluster without helm-controller has no HelmRelease CRD: the
		// guard then pauses Kustomizations only.
		if _, err := mgr.GetRESTMapper().RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			r.Log.Info("not watching a Flux kind whose CRD is not installed", "kind", k.gvk.Kind, "reason", err.Error())
			continue
		}
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.gvk)
		b = b.Watches(u, allGuards)
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("set up maintenance guard controller: %w", err)
	}
	return nil
}

// Reconcile has one fixed shape: get, finalizer, deferred status patch,
// reconcile.
func (r *MaintenanceGuardReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	guard := &v1alpha1.MaintenanceGuard{}
	if err := r.Client.Get(ctx, req.NamespacedName, guard); err != nil {
		return ctrl.Result{}, client.IgnoreNotFound(err)
	}
	log := r.Log.WithValues("guard", guard.Name)
	ctx = logr.NewContext(ctx, log)

	if !guard.DeletionTimestamp.IsZero() {
		return ctrl.Result{}, r.finalize(ctx, guard)
	}
	if !controllerutil.ContainsFinalizer(guard, GuardFinalizer) {
		controllerutil.AddFinalizer(guard, GuardFinalizer)
		if err := r.Client.Update(ctx, guard); err != nil {
			return ctrl.Result{}, fmt.Errorf("add finalizer: %w", err)
		}
	}

	base := guard.DeepCopy()
	defer func() {
		guard.Status.ObservedGeneration = guard.Generation
		if err := r.Client.Status().Patch(ctx, guard, client.MergeFrom(base)); err != nil {
			retErr = errors.Join(retErr, fmt.Errorf("patch status: %w", client.IgnoreNotFound(err)))
		}
		r.Metrics.observe(guard)
	}()
	return r.reconcile(ctx, guard)
}

// reconcile reads the signals, steps the timing and acts.
func (r *MaintenanceGuardReconciler) reconcile(ctx context.Context, guard *v1alpha1.MaintenanceGuard) (ctrl.Result, error) {
	now := r.Now()
	cfg, err := signalsConfig(guard)
	if err != nil {
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	loadCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	snap, err := signals.Load(loadCtx, r.Client, cfg, now)
	cancel()
	if err != nil {
		// Never resume on missing information: keep the state and retry.
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		return ctrl.Result{RequeueAfter: pollInterval}, nil
	}
	active, problems := signals.Detect(cfg, snap)
	decision := timing.Step(timingConfig(guard), timingState(guard), len(active) > 0, now)

	all, err := r.listAll(ctx)
	if err != nil {
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		return ctrl.Result{RequeueAfter: pollInterval}, nil
	}
	held := heldBy(all, guard.Name)
	var actErr error
	switch {
	case decision.Action == timing.Pause:
		targets, err := r.selected(ctx, guard, all)
		if err != nil {
			markNotReady(guard, v1alpha1.PauseFailedReason, err.Error())
			return ctrl.Result{}, reconcile.TerminalError(err)
		}
		actErr = r.pauseAll(ctx, guard, targets, active, now)
	case decision.Action == timing.Resume || (len(held) > 0 && (decision.Next.Phase == timing.Idle || decision.Next.Phase == timing.Debouncing)):
		// Also resumes what a guard still holds outside a maintenance: left
		// by a resume that a restart interrupted, or by a changed spec.
		actErr = r.resumeAll(ctx, guard, held, now)
	}

	// The writes updated the listed objects in place, and they are newer
	// than the cache: the status is computed from them.
	held = heldBy(all, guard.Name)
	if decision.MaxPauseExceeded {
		r.warnMaxPause(guard)
	}
	r.setStatus(guard, decision, active, problems, held, now, actErr)
	if actErr != nil {
		return ctrl.Result{}, actErr
	}
	return ctrl.Result{RequeueAfter: requeueAfter(decision, cfg, now)}, nil
}

// requeueAfter is the soonest time something changes without an event:
// the debounce or settle period ending, a freeze window opening or
// closing, or the poll of unwatched signals.
func requeueAfter(d timing.Decision, cfg signals.Config, now time.Time) time.Duration {
	after := pollInterval
	if d.RequeueAfter > 0 && d.RequeueAfter < after {
		after = d.RequeueAfter
	}
	if next := signals.NextTransition(cfg, now); !next.IsZero() {
		if w := next.Sub(now); w > 0 && w < after {
			after = w
		}
	}
	return after
}

// pauseAll pauses every target not yet held, concurrently.
func (r *MaintenanceGuardReconciler) pauseAll(ctx context.Context, guard *v1alpha1.MaintenanceGuard, targets []*unstructured.Unstructured, active []signals.Signal, now time.Time) error {
	p := &pause.Pauser{Client: r.Client, Guard: guard.Name, FieldManager: v1alpha1.FieldManager}
	reason := pauseReason(active)
	var paused atomic.Int64
	errs := parallel(targets, writeWorkers, func(u *unstructured.Unstructured) error {
		out, err := p.Pause(ctx, u, reason, now)
		if err != nil {
			return err
		}
		switch out {
		case pause.Paused, pause.Joined:
			r.event(u, corev1.EventTypeNormal, ReasonMaintenancePaused, "paused by MaintenanceGuard %s: %s", guard.Name, reason)
			paused.Add(1)
		case pause.Repaused:
			r.event(u, corev1.EventTypeWarning, ReasonPauseReverted, "a parent's apply set spec.suspend: false during maintenance; MaintenanceGuard %s paused it again", guard.Name)
			r.event(guard, corev1.EventTypeWarning, ReasonPauseReverted, "%s %s/%s was un-suspended by Flux during maintenance and paused again", u.GetKind(), u.GetNamespace(), u.GetName())
		}
		return nil
	})
	if n := paused.Load(); n > 0 {
		r.event(guard, corev1.EventTypeNormal, ReasonMaintenancePaused, "paused %d Flux objects: %s", n, reason)
		r.Metrics.transition(guard.Name, "pause")
		logr.FromContextOrDiscard(ctx).Info("paused Flux objects", "count", n, "reason", reason)
	}
	return joinErrors("pause", errs)
}

// resumeAll resumes what the guard holds, dependencies first.
func (r *MaintenanceGuardReconciler) resumeAll(ctx context.Context, guard *v1alpha1.MaintenanceGuard, held []*unstructured.Unstructured, now time.Time) error {
	if len(held) == 0 {
		return nil
	}
	p := &pause.Pauser{Client: r.Client, Guard: guard.Name, FieldManager: v1alpha1.FieldManager}
	var resumed atomic.Int64
	var errs []error
	for _, level := range pause.ResumeLevels(held) {
		errs = append(errs, parallel(level, writeWorkers, func(u *unstructured.Unstructured) error {
			out, err := p.Resume(ctx, u, now)
			if err != nil {
				return err
			}
			if out == pause.Resumed {
				r.event(u, corev1.EventTypeNormal, ReasonMaintenanceResumed, "resumed by MaintenanceGuard %s; reconcile requested", guard.Name)
				resumed.Add(1)
			}
			return nil
		})...)
		if len(errs) > 0 {
			// Dependants wait for their dependencies: stop at this level.
			break
		}
	}
	if n := resumed.Load(); n > 0 {
		r.event(guard, corev1.EventTypeNormal, ReasonMaintenanceResumed, "resumed %d Flux objects", n)
		r.Metrics.transition(guard.Name, "resume")
		if guard.Status.LastPauseTime != nil {
			r.Metrics.pauseDuration(now.Sub(guard.Status.LastPauseTime.Time))
		}
		logr.FromContextOrDiscard(ctx).Info("resumed Flux objects", "count", n)
	}
	return joinErrors("resume", errs)
}

// finalize resumes everything the guard holds before it goes away.
func (r *MaintenanceGuardReconciler) finalize(ctx context.Context, guard *v1alpha1.MaintenanceGuard) error {
	if !controllerutil.ContainsFinalizer(guard, GuardFinalizer) {
		return nil
	}
	all, err := r.listAll(ctx)
	if err != nil {
		return err
	}
	if err := r.resumeAll(ctx, guard, heldBy(all, guard.Name), r.Now()); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(guard, GuardFinalizer)
	if err := r.Client.Update(ctx, guard); err != nil {
		return fmt.Errorf("remove finalizer: %w", client.IgnoreNotFound(err))
	}
	return nil
}

func (r *MaintenanceGuardReconciler) event(obj runtime.Object, eventType, reason, format string, args ...any) {
	if r.Events != nil {
		r.Events.Eventf(obj, nil, eventType, reason, "Maintenance", format, args...)
	}
}

func pauseReason(active []signals.Signal) string {
	parts := make([]string, 0, len(active))
	for _, s := range active {
		parts = append(parts, fmt.Sprintf("%s: %s", s.Type, s.Detail))
	}
	return strings.Join(parts, "; ")
}

func joinErrors(what string, errs []error) error {
	if len(errs) == 0 {
		return nil
	}
	return fmt.Errorf("%s %d objects: %w", what, len(errs), errors.Join(errs...))
}
