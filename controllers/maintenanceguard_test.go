package controllers

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

var seq atomic.Int64

func uniq(prefix string) string { return fmt.Sprintf("%s-%d", prefix, seq.Add(1)) }

func namespace(t *testing.T, labels map[string]string) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: uniq("ns"), Labels: labels}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

// flux creates a Kustomization or HelmRelease through the API.
func flux(t *testing.T, gvk schema.GroupVersionKind, ns, name string, suspend bool, dependsOn ...string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(gvk)
	u.SetNamespace(ns)
	u.SetName(name)
	spec := map[string]any{"interval": "10m"}
	if gvk == pause.Kustomization {
		spec["path"] = "./apps"
		spec["prune"] = true
		spec["sourceRef"] = map[string]any{"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}
	} else {
		spec["chart"] = map[string]any{"spec": map[string]any{"chart": "podinfo", "sourceRef": map[string]any{"kind": "HelmRepository", "name": "podinfo"}}}
	}
	if suspend {
		spec["suspend"] = true
	}
	if len(dependsOn) > 0 {
		var deps []any
		for _, d := range dependsOn {
			deps = append(deps, map[string]any{"name": d})
		}
		spec["dependsOn"] = deps
	}
	u.Object["spec"] = spec
	if err := k8s.Create(context.Background(), u); err != nil {
		t.Fatalf("create %s %s/%s: %v", gvk.Kind, ns, name, err)
	}
	return u
}

func get(t *testing.T, u *unstructured.Unstructured) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetGroupVersionKind(u.GroupVersionKind())
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(u), got); err != nil {
		t.Fatal(err)
	}
	return got
}

func suspended(t *testing.T, u *unstructured.Unstructured) bool {
	t.Helper()
	s, _, _ := unstructured.NestedBool(get(t, u).Object, "spec", "suspend")
	return s
}

func guard(t *testing.T, spec v1alpha1.MaintenanceGuardSpec) *v1alpha1.MaintenanceGuard {
	t.Helper()
	g := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: uniq("guard")}, Spec: spec}
	if err := k8s.Create(context.Background(), g); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), g) })
	return g
}

// kick makes the controller reconcile the guard now: the tests move the
// injected clock instead of waiting for requeues.
func kick(t testing.TB, g *v1alpha1.MaintenanceGuard) {
	t.Helper()
	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(g), cur); err != nil {
		t.Fatal(err)
	}
	base := cur.DeepCopy()
	a := cur.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a["test.fluxgate.dev/kick"] = fmt.Sprint(seq.Add(1))
	cur.SetAnnotations(a)
	if err := k8s.Patch(context.Background(), cur, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

func status(t *testing.T, g *v1alpha1.MaintenanceGuard) v1alpha1.MaintenanceGuardStatus {
	t.Helper()
	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(g), cur); err != nil {
		t.Fatal(err)
	}
	return cur.Status
}

// eventually retries f until it passes; it only waits for the controller
// and the API, never for a duration the test asserts on.
func eventually(t *testing.T, f func() error) {
	t.Helper()
	deadline := time.Now().Add(30 * time.Second)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

func waitPhase(t *testing.T, g *v1alpha1.MaintenanceGuard, phase v1alpha1.Phase) {
	t.Helper()
	eventually(t, func() error {
		kick(t, g)
		if st := status(t, g); st.Phase != phase {
			return fmt.Errorf("guard %s phase %q, want %q (signals %q)", g.Name, st.Phase, phase, st.ActiveSignalNames)
		}
		return nil
	})
}

// onlyNamespace targets the Kustomizations and HelmReleases of one
// namespace, so tests do not see each other's objects.
func onlyNamespace(ns string) v1alpha1.Targets {
	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"kubernetes.io/metadata.name": ns}}
	return v1alpha1.Targets{
		Kustomizations: v1alpha1.TargetSelection{NamespaceSelector: sel},
		HelmReleases:   v1alpha1.TargetSelection{NamespaceSelector: sel},
	}
}

// nodeSignal looks only at the nodes labelled for one test.
func nodeSignal(label string) v1alpha1.Signals {
	return v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"test": label}}}}
}

func labelledNode(t *testing.T, label string) string {
	t.Helper()
	n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: uniq("node"), Labels: map[string]string{"test": label}}}
	if err := k8s.Create(context.Background(), n); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), n) })
	return n.Name
}

func dur(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }

