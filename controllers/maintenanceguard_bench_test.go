package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// BenchmarkPauseResume2000 pauses and resumes 2,000 Kustomizations in 50
// namespaces on envtest, and reports the seconds from the guard deciding
// to pause (debounce over) until every object is suspended, from the
// settle period ending until every object is resumed, and the guard's
// writes per object in each transition.
//
//	go test -run '^$' -bench PauseResume2000 -benchtime 1x ./controllers/
func BenchmarkPauseResume2000(b *testing.B) {
	const namespaces, perNamespace = 50, 40
	ctx := context.Background()
	label := uniq("bench")
	var objs []*unstructured.Unstructured
	var mu sync.Mutex
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i := range namespaces {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", label, i), Labels: map[string]string{"bench": label}}}
		if err := k8s.Create(ctx, ns); err != nil {
			b.Fatal(err)
		}
		for j := range perNamespace {
			wg.Add(1)
			sem <- struct{}{}
			go func() {
				defer wg.Done()
				defer func() { <-sem }()
				u := benchKustomization(ns.Name, fmt.Sprintf("app-%02d", j))
				if err := k8s.Create(ctx, u); err != nil {
					b.Error(err)
					return
				}
				mu.Lock()
				objs = append(objs, u)
				mu.Unlock()
			}()
		}
	}
	wg.Wait()
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"bench": label}}
	g := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: uniq("bench")}, Spec: v1alpha1.MaintenanceGuardSpec{
		Targets:  v1alpha1.Targets{Kustomizations: v1alpha1.TargetSelection{NamespaceSelector: sel}, HelmReleases: v1alpha1.TargetSelection{Enabled: ptrTo(false)}},
		Debounce: dur(time.Minute), Settle: dur(time.Minute),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}},
	}}
	if err := k8s.Create(ctx, g); err != nil {
		b.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	counter := newWriteCounter()
	stop := startGuard(b, clk, crashAfter(counter, 1<<40))
	defer stop()

	var pauseSecs, resumeSecs float64
	for i := 0; i < b.N; i++ {
		setGuardAnnotation(b, g, v1alpha1.MaintenanceAnnotation, "benchmark maintenance")
		waitB(b, func() bool { return status0(b, g).Phase == v1alpha1.PhaseDebouncing })
		clk.Add(2 * time.Minute)
		start := time.Now()
		kick(b, g)
		waitB(b, func() bool { return countSuspended(b, label) == len(objs) })
		pauseSecs += time.Since(start).Seconds()

		setGuardAnnotation(b, g, v1alpha1.MaintenanceAnnotation, "")
		waitB(b, func() bool { return status0(b, g).Phase == v1alpha1.PhaseSettling })
		clk.Add(2 * time.Minute)
		start = time.Now()
		kick(b, g)
		waitB(b, func() bool { return countSuspended(b, label) == 0 })
		resumeSecs += time.Since(start).Seconds()
		clk.Add(time.Minute)
	}
	counter.mu.Lock()
	pauses, resumes := 0, 0
	for _, n := range counter.pauses {
		pauses += n
	}
	for _, n := range counter.resumes {
		resumes += n
	}
	counter.mu.Unlock()
	n := float64(b.N)
	b.ReportMetric(pauseSecs/n, "pause-s")
	b.ReportMetric(resumeSecs/n, "resume-s")
	b.ReportMetric(float64(pauses)/n/float64(len(objs)), "pause-writes/object")
	b.ReportMetric(float64(resumes)/n/float64(len(objs)), "resume-writes/object")
	b.ReportMetric(float64(len(objs)), "objects")
}

func benchKustomization(ns, name string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{"interval": "10m", "path": "./apps/" + name, "prune": true,
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}},
	}}
	return u
}

func countSuspended(b *testing.B, label string) int {
	b.Helper()
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(pause.Kustomization.GroupVersion().WithKind("KustomizationList"))
	if err := k8s.List(context.Background(), list); err != nil {
		b.Fatal(err)
	}
	n := 0
	for _, u := range list.Items {
		if len(u.GetNamespace()) > len(label) && u.GetNamespace()[:len(label)] == label {
			if s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); s {
				n++
			}
		}
	}
	return n
}

func waitB(b *testing.B, done func() bool) {
	b.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for !done() {
		if time.Now().After(deadline) {
			b.Fatal("timed out")
		}
		time.Sleep(250 * time.Millisecond)
	}
}

func status0(b *testing.B, g *v1alpha1.MaintenanceGuard) v1alpha1.MaintenanceGuardStatus {
	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(g), cur); err != nil {
		b.Fatal(err)
	}
	return cur.Status
}
