package recorder

import (
	"context"
	"fmt"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/dynamic/dynamicinformer"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/cache"
)

// KustomizationResource is the resource the recorder watches for Flux
// Kustomizations.
var KustomizationResource = kustomizev1.GroupVersion.WithResource("kustomizations")

// Start watches, until ctx ends, the nodes of the cluster cfg reaches and
// the Deployments, PodDisruptionBudgets and Kustomizations of
// Options.Namespaces, and returns once every watch has listed what
// exists (each listed object makes a "seen" event). It fails if ctx ends
// first, for example when the Kustomization CRD is not installed. Call it
// once.
func (r *Recorder) Start(ctx context.Context, cfg *rest.Config) error {
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("recorder client: %w", err)
	}
	dyn, err := dynamic.NewForConfig(cfg)
	if err != nil {
		return fmt.Errorf("recorder dynamic client: %w", err)
	}
	r.mu.Lock()
	r.origin = r.opts.Now()
	r.mu.Unlock()

	handler := cache.ResourceEventHandlerFuncs{
		AddFunc:    func(obj any) { r.Observe(obj) },
		UpdateFunc: func(_, obj any) { r.Observe(obj) },
		DeleteFunc: func(obj any) {
			if gone, ok := obj.(cache.DeletedFinalStateUnknown); ok {
				obj = gone.Obj
			}
			r.Forget(obj)
		},
	}
	var synced []cache.InformerSynced
	watch := func(inf cache.SharedIndexInformer) error {
		reg, err := inf.AddEventHandler(handler)
		if err != nil {
			return fmt.Errorf("recorder watch: %w", err)
		}
		synced = append(synced, reg.HasSynced)
		return nil
	}

	nodes := informers.NewSharedInformerFactory(cs, 0)
	if err := watch(nodes.Core().V1().Nodes().Informer()); err != nil {
		return err
	}
	nodes.Start(ctx.Done())
	namespaces := r.opts.Namespaces
	if len(namespaces) == 0 {
		namespaces = []string{""} // every namespace
	}
	for _, ns := range namespaces {
		typed := informers.NewSharedInformerFactoryWithOptions(cs, 0, informers.WithNamespace(ns))
		untyped := dynamicinformer.NewFilteredDynamicSharedInformerFactory(dyn, 0, ns, nil)
		for _, inf := range []cache.SharedIndexInformer{
			typed.Apps().V1().Deployments().Informer(),
			typed.Policy().V1().PodDisruptionBudgets().Informer(),
			untyped.ForResource(KustomizationResource).Informer(),
		} {
			if err := watch(inf); err != nil {
				return err
			}
		}
		typed.Start(ctx.Done())
		untyped.Start(ctx.Done())
	}
	if !cache.WaitForCacheSync(ctx.Done(), synced...) {
		return fmt.Errorf("recorder: the watches did not list everything before the context ended (is the Kustomization CRD installed?): %w", context.Cause(ctx))
	}
	return nil
}