func TestCordonPausesAndUncordonResumes(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	var order []string
	startGuard(t, clk, recordResumes(&order))
	label := uniq("cordon")
	n := labelledNode(t, label)
	ns := namespace(t, nil)
	frontend := flux(t, pause.Kustomization, ns, "frontend", false, "backend")
	backend := flux(t, pause.Kustomization, ns, "backend", false, "database")
	database := flux(t, pause.Kustomization, ns, "database", false)
	release := flux(t, pause.HelmRelease, ns, "podinfo", false)
	byHand := flux(t, pause.Kustomization, ns, "by-hand", true)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(30 * time.Second), Settle: dur(5 * time.Minute)})

	waitPhase(t, g, v1alpha1.PhaseIdle)
	cordon(t, n, true)
	waitPhase(t, g, v1alpha1.PhaseDebouncing)
	if suspended(t, frontend) {
		t.Fatal("paused before the debounce period ended")
	}
	clk.Add(31 * time.Second)
	waitPhase(t, g, v1alpha1.PhasePaused)
	for _, u := range []*unstructured.Unstructured{frontend, backend, database, release} {
		got := get(t, u)
		if s, _, _ := unstructured.NestedBool(got.Object, "spec", "suspend"); !s || got.GetAnnotations()[pause.PausedByAnnotation] != g.Name ||
			!strings.Contains(got.GetAnnotations()[pause.PauseReasonAnnotation], "NodeCordoned") {
			t.Fatalf("%s/%s not paused by %s: %v", u.GetKind(), u.GetName(), g.Name, got.GetAnnotations())
		}
	}
	if a := get(t, byHand).GetAnnotations(); len(a) != 0 {
		t.Fatalf("a Kustomization a person suspended was touched: %v", a)
	}
	st := status(t, g)
	if st.PausedCount != 4 || len(st.Paused) != 4 || st.ActiveSignalNames != "NodeCordoned" || !strings.Contains(st.ActiveSignals[0].Detail, n) {
		t.Fatalf("status = %+v", st)
	}
	if c := apimeta.FindStatusCondition(st.Conditions, v1alpha1.MaintenanceActiveCondition); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("MaintenanceActive = %+v", c)
	}

	cordon(t, n, false)
	waitPhase(t, g, v1alpha1.PhaseSettling)
	if !suspended(t, frontend) {
		t.Fatal("resumed before the settle period ended")
	}
	clk.Add(5*time.Minute + time.Second)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	for _, u := range []*unstructured.Unstructured{frontend, backend, database, release} {
		got := get(t, u)
		if s, _, _ := unstructured.NestedBool(got.Object, "spec", "suspend"); s || got.GetAnnotations()[pause.RequestedAtAnnotation] == "" {
			t.Fatalf("%s not resumed with a reconcile request: %v", u.GetName(), got.GetAnnotations())
		}
		if _, ok := got.GetAnnotations()[pause.PausedByAnnotation]; ok {
			t.Fatalf("%s keeps the guard's annotation", u.GetName())
		}
	}
	if !suspended(t, byHand) {
		t.Fatal("the guard resumed a Kustomization a person suspended")
	}
	// One Event on the guard per transition, naming what it paused and
	// resumed; none on each object.
	eventually(t, func() error {
		notes := map[string]string{}
		for _, e := range guardEvents(t, g.Name) {
			notes[e.Reason] = e.Message
		}
		p, r := notes[ReasonMaintenancePaused], notes[ReasonMaintenanceResumed]
		if !strings.HasPrefix(p, "paused 4 Flux objects (") || !strings.Contains(p, "Kustomization "+ns+"/frontend") || !strings.Contains(p, "NodeCordoned") ||
			!strings.HasPrefix(r, "resumed 4 Flux objects (") || !strings.Contains(r, "HelmRelease "+ns+"/podinfo") {
			return fmt.Errorf("events on the guard: %v", notes)
		}
		return nil
	})
	if evs := eventsFor(t, ns, "frontend"); len(evs) != 0 {
		t.Fatalf("%d Events on a paused object, want none (the guard's Event names it): %+v", len(evs), evs)
	}
	pos := map[string]int{}
	for i, name := range order {
		pos[name] = i
	}
	if !(pos["database"] < pos["backend"] && pos["backend"] < pos["frontend"]) {
		t.Fatalf("resume order %v: dependencies must come first", order)
	}
}

