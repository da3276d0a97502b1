package controllers

import (
	"context"
	"fmt"
	"maps"
	"slices"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// The guard's field indexes on the manager's cache.
const (
	// heldByIndex indexes Kustomizations and HelmReleases by the guards
	// holding them (pause.Holders), so a guard finds what it holds without
	// listing every Flux object.
	heldByIndex = "fluxgate.dev/held-by"
	// nodeRelevantIndex indexes Nodes that any node detector could count
	// ("true"): cordoned or tainted, control-plane, or annotated for
	// maintenance or a kured reboot. The others are never read.
	nodeRelevantIndex = "fluxgate.dev/maintenance-relevant"
)

// indexHeldBy is the heldByIndex function, on the metadata of Flux
// objects.
func indexHeldBy(obj client.Object) []string { return holdersOf(obj) }

// holdersOf returns the guards holding obj, from its annotations
// (pause.Holders on any object).
func holdersOf(obj client.Object) []string {
	if u, ok := obj.(*unstructured.Unstructured); ok {
		return pause.Holders(u)
	}
	u := &unstructured.Unstructured{}
	u.SetAnnotations(obj.GetAnnotations())
	return pause.Holders(u)
}

// indexNodeRelevant is the nodeRelevantIndex function.
func indexNodeRelevant(obj client.Object) []string {
	n, ok := obj.(*corev1.Node)
	if !ok || !nodeRelevant(n) {
		return nil
	}
	return []string{"true"}
}

// nodeRelevant says whether any detector could count n: the rest of the
// cluster's nodes make no signal whatever a guard's configuration.
func nodeRelevant(n *corev1.Node) bool {
	if n.Spec.Unschedulable || len(n.Spec.Taints) > 0 {
		return true
	}
	if _, ok := n.Labels[signals.LabelControlPlane]; ok {
		return true
	}
	if _, ok := n.Labels[signals.LabelMaster]; ok {
		return true
	}
	for _, k := range nodeAnnotations {
		if _, ok := n.Annotations[k]; ok {
			return true
		}
	}
	return false
}

// nodeAnnotations are the Node annotations a detector reads.
var nodeAnnotations = []string{signals.AnnotationManual, signals.AnnotationKuredRebootInProgress}

// fluxAnnotations are the annotations on Flux objects whose change the
// guard reacts to: its own, and the parent-apply switch it sets.
var fluxAnnotations = []string{
	pause.PausedByAnnotation, pause.PausedAtAnnotation, pause.PauseReasonAnnotation,
	pause.ReconcileDisabledAnnotation, pause.FluxReconcileAnnotation,
	pause.ReconcileOnceAnnotation, pause.ReconcileOnceAtAnnotation,
}

// guardChanged passes a guard's creation and deletion, and updates that
// change its spec (generation, which deleting also bumps) or its
// annotations (the Manual signal, a requested reconcile). The guard's own
// status writes pass no event.
var guardChanged = predicate.Or[client.Object](
	predicate.GenerationChangedPredicate{},
	predicate.AnnotationChangedPredicate{},
	predicate.Funcs{UpdateFunc: func(e event.UpdateEvent) bool {
		return e.ObjectOld.GetDeletionTimestamp().IsZero() != e.ObjectNew.GetDeletionTimestamp().IsZero()
	}},
)

// nodeChanged passes Node events that can change a signal: a relevant
// node appearing or going away, and updates of schedulability, taints,
// labels (selectors, the control-plane role), the maintenance and kured
// annotations, or the kubelet version. Heartbeats (conditions, lease-less
// status updates, images, resource versions) pass nothing.
var nodeChanged = predicate.Funcs{
	CreateFunc: func(e event.CreateEvent) bool { return relevantObject(e.Object) },
	DeleteFunc: func(e event.DeleteEvent) bool { return relevantObject(e.Object) },
	UpdateFunc: func(e event.UpdateEvent) bool {
		o, okOld := e.ObjectOld.(*corev1.Node)
		n, okNew := e.ObjectNew.(*corev1.Node)
		if !okOld || !okNew {
			return true
		}
		return nodeFactsChanged(o, n)
	},
	GenericFunc: func(event.GenericEvent) bool { return false },
}

func relevantObject(obj client.Object) bool {
	n, ok := obj.(*corev1.Node)
	return !ok || nodeRelevant(n)
}

// nodeFactsChanged compares what the detectors read of a Node.
func nodeFactsChanged(o, n *corev1.Node) bool {
	if o.Spec.Unschedulable != n.Spec.Unschedulable ||
		o.Status.NodeInfo.KubeletVersion != n.Status.NodeInfo.KubeletVersion ||
		!maps.Equal(o.Labels, n.Labels) {
		return true
	}
	for _, k := range nodeAnnotations {
		vo, ino := o.Annotations[k]
		vn, inn := n.Annotations[k]
		if vo != vn || ino != inn {
			return true
		}
	}
	return !slices.EqualFunc(o.Spec.Taints, n.Spec.Taints, func(a, b corev1.Taint) bool {
		return a.Key == b.Key && a.Value == b.Value && a.Effect == b.Effect
	})
}

// fluxFactsChanged says whether an update of a Kustomization or
// HelmRelease is one the guard acts on: spec.suspend, labels (selectors),
// fluxgate's annotations, or, for objects a guard holds, the end of the
// reconcile that was running when it was paused (the guard's status
// counts it as paused only then). Status writes otherwise pass nothing:
// Flux writes status on every reconcile of every object.
func fluxFactsChanged(o, n *unstructured.Unstructured) bool {
	so, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend")
	sn, _, _ := unstructured.NestedBool(n.Object, "spec", "suspend")
	if so != sn || !maps.Equal(o.GetLabels(), n.GetLabels()) {
		return true
	}
	ao, an := o.GetAnnotations(), n.GetAnnotations()
	for _, k := range fluxAnnotations {
		vo, ino := ao[k]
		vn, inn := an[k]
		if vo != vn || ino != inn {
			return true
		}
	}
	held := ao[pause.PausedByAnnotation] != "" || an[pause.PausedByAnnotation] != ""
	if an[pause.ReconcileOnceAtAnnotation] != "" && lastHandledReconcile(o) != lastHandledReconcile(n) {
		// Flux answered the one-shot reconcile the guard let through.
		return true
	}
	return held && pause.Settled(o) != pause.Settled(n)
}

// fluxHandler turns the events of the Flux informers into requests for
// the guards they concern, through the controller's channel source: a
// creation (not the informer's initial list), a deletion, or an update
// fluxFactsChanged passes.
func (r *MaintenanceGuardReconciler) fluxHandler() toolscache.ResourceEventHandler {
	send := func(obj any) {
		if d, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
			obj = d.Obj
		}
		o, ok := obj.(client.Object)
		if !ok {
			return
		}
		for _, req := range guardsFor(r.cache)(context.Background(), o) {
			r.fluxEvents <- event.GenericEvent{Object: &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: req.Name}}}
		}
	}
	return toolscache.ResourceEventHandlerDetailedFuncs{
		AddFunc: func(obj any, initial bool) {
			if !initial {
				send(obj)
			}
		},
		UpdateFunc: func(oldObj, newObj any) {
			o, okOld := oldObj.(*unstructured.Unstructured)
			n, okNew := newObj.(*unstructured.Unstructured)
			if okOld && okNew && !fluxFactsChanged(o, n) {
				return
			}
			send(oldObj) // its holders, should the update have removed one
			send(newObj)
		},
		DeleteFunc: send,
	}
}

