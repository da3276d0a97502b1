package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// targetKind is a Flux kind a guard selects from, with its part of the
// spec.
type targetKind struct {
	gvk       schema.GroupVersionKind
	selection func(v1alpha1.Targets) v1alpha1.TargetSelection
}

// targetKinds are the Flux kinds a guard selects from.
var targetKinds = []targetKind{
	{pause.Kustomization, func(t v1alpha1.Targets) v1alpha1.TargetSelection { return t.Kustomizations }},
	{pause.HelmRelease, func(t v1alpha1.Targets) v1alpha1.TargetSelection { return t.HelmReleases }},
}

// list reads objects of one Flux kind from the cache, without copies:
// the items share their maps with the cache and must not be changed in
// place (pause.Pauser replaces an object's map, never edits it). A kind
// whose CRD went away is empty.
func (r *MaintenanceGuardReconciler) list(ctx context.Context, gvk schema.GroupVersionKind, opts ...client.ListOption) ([]*unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.Client.List(ctx, list, append(opts, client.UnsafeDisableDeepCopy)...); err != nil {
		if signals.IsAbsent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %ss: %w", gvk.Kind, err)
	}
	out := make([]*unstructured.Unstructured, len(list.Items))
	for i := range list.Items {
		out[i] = &list.Items[i]
	}
	return out, nil
}