func TestBriefCordonDoesNotPause(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	label := uniq("brief")
	n := labelledNode(t, label)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: nodeSignal(label)})
	cordon(t, n, true)
	waitPhase(t, g, v1alpha1.PhaseDebouncing)
	clk.Add(10 * time.Second)
	cordon(t, n, false)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	clk.Add(time.Minute)
	kick(t, g)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("a cordon shorter than the debounce paused Flux")
	}
}

func TestPersonChangesDuringPauseAreKept(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	resumedByHand := flux(t, pause.Kustomization, ns, "resumed-by-hand", false)
	unannotated := flux(t, pause.Kustomization, ns, "unannotated", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(time.Minute),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "kernel patching, change 4711")
	waitPhase(t, g, v1alpha1.PhasePaused)
	if st := status(t, g); st.ActiveSignalNames != "Manual" || !strings.Contains(st.ActiveSignals[0].Detail, "change 4711") {
		t.Fatalf("status = %+v", st)
	}

	// `flux resume` during the pause: a merge patch of spec.suspend only.
	u := get(t, resumedByHand)
	if err := k8s.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(`{"spec":{"suspend":false}}`)), client.FieldOwner("flux")); err != nil {
		t.Fatal(err)
	}
	// A person takes over the other one: removes the guard's annotation.
	u = get(t, unannotated)
	if err := k8s.Patch(ctx, u, client.RawPatch("application/merge-patch+json", []byte(`{"metadata":{"annotations":{"fluxgate.dev/paused-by":null}}}`)), client.FieldOwner("kubectl-edit")); err != nil {
		t.Fatal(err)
	}
	kick(t, g)
	eventually(t, func() error {
		kick(t, g)
		if suspended(t, resumedByHand) {
			return errors.New("the guard paused again what a person resumed")
		}
		return nil
	})

	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "")
	waitPhase(t, g, v1alpha1.PhaseSettling)
	clk.Add(2 * time.Minute)
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if !suspended(t, unannotated) {
		t.Fatal("the guard resumed an object whose pause a person took over")
	}
	if suspended(t, resumedByHand) || get(t, resumedByHand).GetAnnotations()[pause.RequestedAtAnnotation] != "" {
		t.Fatal("the object a person resumed was changed again on resume")
	}
}

func TestOverlappingGuards(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	manual := v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}
	a := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: manual, Debounce: dur(0), Settle: dur(0)})
	b := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: manual, Debounce: dur(0), Settle: dur(0)})
	setGuardAnnotation(t, a, v1alpha1.MaintenanceAnnotation, "a")
	setGuardAnnotation(t, b, v1alpha1.MaintenanceAnnotation, "b")
	waitPhase(t, a, v1alpha1.PhasePaused)
	waitPhase(t, b, v1alpha1.PhasePaused)
	eventually(t, func() error {
		if got := pause.Holders(get(t, app)); strings.Join(got, ",") != strings.Join(sortedPair(a.Name, b.Name), ",") {
			return fmt.Errorf("holders = %v", got)
		}
		return nil
	})
	setGuardAnnotation(t, a, v1alpha1.MaintenanceAnnotation, "")
	waitPhase(t, a, v1alpha1.PhaseIdle)
	if !suspended(t, app) {
		t.Fatal("resumed while the other guard still holds it")
	}
	setGuardAnnotation(t, b, v1alpha1.MaintenanceAnnotation, "")
	waitPhase(t, b, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("not resumed once neither guard holds it")
	}
}

func TestParentRevertIsPausedAgain(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	child := flux(t, pause.Kustomization, ns, "child", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "upgrade")
	waitPhase(t, g, v1alpha1.PhasePaused)
	got := get(t, child)
	if got.GetAnnotations()[pause.FluxReconcileAnnotation] != "disabled" {
		t.Fatalf("child not shielded from its parent: %v", got.GetAnnotations())
	}
	// The parent's apply of the Git manifest (suspend: false), as
	// kustomize-controller sends it: server-side apply, forced.
	applied := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "child", "namespace": ns},
		"spec":     map[string]any{"interval": "10m", "path": "./apps", "prune": true, "suspend": false, "sourceRef": map[string]any{"kind": "GitRepository", "name": "flux-system", "namespace": "flux-system"}},
	}}
	if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(applied), client.FieldOwner("kustomize-controller"), client.ForceOwnership); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		kick(t, g)
		if !suspended(t, child) {
			return errors.New("the parent's revert was not paused again")
		}
		return nil
	})
	eventually(t, func() error {
		for _, e := range eventsFor(t, child.GetNamespace(), "child") {
			if e.Reason == ReasonPauseReverted {
				return nil
			}
		}
		return errors.New("no PauseReverted event on the child")
	})
}