// guardsFor maps an event on a Flux object to the guards it can concern:
// those holding it, and those whose phase pauses new targets or resumes
// held ones. An Idle or Debouncing guard that holds nothing has nothing to
// do with Flux objects.
func guardsFor(r client.Reader) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, obj client.Object) []reconcile.Request {
		holders := holdersOf(obj)
		var list v1alpha1.MaintenanceGuardList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		var reqs []reconcile.Request
		for i := range list.Items {
			g := &list.Items[i]
			switch g.Status.Phase {
			case v1alpha1.PhasePaused, v1alpha1.PhaseSettling, v1alpha1.PhaseExpired:
			default:
				if !slices.Contains(holders, g.Name) {
					continue
				}
			}
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(g)})
		}
		return reqs
	}
}

// allGuards maps an event to every guard.
func allGuards(r client.Reader) func(context.Context, client.Object) []reconcile.Request {
	return func(ctx context.Context, _ client.Object) []reconcile.Request {
		var list v1alpha1.MaintenanceGuardList
		if err := r.List(ctx, &list, client.UnsafeDisableDeepCopy); err != nil {
			return nil
		}
		reqs := make([]reconcile.Request, 0, len(list.Items))
		for i := range list.Items {
			reqs = append(reqs, reconcile.Request{NamespacedName: client.ObjectKeyFromObject(&list.Items[i])})
		}
		return reqs
	}
}

// nodeReader serves signals.Load's node list from nodeRelevantIndex, read
// only and without copies; every other read goes to the wrapped reader.
// The nodes left out are those no detector counts (see nodeRelevant).
type nodeReader struct{ client.Reader }

// List implements client.Reader.
func (r nodeReader) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	if _, ok := list.(*corev1.NodeList); ok && len(opts) == 0 {
		if err := r.Reader.List(ctx, list, client.MatchingFields{nodeRelevantIndex: "true"}, client.UnsafeDisableDeepCopy); err != nil {
			return fmt.Errorf("list nodes by index %s: %w", nodeRelevantIndex, err)
		}
		return nil
	}
	return r.Reader.List(ctx, list, opts...)
}
