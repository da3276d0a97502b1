package controllers

import (
	"context"
	"fmt"
	"slices"
	"sync"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// targetKinds are the Flux kinds a guard selects from, with their part of
// the spec.
var targetKinds = []struct {
	gvk       schema.GroupVersionKind
	selection func(v1alpha1.Targets) v1alpha1.TargetSelection
}{
	{pause.Kustomization, func(t v1alpha1.Targets) v1alpha1.TargetSelection { return t.Kustomizations }},
	{pause.HelmRelease, func(t v1alpha1.Targets) v1alpha1.TargetSelection { return t.HelmReleases }},
}

// listAll lists every object of the Flux kinds; a kind whose CRD is not
// installed (no helm-controller, say) is simply absent.
func (r *MaintenanceGuardReconciler) listAll(ctx context.Context) ([]*unstructured.Unstructured, error) {
	var out []*unstructured.Unstructured
	for _, k := range targetKinds {
		list := &unstructured.UnstructuredList{}
		list.SetGroupVersionKind(k.gvk.GroupVersion().WithKind(k.gvk.Kind + "List"))
		if err := r.Client.List(ctx, list); err != nil {
			if signals.IsAbsent(err) {
				continue
			}
			return nil, fmt.Errorf("list %ss: %w", k.gvk.Kind, err)
		}
		for i := range list.Items {
			out = append(out, &list.Items[i])
		}
	}
	return out, nil
}

// selected returns the objects of all that the guard targets.
func (r *MaintenanceGuardReconciler) selected(ctx context.Context, g *v1alpha1.MaintenanceGuard, all []*unstructured.Unstructured) ([]*unstructured.Unstructured, error) {
	var nsList corev1.NamespaceList
	if err := r.Client.List(ctx, &nsList); err != nil {
		return nil, fmt.Errorf("list namespaces: %w", err)
	}
	nsLabels := make(map[string]map[string]string, len(nsList.Items))
	for _, ns := range nsList.Items {
		nsLabels[ns.Name] = ns.Labels
	}
	var out []*unstructured.Unstructured
	for _, k := range targetKinds {
		sel := k.selection(g.Spec.Targets)
		if !sel.IsEnabled() {
			continue
		}
		nsSel, objSel, err := selectors(sel)
		if err != nil {
			return nil, fmt.Errorf("spec.targets %s: %w", k.gvk.Kind, err)
		}
		for _, u := range all {
			if u.GroupVersionKind().GroupKind() != k.gvk.GroupKind() {
				continue
			}
			if !g.Spec.Targets.IncludeFluxSystem && u.GetNamespace() == v1alpha1.FluxSystemNamespace && u.GetName() == v1alpha1.FluxSystemName {
				continue
			}
			if slices.Contains(sel.Exclude, v1alpha1.NamespacedName{Namespace: u.GetNamespace(), Name: u.GetName()}) {
				continue
			}
			if !nsSel.Matches(labels.Set(nsLabels[u.GetNamespace()])) || !objSel.Matches(labels.Set(u.GetLabels())) {
				continue
			}
			out = append(out, u)
		}
	}
	return out, nil
}

// heldBy returns the objects of all that guard holds, whether or not it
// still selects them: a guard resumes everything it paused.
func heldBy(all []*unstructured.Unstructured, guard string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, u := range all {
		if slices.Contains(pause.Holders(u), guard) {
			out = append(out, u)
		}
	}
	return out
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