func TestMaxPauseWarns(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), MaxPause: dur(time.Hour),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "long")
	waitPhase(t, g, v1alpha1.PhasePaused)
	clk.Add(2 * time.Hour)
	eventually(t, func() error {
		kick(t, g)
		c := apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.ReadyCondition)
		if c == nil || c.Reason != v1alpha1.MaxPauseExceededReason || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("Ready = %+v", c)
		}
		return nil
	})
	if !suspended(t, app) {
		t.Fatal("max pause resumed although resumeAfterMaxPause is off")
	}
	eventually(t, func() error {
		n := 0
		for _, e := range guardEvents(t, g.Name) {
			if e.Reason == ReasonMaxPauseExceeded {
				n += int(max(e.Count, 1))
			}
		}
		if n != 1 {
			return fmt.Errorf("%d MaxPauseExceeded events, want exactly one", n)
		}
		return nil
	})
}

func TestFreezeWindowWithInjectedClock(t *testing.T) {
	clk := &clock{t: time.Date(2026, 11, 21, 21, 30, 0, 0, time.UTC)} // a Saturday
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(0),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)},
			FreezeWindows: []v1alpha1.FreezeWindow{{Name: "saturday-night", Schedule: "0 22 * * 6", Duration: metav1.Duration{Duration: 2 * time.Hour}, TimeZone: "Europe/Berlin"}}}})
	waitPhase(t, g, v1alpha1.PhasePaused) // 22:30 in Berlin: inside the window
	if !suspended(t, app) || !strings.Contains(status(t, g).ActiveSignals[0].Detail, "saturday-night") {
		t.Fatalf("not paused inside the window: %+v", status(t, g))
	}
	clk.Add(2 * time.Hour) // 00:30 in Berlin: the window has closed
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("still paused after the window")
	}
}

func setGuardAnnotation(t testing.TB, g *v1alpha1.MaintenanceGuard, key, value string) {
	t.Helper()
	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(context.Background(), client.ObjectKeyFromObject(g), cur); err != nil {
		t.Fatal(err)
	}
	base := cur.DeepCopy()
	a := cur.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	if value == "" {
		delete(a, key)
	} else {
		a[key] = value
	}
	cur.SetAnnotations(a)
	if err := k8s.Patch(context.Background(), cur, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

func eventsFor(t *testing.T, ns, name string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := k8s.List(context.Background(), &list, client.InNamespace(ns)); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}

func ptrTo[T any](v T) *T { return &v }

func sortedPair(a, b string) []string {
	if a < b {
		return []string{a, b}
	}
	return []string{b, a}
}

// patchRecorder wraps the controller's client to see its writes.
type patchRecorder struct {
	client.Client
	onPatch func(obj client.Object, patch client.Patch)
}

func (p *patchRecorder) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	err := p.Client.Patch(ctx, obj, patch, opts...)
	if err == nil {
		p.onPatch(obj, patch)
	}
	return err
}

// recordResumes records, in order, the names of the Flux objects the
// guard un-suspends.
func recordResumes(order *[]string) func(client.Client) client.Client {
	var mu = make(chan struct{}, 1)
	return func(c client.Client) client.Client {
		return &patchRecorder{Client: c, onPatch: func(obj client.Object, _ client.Patch) {
			u, ok := obj.(*unstructured.Unstructured)
			if !ok {
				return
			}
			if s, found, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); found && !s {
				mu <- struct{}{}
				*order = append(*order, u.GetName())
				<-mu
			}
		}}
	}
}

// guardEvents lists the Events about a (cluster-scoped) guard.
func guardEvents(t *testing.T, name string) []corev1.Event {
	t.Helper()
	var list corev1.EventList
	if err := k8s.List(context.Background(), &list); err != nil {
		t.Fatal(err)
	}
	var out []corev1.Event
	for _, e := range list.Items {
		if e.InvolvedObject.Kind == "MaintenanceGuard" && e.InvolvedObject.Name == name {
			out = append(out, e)
		}
	}
	return out
}
