package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// BenchmarkPauseResume2000 pauses and resumes 2,000 Kustomizations in 50
// namespaces on envtest, with the guard's client at fluxgate serve's
// default rate (DefaultKubeAPIQPS, DefaultKubeAPIBurst), and reports:
//
//   - pause-s: seconds from the end of the debounce (the clock moved past
//     it and the guard poked) until the API has acknowledged the last
//     pause write, i.e. every object is suspended;
//
//   - resume-s: the same from the end of the settle period to the last
//     resume;
//
//   - pause-writes/object, resume-writes/object: the guard's successful
//     writes to each object per transition (1 is the minimum);
//
//   - apiserver-cpu-ms/write: CPU seconds of kube-apiserver and etcd during
//     both transitions (read from /proc), per write: what each write costs
//     the server;
//
//   - guard-cpu-ms/write: the same for this process, where the guard runs
//     (the benchmark only waits meanwhile).
//
//     go test -run '^$' -bench PauseResume2000 -benchtime 1x ./controllers/
//
// The writes are counted by the client the guard writes through, so the
// benchmark itself sends nothing to the API server while it measures.
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
	stop := startGuardWith(b, clk, crashAfter(counter, 1<<40), servingRate)
	defer stop()

	var pauseSecs, resumeSecs, serverCPU float64
	var guardCPU time.Duration
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		setGuardAnnotation(b, g, v1alpha1.MaintenanceAnnotation, "benchmark maintenance")
		waitB(b, func() bool { return status0(b, g).Phase == v1alpha1.PhaseDebouncing })
		cpu, own := childrenCPU(b), testenv.ProcessCPU()
		clk.Add(2 * time.Minute)
		start := time.Now()
		kick(b, g)
		waitB(b, func() bool { return counter.total(true) >= (i+1)*len(objs) })
		pauseSecs += time.Since(start).Seconds()
		serverCPU += childrenCPU(b) - cpu
		guardCPU += testenv.ProcessCPU() - own
		if n := countSuspended(b, label); n != len(objs) {
			b.Fatalf("%d of %d suspended after the pause", n, len(objs))
		}

		// The settle period (minutes in a cluster, skipped here by the
		// injected clock) lets the client's token bucket refill after the
		// pause: wait as long, or the resume measures the rate limit.
		time.Sleep(time.Duration(float64(DefaultKubeAPIBurst) / DefaultKubeAPIQPS * float64(time.Second)))
		setGuardAnnotation(b, g, v1alpha1.MaintenanceAnnotation, "")
		waitB(b, func() bool { return status0(b, g).Phase == v1alpha1.PhaseSettling })
		cpu, own = childrenCPU(b), testenv.ProcessCPU()
		clk.Add(2 * time.Minute)
		start = time.Now()
		kick(b, g)
		waitB(b, func() bool { return counter.total(false) >= (i+1)*len(objs) })
		resumeSecs += time.Since(start).Seconds()
		serverCPU += childrenCPU(b) - cpu
		guardCPU += testenv.ProcessCPU() - own
		if n := countSuspended(b, label); n != 0 {
			b.Fatalf("%d of %d still suspended after the resume", n, len(objs))
		}
		clk.Add(time.Minute)
	}
	b.StopTimer()
	// Let a reconcile that the last writes' events trigger run: it must
	// write nothing more.
	time.Sleep(time.Second)
	n := float64(b.N)
	pauses, resumes := counter.total(true), counter.total(false)
	b.ReportMetric(pauseSecs/n, "pause-s")
	b.ReportMetric(resumeSecs/n, "resume-s")
	b.ReportMetric(float64(pauses)/n/float64(len(objs)), "pause-writes/object")
	b.ReportMetric(float64(resumes)/n/float64(len(objs)), "resume-writes/object")
	b.ReportMetric(serverCPU*1000/float64(pauses+resumes), "apiserver-cpu-ms/write")
	b.ReportMetric(guardCPU.Seconds()*1000/float64(pauses+resumes), "guard-cpu-ms/write")
	b.ReportMetric(float64(len(objs)), "objects")
}

// servingRate sets the client-side rate limit fluxgate serve runs with.
func servingRate(cfg *rest.Config) {
	cfg.QPS, cfg.Burst = DefaultKubeAPIQPS, DefaultKubeAPIBurst
}

// childrenCPU returns the CPU seconds (user and system) used so far by the
// processes this one started: envtest's kube-apiserver and etcd.
func childrenCPU(tb testing.TB) float64 {
	tb.Helper()
	stats, err := filepath.Glob("/proc/[0-9]*/stat")
	if err != nil {
		tb.Fatal(err)
	}
	self := os.Getpid()
	var total float64
	for _, path := range stats {
		st, err := readProcStat(path)
		if err != nil || st.ppid != self {
			continue
		}
		total += st.cpu
	}
	return total
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

func (c *writeCounter) total(pauses bool) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	m := c.resumes
	if pauses {
		m = c.pauses
	}
	n := 0
	for _, v := range m {
		n += v
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
		time.Sleep(5 * time.Millisecond)
	}
}

func status0(b *testing.B, g *v1alpha1.MaintenanceGuard) v1alpha1.MaintenanceGuardStatus {
	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(g), cur); err != nil {
		b.Fatal(err)
	}
	return cur.Status
}
