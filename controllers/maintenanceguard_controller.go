package controllers

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllerutil"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

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
// It is sized for the API server rather than the client: a write costs the
// server about 3 ms of CPU (CRD validation, managed fields, etcd), and 64
// requests in flight keep two cores busy where 16 left them waiting on
// round trips (BenchmarkPauseResume2000: 3.4 s instead of 5.4 s for 2,000
// objects). API Priority and Fairness queues what exceeds the guard's
// share of a busy server.
const writeWorkers = 64

// MaintenanceGuardReconciler pauses the Flux objects a MaintenanceGuard
// selects while its signals say maintenance is under way, and resumes
// them once the signals have been clear for the settle period. Every fact
// it acts on is re-read on each reconcile (signals, the guard's status,
// the annotations on the objects), so a restart at any point finishes the
// job without losing or repeating a step.
//
// It follows the event model of Flux's own controllers: every watch has a
// predicate, so Node heartbeats and Flux status writes cause no reconcile
// (see nodeChanged, fluxFactsChanged, guardChanged); reads come from the
// manager's cache through field indexes (heldByIndex, nodeRelevantIndex)
// without deep copies; a failed read or write returns the error, so the
// controller retries with its rate limiter's backoff, and only a spec
// that cannot work (a bad label selector) is terminal.
//
// Flux objects are watched only while a guard needs them: from the
// debounce (so that the pause finds the cache filled) until it holds
// nothing. In a quiet cluster no Flux watch runs at all, and Flux's
// status writes cost the guard nothing; each reconcile then checks with
// one list of the objects' metadata (protobuf) that it holds nothing
// (see heldBy, watchFlux).
type MaintenanceGuardReconciler struct {
	// Client reads from the manager's cache (with the indexes
	// SetupWithManager registers) and writes to the API.
	Client client.Client
	// APIReader reads from the API server directly (the manager's
	// GetAPIReader when not set).
	APIReader client.Reader
	Events    events.EventRecorder
	Metrics   *GuardMetrics
	// Now is the clock; tests inject one.
	Now func() time.Time
	Log logr.Logger
	// ServiceAccount is the guard's own ServiceAccount, whose tokens it
	// requests for a remote cluster's kubeConfig ConfigMap that names no
	// serviceAccountName (Flux uses its controller's there). When empty,
	// it is read from the pod's ServiceAccount token, as Flux does.
	ServiceAccount types.NamespacedName

	// kinds are the Flux kinds whose CRDs are installed, found at set-up.
	kinds []targetKind
	// cache is the manager's. needFlux holds the guards that need the Flux
	// informers, which run while it is not empty; fluxEvents carries their
	// events to the controller.
	cache      cache.Cache
	needFlux   map[string]bool
	watching   atomic.Bool
	fluxEvents chan event.GenericEvent
	// written holds the Flux objects the guard wrote until the cache has
	// them; guards the guard status it wrote.
	written written
	guards  guardStatuses
	// drainWaits tells drains that wait for replacement pods from stuck
	// ones (DrainBlocked).
	drainWaits drainWaits
	// remotes holds the clients of remote clusters (spec.cluster).
	remotes remoteClients
}

// SetupWithManager registers the controller and its field indexes. It
// needs the leader: two replicas must not pause and resume the same
// objects at once.
func (r *MaintenanceGuardReconciler) SetupWithManager(mgr ctrl.Manager) error {
	ctx := context.Background()
	if r.Now == nil {
		r.Now = time.Now
	}
	if r.APIReader == nil {
		r.APIReader = mgr.GetAPIReader()
	}
	if err := mgr.GetFieldIndexer().IndexField(ctx, &corev1.Node{}, nodeRelevantIndex, indexNodeRelevant); err != nil {
		return fmt.Errorf("index nodes by %s: %w", nodeRelevantIndex, err)
	}
	// Namespaces resolve targets' namespaceSelectors: their informer starts
	// with the cache rather than on the critical path of the first pause.
	if _, err := mgr.GetCache().GetInformer(ctx, &corev1.Namespace{}, cache.BlockUntilSynced(false)); err != nil {
		return fmt.Errorf("watch namespaces: %w", err)
	}
	r.cache = mgr.GetCache()
	r.fluxEvents = make(chan event.GenericEvent, 1024)
	b := ctrl.NewControllerManagedBy(mgr).
		Named("maintenanceguard").
		For(&v1alpha1.MaintenanceGuard{}, builder.WithPredicates(guardChanged)).
		Watches(&corev1.Node{}, handler.EnqueueRequestsFromMapFunc(allGuards(mgr.GetCache())), builder.WithPredicates(nodeChanged)).
		WatchesRawSource(source.Channel(r.fluxEvents, &handler.EnqueueRequestForObject{}))
	r.kinds = nil
	for _, k := range targetKinds {
		// A cluster without helm-controller has no HelmRelease CRD: the
		// guard then pauses Kustomizations only.
		if _, err := mgr.GetRESTMapper().RESTMapping(k.gvk.GroupKind(), k.gvk.Version); err != nil {
			r.Log.Info("not watching a Flux kind whose CRD is not installed", "kind", k.gvk.Kind, "reason", err.Error())
			continue
		}
		r.kinds = append(r.kinds, k)
	}
	if err := b.Complete(r); err != nil {
		return fmt.Errorf("set up maintenance guard controller: %w", err)
	}
	return nil
}

