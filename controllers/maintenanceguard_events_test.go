package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/event"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

func TestNodePredicate(t *testing.T) {
	base := func() *corev1.Node {
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: "n", ResourceVersion: "1", Labels: map[string]string{"zone": "a"}, Annotations: map[string]string{"other": "x"}},
			Status: corev1.NodeStatus{
				NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.36.3"},
				Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, LastHeartbeatTime: metav1.Unix(100, 0)}},
			},
		}
	}
	tests := []struct {
		name   string
		change func(*corev1.Node)
		want   bool
	}{
		{"heartbeat", func(n *corev1.Node) {
			n.ResourceVersion = "2"
			n.Status.Conditions[0].LastHeartbeatTime = metav1.Unix(110, 0)
		}, false},
		{"condition flips", func(n *corev1.Node) { n.Status.Conditions[0].Status = corev1.ConditionFalse }, false},
		{"images and capacity", func(n *corev1.Node) {
			n.Status.Images = []corev1.ContainerImage{{Names: []string{"nginx"}}}
			n.Status.Capacity = corev1.ResourceList{}
		}, false},
		{"unrelated annotation", func(n *corev1.Node) { n.Annotations["other"] = "y" }, false},
		{"cordon", func(n *corev1.Node) { n.Spec.Unschedulable = true }, true},
		{"taint", func(n *corev1.Node) {
			n.Spec.Taints = []corev1.Taint{{Key: "node.kubernetes.io/unschedulable", Effect: corev1.TaintEffectNoSchedule}}
		}, true},
		{"maintenance annotation", func(n *corev1.Node) { n.Annotations[v1alpha1.MaintenanceAnnotation] = "kernel" }, true},
		{"kured reboot annotation", func(n *corev1.Node) { n.Annotations["weave.works/kured-reboot-in-progress"] = "" }, true},
		{"kubelet version", func(n *corev1.Node) { n.Status.NodeInfo.KubeletVersion = "v1.37.0" }, true},
		{"label", func(n *corev1.Node) { n.Labels["node-role.kubernetes.io/control-plane"] = "" }, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := base(), base()
			tt.change(cur)
			if got := nodeChanged.Update(event.UpdateEvent{ObjectOld: old, ObjectNew: cur}); got != tt.want {
				t.Errorf("update passes = %v, want %v", got, tt.want)
			}
		})
	}
	// A node no detector counts is not worth a reconcile when it comes or
	// goes (kwok adding a thousand nodes); a cordoned one is.
	plain, cordoned := base(), base()
	cordoned.Spec.Unschedulable = true
	if nodeChanged.Create(event.CreateEvent{Object: plain}) || !nodeChanged.Create(event.CreateEvent{Object: cordoned}) ||
		nodeChanged.Delete(event.DeleteEvent{Object: plain}) || !nodeChanged.Delete(event.DeleteEvent{Object: cordoned}) {
		t.Error("create/delete predicate does not follow nodeRelevant")
	}
	if got := indexNodeRelevant(cordoned); len(got) != 1 || got[0] != "true" {
		t.Errorf("index of a cordoned node = %v", got)
	}
	if got := indexNodeRelevant(plain); got != nil {
		t.Errorf("index of a plain node = %v", got)
	}
}

func TestFluxPredicate(t *testing.T) {
	base := func() *unstructured.Unstructured {
		u := benchKustomization("ns", "app")
		u.SetResourceVersion("1")
		u.SetGeneration(1)
		u.SetLabels(map[string]string{"team": "a"})
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:1"}}, "status", "conditions")
		return u
	}
	held := func(u *unstructured.Unstructured) {
		u.SetAnnotations(map[string]string{pause.PausedByAnnotation: "g"})
		_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
	}
	reconciling := func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Reconciling", "status": "True"}}, "status", "conditions")
	}
	tests := []struct {
		name     string
		old, cur func(*unstructured.Unstructured)
		want     bool
	}{
		{"status write", nil, func(u *unstructured.Unstructured) {
			u.SetResourceVersion("2")
			_ = unstructured.SetNestedField(u.Object, "main@sha1:2", "status", "lastAppliedRevision")
			_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "True", "message": "Applied revision: main@sha1:2"}}, "status", "conditions")
		}, false},
		{"reconcile starts, not held", nil, reconciling, false},
		{"reconcile request annotation", nil, func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{pause.RequestedAtAnnotation: "now"})
		}, false},
		{"suspend", nil, func(u *unstructured.Unstructured) { _ = unstructured.SetNestedField(u.Object, true, "spec", "suspend") }, true},
		{"paused-by", nil, func(u *unstructured.Unstructured) { u.SetAnnotations(map[string]string{pause.PausedByAnnotation: "g"}) }, true},
		{"parent-apply switch", nil, func(u *unstructured.Unstructured) {
			u.SetAnnotations(map[string]string{pause.FluxReconcileAnnotation: pause.FluxReconcileDisabled})
		}, true},
		{"label", nil, func(u *unstructured.Unstructured) { u.SetLabels(map[string]string{"team": "b"}) }, true},
		{"held: status write", func(u *unstructured.Unstructured) { held(u) }, func(u *unstructured.Unstructured) {
			held(u)
			_ = unstructured.SetNestedField(u.Object, "main@sha1:2", "status", "lastAppliedRevision")
		}, false},
		{"held: in-flight reconcile ends", func(u *unstructured.Unstructured) { held(u); reconciling(u) }, held, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			old, cur := base(), base()
			if tt.old != nil {
				tt.old(old)
			}
			tt.cur(cur)
			if got := fluxFactsChanged(old, cur); got != tt.want {
				t.Errorf("update passes = %v, want %v", got, tt.want)
			}
		})
	}
}