// heldBy returns the objects the guard holds, whether or not it still
// selects them (a guard resumes everything it paused), as the guard last
// wrote them where the cache lags. While the Flux informers run it finds
// them through heldByIndex; otherwise one list of the objects' metadata
// from the API tells whether there are any, and if so starts the
// informers (after a restart, say).
func (r *MaintenanceGuardReconciler) heldBy(ctx context.Context, guard string) ([]*unstructured.Unstructured, error) {
	if !r.watching.Load() {
		holds, err := r.holdsAny(ctx, guard)
		if err != nil || !holds {
			return nil, err
		}
		if err := r.needFluxWatch(ctx, guard, true); err != nil {
			return nil, err
		}
	}
	var out []*unstructured.Unstructured
	for _, k := range r.kinds {
		objs, err := r.list(ctx, k.gvk, client.MatchingFields{heldByIndex: guard})
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return holding(nil, r.written.newest(out), guard), nil
}

// holdsAny says whether the guard holds any Flux object, from one list of
// their metadata read from the API (protobuf, no spec or status).
func (r *MaintenanceGuardReconciler) holdsAny(ctx context.Context, guard string) (bool, error) {
	for _, k := range r.kinds {
		list := &metav1.PartialObjectMetadataList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := r.APIReader.List(ctx, list); err != nil {
			if signals.IsAbsent(err) {
				continue
			}
			return false, fmt.Errorf("list the metadata of %ss: %w", k.gvk.Kind, err)
		}
		for i := range list.Items {
			if slices.Contains(holdersOf(&list.Items[i]), guard) {
				return true, nil
			}
		}
	}
	return false, nil
}

// holding returns the objects of a and b that guard holds, each once (by
// UID, the one in a first).
func holding(a, b []*unstructured.Unstructured, guard string) []*unstructured.Unstructured {
	seen := make(map[types.UID]bool, len(a)+len(b))
	var out []*unstructured.Unstructured
	for _, objs := range [][]*unstructured.Unstructured{a, b} {
		for _, u := range objs {
			if seen[u.GetUID()] {
				continue
			}
			seen[u.GetUID()] = true
			if slices.Contains(pause.Holders(u), guard) {
				out = append(out, u)
			}
		}
	}
	return out
}

// validTargets compiles the guard's target selectors, so that a bad one
// is reported (and terminal) whether or not maintenance is under way.
func validTargets(g *v1alpha1.MaintenanceGuard) error {
	for _, k := range targetKinds {
		if _, _, err := selectors(k.selection(g.Spec.Targets)); err != nil {
			return fmt.Errorf("spec.targets %s: %w", k.gvk.Kind, err)
		}
	}
	return nil
}

// selected returns the objects the guard targets, read from the cache:
// the namespaces its namespaceSelector matches (each listed through the
// cache's namespace index), filtered by its label selector there.
func (r *MaintenanceGuardReconciler) selected(ctx context.Context, g *v1alpha1.MaintenanceGuard) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, k := range r.kinds {
		sel := k.selection(g.Spec.Targets)
		if !sel.IsEnabled() {
			continue
		}
		nsSel, objSel, err := selectors(sel)
		if err != nil {
			return nil, fmt.Errorf("spec.targets %s: %w", k.gvk.Kind, err)
		}
		var objs []*unstructured.Unstructured
		if nsSel.Empty() {
			if objs, err = r.list(ctx, k.gvk, client.MatchingLabelsSelector{Selector: objSel}); err != nil {
				return nil, err
			}
		} else {
			namespaces, err := r.namespaces(ctx, nsSel)
			if err != nil {
				return nil, err
			}
			for _, ns := range namespaces {
				in, err := r.list(ctx, k.gvk, client.InNamespace(ns), client.MatchingLabelsSelector{Selector: objSel})
				if err != nil {
					return nil, err
				}
				objs = append(objs, in...)
			}
		}
		for _, u := range objs {
			if !g.Spec.Targets.IncludeFluxSystem && u.GetNamespace() == v1alpha1.FluxSystemNamespace && u.GetName() == v1alpha1.FluxSystemName {
				continue
			}
			if slices.Contains(sel.Exclude, v1alpha1.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}) {
				continue
			}
			if !appliesHere(g, u) {
				continue
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// namespaces returns the names of the namespaces sel matches, from the
// cache.
func (r *MaintenanceGuardReconciler) namespaces(ctx context.Context, sel labels.Selector) ([]string, error) {
	var list corev1.NamespaceList
	if err := r.Client.List(ctx, &list, client.MatchingLabelsSelector{Selector: sel}, client.UnsafeDisableDeepCopy); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	out := make([]string, 0, len(list.Items))
	for i := range list.Items {
		out = append(out, list.Items[i].Name)
	}
	return out, nil
}

// guardStatuses remembers each guard as the reconciler last wrote it, so
// that a reconcile right after a status write (before the cache has it)
// does not decide on the status before it; see written.
type guardStatuses struct {
	mu     sync.Mutex
	guards map[types.UID]*v1alpha1.MaintenanceGuard
}

// remember records g as just written.
func (s *guardStatuses) remember(g *v1alpha1.MaintenanceGuard) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.guards == nil {
		s.guards = map[types.UID]*v1alpha1.MaintenanceGuard{}
	}
	s.guards[g.UID] = g.DeepCopy()
}

// newest returns the guard's last write when the cached g is older, else
// g, forgetting a write the cache has caught up with.
func (s *guardStatuses) newest(g *v1alpha1.MaintenanceGuard) *v1alpha1.MaintenanceGuard {
	s.mu.Lock()
	defer s.mu.Unlock()
	w, ok := s.guards[g.UID]
	if !ok {
		return g
	}
	if cmp, err := resourceversion.CompareResourceVersion(g.ResourceVersion, w.ResourceVersion); err == nil && cmp < 0 {
		return w.DeepCopy()
	}
	delete(s.guards, g.UID)
	return g
}

// parallel runs fn over objs with a bounded number of concurrent API
// writes, collecting every error.
func parallel(objs []*unstructured.Unstructured, workers int, fn func(*unstructured.Unstructured) error) []error {
	var (
		mu   sync.Mutex
		errs []error
		wg   sync.WaitGroup
	)
	work := make(chan *unstructured.Unstructured)
	for range min(workers, len(objs)) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for u := range work {
				if err := fn(u); err != nil {
					mu.Lock()
					errs = append(errs, err)
					mu.Unlock()
				}
			}
		}()
	}
	for _, u := range objs {
		work <- u
	}
	close(work)
	wg.Wait()
	return errs
}