// needFluxWatch records whether the guard needs the Flux informers, and
// starts them when some guard does, stops them when none does.
func (r *MaintenanceGuardReconciler) needFluxWatch(ctx context.Context, guard string, need bool) error {
	if r.needFlux == nil {
		r.needFlux = map[string]bool{}
	}
	if need {
		r.needFlux[guard] = true
	} else {
		delete(r.needFlux, guard)
	}
	return r.watchFlux(ctx, len(r.needFlux) > 0)
}

// watchFlux starts or stops the cache's informers of whole Flux objects,
// with heldByIndex and the handler that maps their events to guards. A
// started informer lists every object of its kind (and waits until it
// has); a stopped one is removed from the cache with its index.
func (r *MaintenanceGuardReconciler) watchFlux(ctx context.Context, on bool) error {
	if on == r.watching.Load() || r.cache == nil {
		return nil
	}
	log := logr.FromContextOrDiscard(ctx)
	for _, k := range r.kinds {
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(k.gvk)
		if !on {
			if err := r.cache.RemoveInformer(ctx, u); err != nil {
				return fmt.Errorf("stop watching %ss: %w", k.gvk.Kind, err)
			}
			continue
		}
		inf, err := r.cache.GetInformer(ctx, u)
		if err != nil {
			return fmt.Errorf("watch %ss: %w", k.gvk.Kind, err)
		}
		// An informer that outlived a stop that failed half-way keeps its
		// index: client-go then reports a conflict, which is no error here.
		if err := r.cache.IndexField(ctx, u, heldByIndex, indexHeldBy); err != nil && !strings.Contains(err.Error(), "indexer conflict") {
			return fmt.Errorf("index %ss by %s: %w", k.gvk.Kind, heldByIndex, err)
		}
		if _, err := inf.AddEventHandler(r.fluxHandler()); err != nil {
			return fmt.Errorf("handle %s events: %w", k.gvk.Kind, err)
		}
	}
	r.watching.Store(on)
	log.V(1).Info("Flux informers", "running", on)
	return nil
}

// Reconcile has one fixed shape: get, finalizer, deferred status patch,
// reconcile.
func (r *MaintenanceGuardReconciler) Reconcile(ctx context.Context, req reconcile.Request) (result ctrl.Result, retErr error) {
	guard := &v1alpha1.MaintenanceGuard{}
	if err := r.Client.Get(ctx, req.NamespacedName, guard); err != nil {
		if apierrors.IsNotFound(err) {
			// Gone (its finalizer ran): it needs no Flux watch any more.
			return ctrl.Result{}, r.needFluxWatch(ctx, req.Name, false)
		}
		return ctrl.Result{}, err
	}
	guard = r.guards.newest(guard)
	log := r.Log.WithValues("guard", guard.Name)
	ctx = logr.NewContext(ctx, log)

	if !guard.DeletionTimestamp.IsZero() {
		if err := r.finalize(ctx, guard); err != nil {
			return ctrl.Result{}, err
		}
		return ctrl.Result{}, r.needFluxWatch(ctx, guard.Name, false)
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
		if !equality.Semantic.DeepEqual(base.Status, guard.Status) {
			if err := r.Client.Status().Patch(ctx, guard, client.MergeFrom(base)); err != nil {
				retErr = errors.Join(retErr, fmt.Errorf("patch status: %w", client.IgnoreNotFound(err)))
			} else {
				r.guards.remember(guard)
			}
		}
		r.Metrics.observe(guard)
	}()
	return r.reconcile(ctx, guard)
}