// faultClient wraps the guard's client: it counts the reconciles of each
// guard (each starts with a Get of it), and fails the first lists of a
// kind and the first writes to Flux objects it is told to.
type faultClient struct {
	client.Client
	mu          sync.Mutex
	reconciles  map[string]int
	failLists   map[string]int // list kind -> failures left
	failPatches int
	failed      int
}

func newFaultClient() *faultClient {
	return &faultClient{reconciles: map[string]int{}, failLists: map[string]int{}}
}

func (f *faultClient) wrap(c client.Client) client.Client { f.Client = c; return f }

func (f *faultClient) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	if _, ok := obj.(*v1alpha1.MaintenanceGuard); ok {
		f.mu.Lock()
		f.reconciles[key.Name]++
		f.mu.Unlock()
	}
	return f.Client.Get(ctx, key, obj, opts...)
}

func (f *faultClient) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	kind := fmt.Sprintf("%T", list)
	if u, ok := list.(*unstructured.UnstructuredList); ok {
		kind = u.GetKind()
	}
	f.mu.Lock()
	fail := f.failLists[kind] > 0
	if fail {
		f.failLists[kind]--
		f.failed++
	}
	f.mu.Unlock()
	if fail {
		return fmt.Errorf("simulated: the API server is unavailable (list %s)", kind)
	}
	return f.Client.List(ctx, list, opts...)
}

func (f *faultClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		f.mu.Lock()
		fail := f.failPatches > 0
		if fail {
			f.failPatches--
			f.failed++
		}
		f.mu.Unlock()
		if fail {
			return errors.New("simulated: the API server is unavailable (patch)")
		}
	}
	return f.Client.Patch(ctx, obj, patch, opts...)
}

func (f *faultClient) count(guard string) int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.reconciles[guard]
}

func (f *faultClient) failures() int {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.failed
}

// quiet waits until the guard has not been reconciled for a while, and
// returns the count: the tests compare counts, never durations.
func (f *faultClient) quiet(t *testing.T, guard string) int {
	t.Helper()
	n := f.count(guard)
	for stable := 0; stable < 10; stable++ {
		time.Sleep(50 * time.Millisecond)
		if m := f.count(guard); m != n {
			n, stable = m, 0
		}
	}
	return n
}

// TestHeartbeatsAndStatusWritesDoNotReconcile drives what a quiet cluster
// sends all day, Node heartbeats and Flux status writes (here on an object
// the guard holds, whose events do reach it), and then one change of each
// kind that matters: only the two changes reconcile the guard, each
// without a poke.
func TestHeartbeatsAndStatusWritesDoNotReconcile(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	fc := newFaultClient()
	startGuard(t, clk, fc.wrap)
	label := uniq("quiet")
	node := labelledNode(t, label)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	signals := nodeSignal(label)
	signals.ControlPlane.Enabled = ptrTo(false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: signals, Debounce: dur(0), Settle: dur(time.Hour)})
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "patching")
	waitPhase(t, g, v1alpha1.PhasePaused)
	eventually(t, func() error {
		if st := status(t, g); st.PausedCount != 1 {
			return fmt.Errorf("paused %d", st.PausedCount)
		}
		return nil
	})
	before := fc.quiet(t, g.Name)

	const beats = 20
	for i := range beats {
		n := &corev1.Node{}
		if err := k8s.Get(ctx, client.ObjectKey{Name: node}, n); err != nil {
			t.Fatal(err)
		}
		n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady",
			LastHeartbeatTime: metav1.NewTime(time.Now()), LastTransitionTime: metav1.Unix(0, 0)}}
		if err := k8s.Status().Update(ctx, n); err != nil {
			t.Fatal(err)
		}
		u := get(t, app)
		_ = unstructured.SetNestedField(u.Object, fmt.Sprintf("main@sha1:%d", i), "status", "lastAttemptedRevision")
		_ = unstructured.SetNestedSlice(u.Object, []any{map[string]any{"type": "Ready", "status": "True", "reason": "ReconciliationSucceeded",
			"message": fmt.Sprintf("Applied revision: main@sha1:%d", i), "lastTransitionTime": time.Now().UTC().Format(time.RFC3339)}}, "status", "conditions")
		if err := k8s.Status().Update(ctx, u); err != nil {
			t.Fatal(err)
		}
		time.Sleep(20 * time.Millisecond) // paced, so that a reconcile per write would show
	}

	// Sentinels, each behind the writes above on its own watch: a cordon
	// (Node watch) and a person's label on the Kustomization (Flux watch).
	cordon(t, node, true)
	eventually(t, func() error {
		if st := status(t, g); st.ActiveSignalNames != "Manual,NodeCordoned" && st.ActiveSignalNames != "NodeCordoned,Manual" {
			return fmt.Errorf("signals %q: the cordon did not reconcile the guard", st.ActiveSignalNames)
		}
		return nil
	})
	afterCordon := fc.count(g.Name)
	u := get(t, app)
	u.SetLabels(map[string]string{"sentinel": "true"})
	if err := k8s.Update(ctx, u); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if fc.count(g.Name) == afterCordon {
			return errors.New("the label change did not reconcile the guard")
		}
		return nil
	})
	after := fc.quiet(t, g.Name)
	// The cordon and the label, and at most one more should a poll or a
	// retry fall in the window; 2×20 writes would give up to 40.
	if d := after - before; d > 3 {
		t.Fatalf("%d reconciles for %d heartbeats, %d status writes and 2 changes that matter, want 2 (at most 3)", d, beats, beats)
	}
}