// reconcile reads the signals, steps the timing and acts. A spec that
// cannot work is terminal (reason InvalidSpec, no retry until it
// changes); a failed read or write is returned and retried with backoff,
// the guard's state kept as it was: it never resumes on missing
// information.
func (r *MaintenanceGuardReconciler) reconcile(ctx context.Context, guard *v1alpha1.MaintenanceGuard) (ctrl.Result, error) {
	now := r.Now()
	cfg, err := signalsConfig(guard)
	if err == nil {
		err = validTargets(guard)
	}
	if err == nil {
		err = validCluster(guard)
	}
	if err != nil {
		markNotReady(guard, v1alpha1.InvalidSpecReason, err.Error())
		r.Metrics.reconciled(guard.Name, "invalid")
		return ctrl.Result{}, reconcile.TerminalError(err)
	}
	loadCtx, cancel := context.WithTimeout(ctx, 10*time.Second)
	remote, err := r.remote(loadCtx, guard)
	var reader client.Reader = nodeReader{r.Client}
	if remote != nil {
		reader = remote
	}
	var snap signals.Snapshot
	if err == nil {
		snap, err = signals.Load(loadCtx, reader, cfg, now)
	}
	cancel()
	// Also without spec.cluster: a guard no longer watching a remote
	// cluster drops the condition about it.
	markRemote(guard, err)
	if err != nil {
		// Neither a pause nor a resume on what cannot be read: an
		// unreachable cluster is not a finished maintenance.
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		r.Metrics.reconciled(guard.Name, "error")
		return ctrl.Result{}, fmt.Errorf("read signals: %w", err)
	}
	active, problems := signals.Detect(cfg, snap)
	capi, err := r.clusterAPISignal(ctx, guard)
	if err != nil {
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		r.Metrics.reconciled(guard.Name, "error")
		return ctrl.Result{}, fmt.Errorf("read signals: %w", err)
	}
	if capi != nil && !slices.ContainsFunc(active, func(s signals.Signal) bool { return s.Type == capi.Type }) {
		active = append(active, *capi)
	}
	decision := timing.Step(timingConfig(guard), timingState(guard), len(active) > 0, now)

	held, err := r.heldBy(ctx, guard.Name)
	if err != nil {
		markNotReady(guard, v1alpha1.SignalsUnavailableReason, err.Error())
		r.Metrics.reconciled(guard.Name, "error")
		return ctrl.Result{}, err
	}
	if decision.Next.Phase != timing.Idle || len(held) > 0 {
		// From the debounce on, so that the pause finds the cache filled.
		if err := r.needFluxWatch(ctx, guard.Name, true); err != nil {
			return ctrl.Result{}, err
		}
	}
	var actErr error
	switch {
	case decision.Action == timing.Pause:
		r.Metrics.reconciled(guard.Name, "pause")
		targets, err := r.selected(ctx, guard)
		if err != nil {
			markNotReady(guard, v1alpha1.PauseFailedReason, err.Error())
			return ctrl.Result{}, err
		}
		targets = r.written.newest(targets)
		actErr = r.pauseAll(ctx, guard, targets, active, now)
		held = holding(targets, held, guard.Name)
	case decision.Action == timing.Resume || (len(held) > 0 && (decision.Next.Phase == timing.Idle || decision.Next.Phase == timing.Debouncing)):
		// Also resumes what a guard still holds outside a maintenance: left
		// by a resume that a restart interrupted, or by a changed spec.
		r.Metrics.reconciled(guard.Name, "resume")
		actErr = r.resumeAll(ctx, guard, held, now)
		held = holding(nil, held, guard.Name)
	default:
		r.Metrics.reconciled(guard.Name, "none")
	}

	// A one-shot reconcile (fluxgate.dev/reconcile-once) goes through only
	// while the guard holds its objects, not in the write that resumes
	// them all.
	var releasing []v1alpha1.ReleasedObject
	if actErr == nil && decision.Action != timing.Resume && len(held) > 0 &&
		(decision.Next.Phase == timing.Paused || decision.Next.Phase == timing.Settling) {
		releasing, actErr = r.releaseOnce(ctx, guard, held, now)
	}

	if decision.MaxPauseExceeded {
		r.warnMaxPause(guard)
	}
	r.setStatus(guard, decision, active, problems, held, now, actErr)
	guard.Status.Releasing = releasing
	drainBlocked, err := r.reportDrains(ctx, guard, active, remote)
	if err != nil {
		// The pause is what matters; a drain report that failed is retried.
		r.Log.Error(err, "judge the drains of cordoned nodes", "guard", guard.Name)
	}
	if decision.Next.Phase == timing.Idle && len(held) == 0 {
		if err := r.needFluxWatch(ctx, guard.Name, false); err != nil {
			return ctrl.Result{}, err
		}
	}
	if actErr != nil {
		return ctrl.Result{}, actErr
	}
	after := requeueAfter(decision, cfg, now)
	if (drainBlocked || err != nil) && after > drainRecheck {
		after = drainRecheck
	}
	if len(releasing) > 0 && after > releaseRecheck {
		after = releaseRecheck
	}
	return ctrl.Result{RequeueAfter: after}, nil
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

// pauseAll pauses every target not yet held, with a bounded pool of
// concurrent writes. One Event on the guard reports the transition (how
// many, which, why); the objects themselves carry the guard's
// annotations. Only a reverted pause, which needs someone to fix the
// parent, gets an Event on the object too.
func (r *MaintenanceGuardReconciler) pauseAll(ctx context.Context, guard *v1alpha1.MaintenanceGuard, targets []*unstructured.Unstructured, active []signals.Signal, now time.Time) error {
	p := &pause.Pauser{Client: r.Client, Guard: guard.Name, FieldManager: v1alpha1.FieldManager}
	reason := pauseReason(active)
	var (
		mu     sync.Mutex
		paused []*unstructured.Unstructured
	)
	errs := parallel(targets, writeWorkers, func(u *unstructured.Unstructured) error {
		rv := u.GetResourceVersion()
		out, err := p.Pause(ctx, u, reason, now)
		if u.GetResourceVersion() != rv {
			r.written.remember(u)
		}
		if err != nil {
			return err
		}
		switch out {
		case pause.Paused, pause.Joined:
			mu.Lock()
			paused = append(paused, u)
			mu.Unlock()
		case pause.Repaused:
			r.event(u, corev1.EventTypeWarning, ReasonPauseReverted, "a parent's apply set spec.suspend: false during maintenance; MaintenanceGuard %s paused it again", guard.Name)
			r.event(guard, corev1.EventTypeWarning, ReasonPauseReverted, "%s %s/%s was un-suspended by Flux during maintenance and paused again", u.GetKind(), u.GetNamespace(), u.GetName())
		}
		return nil
	})
	if n := len(paused); n > 0 {
		r.event(guard, corev1.EventTypeNormal, ReasonMaintenancePaused, "paused %d Flux objects (%s): %s", n, objectList(paused), reason)
		r.Metrics.transition(guard.Name, "pause")
		logr.FromContextOrDiscard(ctx).Info("paused Flux objects", "count", n, "reason", reason)
	}
	return joinErrors("pause", errs)
}

// resumeAll resumes what the guard holds, dependencies first, and reports
// the transition in one Event on the guard.
func (r *MaintenanceGuardReconciler) resumeAll(ctx context.Context, guard *v1alpha1.MaintenanceGuard, held []*unstructured.Unstructured, now time.Time) error {
	if len(held) == 0 {
		return nil
	}
	p := &pause.Pauser{Client: r.Client, Guard: guard.Name, FieldManager: v1alpha1.FieldManager}
	var (
		mu      sync.Mutex
		resumed []*unstructured.Unstructured
		errs    []error
	)
	for _, level := range pause.ResumeLevels(held) {
		errs = append(errs, parallel(level, writeWorkers, func(u *unstructured.Unstructured) error {
			rv := u.GetResourceVersion()
			out, err := p.Resume(ctx, u, now)
			if u.GetResourceVersion() != rv {
				r.written.remember(u)
			}
			if err != nil {
				return err
			}
			if out == pause.Resumed {
				mu.Lock()
				resumed = append(resumed, u)
				mu.Unlock()
			}
			return nil
		})...)
		if len(errs) > 0 {
			// Dependants wait for their dependencies: stop at this level.
			break
		}
	}
	if n := len(resumed); n > 0 {
		r.event(guard, corev1.EventTypeNormal, ReasonMaintenanceResumed, "resumed %d Flux objects (%s), reconcile requested", n, objectList(resumed))
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
	held, err := r.heldBy(ctx, guard.Name)
	if err != nil {
		return err
	}
	if err := r.resumeAll(ctx, guard, held, r.Now()); err != nil {
		return err
	}
	controllerutil.RemoveFinalizer(guard, GuardFinalizer)
	if err := client.IgnoreNotFound(r.Client.Update(ctx, guard)); err != nil {
		return fmt.Errorf("remove finalizer: %w", err)
	}
	return nil
}

// maxEventObjects bounds the objects an Event names.
const maxEventObjects = 10

// objectList names up to maxEventObjects objects, sorted, and how many
// more there are.
func objectList(objs []*unstructured.Unstructured) string {
	names := make([]string, 0, len(objs))
	for _, u := range objs {
		names = append(names, fmt.Sprintf("%s %s/%s", u.GetKind(), u.GetNamespace(), u.GetName()))
	}
	slices.Sort(names)
	if len(names) > maxEventObjects {
		return fmt.Sprintf("%s and %d more", strings.Join(names[:maxEventObjects], ", "), len(names)-maxEventObjects)
	}
	return strings.Join(names, ", ")
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