// TestFailedReadsAndWritesAreRetried fails the guard's first reads of the
// Flux objects and its first writes to them: the controller's rate
// limiter retries, and the pause completes without any other event.
func TestFailedReadsAndWritesAreRetried(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	fc := newFaultClient()
	startGuard(t, clk, fc.wrap)
	ns := namespace(t, nil)
	var apps []*unstructured.Unstructured
	for i := range 5 {
		apps = append(apps, flux(t, pause.Kustomization, ns, fmt.Sprintf("app-%d", i), false))
	}
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(time.Hour),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	waitPhase(t, g, v1alpha1.PhaseIdle)
	fc.quiet(t, g.Name)

	fc.mu.Lock()
	fc.failLists["KustomizationList"] = 3
	fc.failPatches = 4
	fc.mu.Unlock()
	// One event starts it; from here on only retries move the guard.
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "patching")
	eventually(t, func() error {
		for _, u := range apps {
			if !suspended(t, u) {
				return fmt.Errorf("%s not paused", u.GetName())
			}
		}
		st := status(t, g)
		if c := apimeta.FindStatusCondition(st.Conditions, v1alpha1.ReadyCondition); st.Phase != v1alpha1.PhasePaused || st.PausedCount != 5 || c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("phase %s, paused %d, Ready %+v", st.Phase, st.PausedCount, c)
		}
		return nil
	})
	if n := fc.failures(); n != 7 {
		t.Fatalf("%d simulated failures happened, want all 7 (3 lists, 4 writes)", n)
	}
}

// TestInvalidSelectorIsTerminal: a selector that does not parse is
// reported (Ready=False, InvalidSpec) and not retried until the spec
// changes; fixing it recovers.
func TestInvalidSelectorIsTerminal(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	fc := newFaultClient()
	startGuard(t, clk, fc.wrap)
	ns := namespace(t, nil)
	targets := onlyNamespace(ns)
	targets.Kustomizations.Selector = &metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "team", Operator: metav1.LabelSelectorOpIn}}}
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: targets,
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	eventually(t, func() error {
		c := apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.ReadyCondition)
		if c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.InvalidSpecReason {
			return fmt.Errorf("Ready = %+v", c)
		}
		return nil
	})
	n := fc.count(g.Name)
	// The rate limiter would retry within milliseconds, about ten times in
	// this second; a terminal error is not retried. The guard's own write
	// of its finalizer or status may still bring one more reconcile, which
	// is not a retry.
	time.Sleep(time.Second)
	if m := fc.count(g.Name); m-n > 1 {
		t.Fatalf("an invalid spec was reconciled %d more times", m-n)
	}

	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(g), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Targets.Kustomizations.Selector.MatchExpressions[0].Values = []string{"a"}
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		c := apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.ReadyCondition)
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("Ready = %+v after the fix", c)
		}
		return nil
	})
}

// TestFluxWatchedOnlyWhileNeeded: an Idle guard that holds nothing runs
// no Flux informer (Flux's status writes then cost it nothing); the
// debounce starts one, and it stops once the guard has resumed all.
func TestFluxWatchedOnlyWhileNeeded(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	r, _ := startReconciler(t, clk, nil, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(time.Minute), Settle: dur(time.Minute),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if r.watching.Load() {
		t.Fatal("Flux objects watched by an Idle guard that holds nothing")
	}
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "patching")
	waitPhase(t, g, v1alpha1.PhaseDebouncing)
	if !r.watching.Load() {
		t.Fatal("Flux objects not watched from the debounce on")
	}
	clk.Add(2 * time.Minute)
	waitPhase(t, g, v1alpha1.PhasePaused)
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "")
	waitPhase(t, g, v1alpha1.PhaseSettling)
	clk.Add(2 * time.Minute)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("not resumed")
	}
	if r.watching.Load() {
		t.Fatal("Flux objects still watched after the resume")
	}
}
