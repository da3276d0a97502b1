package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// The parent-revert scenario: a parent Kustomization, named flux-system
// as `flux bootstrap` names it, lives in a namespace the guard does not
// select and applies from Git the child Kustomizations of a namespace the
// guard does select, each written with an explicit `suspend: false`.
const (
	revertParentNS = "e2e-revert-parent"
	revertAppsNS   = "e2e-revert-apps"
	revertGuard    = "e2e-parent-revert"
)

// revertChildren are the children; the last one, revertUnshielded, has
// its shield taken off by hand during the pause, to show the parent does
// revert an unshielded child (so the test would see a revert) and the
// guard pauses it again.
var revertChildren = []string{"child-a", "child-b", revertUnshielded}

const revertUnshielded = "child-c"

// revertFiles renders the parent's folder (the children's manifests) and
// one folder per child with a compliant app.
func revertFiles() map[string]string {
	files := map[string]string{}
	for _, c := range revertChildren {
		files["revert/children/"+c+".yaml"] = strings.NewReplacer("$ns", revertAppsNS, "$name", c, "$src", revertParentNS).Replace(`apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: $name
  namespace: $ns
spec:
  # What a parent reverting a pause would write back.
  suspend: false
  interval: 10m
  retryInterval: 2s
  timeout: 1m
  prune: true
  path: ./revert/$name
  sourceRef:
    kind: ExternalArtifact
    name: revert
    namespace: $src
`)
		files["revert/"+c+"/app.yaml"] = scenario.AppManifest(revertAppsNS, scenario.App{Name: c, Replicas: 2}, "1.0.0")
	}
	return files
}

// TestParentRevertDoesNotUndoAPause proves that a parent Kustomization
// whose Git says `suspend: false` does not resume the children the guard
// paused, however often it reconciles during the maintenance (flux2
// issue 3462): the guard marks them `kustomize.toolkit.fluxcd.io/
// reconcile: disabled`, so the parent skips them, and it would re-pause
// any the parent reverted anyway, which a control child, its shield taken
// off by hand, shows (PauseReverted). Afterwards the children are resumed.
func TestParentRevertDoesNotUndoAPause(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()
	node := e.Cluster.Nodes[len(e.Cluster.Nodes)-1]
	selected := map[string]string{"fluxgate.dev/e2e-scenario": "parent-revert"}
	parent := types.NamespacedName{Namespace: revertParentNS, Name: "flux-system"}
	var children []types.NamespacedName
	var shieldedKeys []string
	for _, c := range revertChildren {
		children = append(children, types.NamespacedName{Namespace: revertAppsNS, Name: c})
		if c != revertUnshielded {
			shieldedKeys = append(shieldedKeys, revertAppsNS+"/"+c)
		}
	}
	unshielded := types.NamespacedName{Namespace: revertAppsNS, Name: revertUnshielded}

	for _, ns := range []struct {
		name   string
		labels map[string]string
	}{{revertParentNS, nil}, {revertAppsNS, selected}} {
		if err := e.CreateNamespace(ctx, ns.name, ns.labels); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// The parent namespace first: the parent's finalizer prunes the
		// children, whose finalizers prune the apps.
		for _, ns := range []string{revertParentNS, revertAppsNS} {
			if err := e.DeleteNamespace(context.Background(), ns, 2*time.Minute); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})
	startGuard(ctx, t, e, revertGuard, scenario.GuardSpec(selected, "1s", "3s"))

	rev, err := e.Repo.CommitOverlay(revertFiles(), "parent revert: parent and children")
	if err != nil {
		t.Fatal(err)
	}
	source := types.NamespacedName{Namespace: revertParentNS, Name: "revert"}
	if _, err := e.Source.Publish(ctx, e.Client, source.Namespace, source.Name, rev); err != nil {
		t.Fatal(err)
	}
	if err := e.Client.Create(ctx, scenario.KustomizationFrom(parent.Namespace, parent.Name, "./revert/children", source)); err != nil {
		t.Fatal(err)
	}
	all := append([]types.NamespacedName{parent}, children...)
	if err := e.WaitKustomizations(ctx, all, 2*time.Minute, func(st scenario.KustomizationState) bool {
		return st.Ready == "True" && st.LastAppliedRevision == rev && !st.Suspended
	}); err != nil {
		t.Fatal(err)
	}

	// The recorder's watch sees every write to the children, so a revert
	// the guard undoes at once still shows as a resume and a suspend.
	rec := recorder.New(recorder.Options{Namespaces: []string{revertAppsNS}})
	watchCtx, stopWatch := context.WithCancel(ctx)
	t.Cleanup(stopWatch)
	if err := rec.Start(watchCtx, e.Cluster.RESTConfig()); err != nil {
		t.Fatal(err)
	}

	if err := e.Cluster.Cordon(ctx, node); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitKustomizations(ctx, children, time.Minute, func(st scenario.KustomizationState) bool { return st.Suspended }); err != nil {
		t.Fatalf("children not paused after cordoning %s: %v", node, err)
	}
	for _, c := range children {
		ks := scenario.NewKustomization()
		if err := e.Client.Get(ctx, c, ks); err != nil {
			t.Fatal(err)
		}
		if got := ks.GetAnnotations()[pause.FluxReconcileAnnotation]; got != pause.FluxReconcileDisabled {
			t.Errorf("paused child %s: %s=%q, want %q", c, pause.FluxReconcileAnnotation, got, pause.FluxReconcileDisabled)
		}
	}

	// A held object whose shield is gone is not shielded again until a
	// parent reverts it: the control case below.
	unshield := scenario.NewKustomization()
	unshield.SetNamespace(unshielded.Namespace)
	unshield.SetName(unshielded.Name)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null}}}`, pause.FluxReconcileAnnotation)
	if err := e.Client.Patch(ctx, unshield, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}

	// The parent reconciles its Git, which says suspend: false, several
	// times while the node stays cordoned.
	for i := range 3 {
		if _, err := e.RequestReconcile(ctx, parent, time.Minute); err != nil {
			t.Fatalf("parent reconcile %d: %v", i+1, err)
		}
		st, err := e.GetKustomization(ctx, parent)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready != "True" {
			t.Errorf("parent reconcile %d: %+v, want Ready=True (skipping a disabled child is no error)", i+1, st)
		}
	}
	// The unshielded child was reverted and paused again at once.
	if err := e.WaitKustomizations(ctx, children, 10*time.Second, func(st scenario.KustomizationState) bool { return st.Suspended }); err != nil {
		t.Errorf("after the parent's reconciles: %v", err)
	}
	if err := e.Client.Get(ctx, unshielded, unshield); err != nil {
		t.Fatal(err)
	}
	if got := unshield.GetAnnotations()[pause.FluxReconcileAnnotation]; got != pause.FluxReconcileDisabled {
		t.Errorf("re-paused child %s: %s=%q, want %q again", unshielded, pause.FluxReconcileAnnotation, got, pause.FluxReconcileDisabled)
	}
	if n, err := countEvents(ctx, e, unshielded, "PauseReverted"); err != nil || n == 0 {
		t.Errorf("PauseReverted Events on %s: %d (%v), want at least one", unshielded, n, err)
	}

	if err := e.Cluster.Uncordon(ctx, node); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitKustomizations(ctx, children, 2*time.Minute, func(st scenario.KustomizationState) bool {
		return !st.Suspended && st.Ready == "True"
	}); err != nil {
		t.Fatalf("children not resumed after the settle period: %v", err)
	}
	for _, c := range children {
		ks := scenario.NewKustomization()
		if err := e.Client.Get(ctx, c, ks); err != nil {
			t.Fatal(err)
		}
		for _, a := range []string{pause.FluxReconcileAnnotation, pause.PausedByAnnotation, pause.ReconcileDisabledAnnotation} {
			if v, ok := ks.GetAnnotations()[a]; ok {
				t.Errorf("resumed child %s still has %s=%q", c, a, v)
			}
		}
	}
	stopWatch()

	timeline := rec.Timeline()
	if err := pausedThroughout(timeline, shieldedKeys, node); err != nil {
		t.Error(err)
	}
	// The control: without the shield the parent does revert, so the
	// check above would see it.
	if err := pausedThroughout(timeline, []string{unshielded.String()}, node); err == nil {
		t.Errorf("%s, unshielded, was never reverted by its parent: the parent did not apply suspend: false, so this test proves nothing", unshielded)
	}
}

// countEvents counts the Events of a reason regarding a Kustomization.
func countEvents(ctx context.Context, e *scenario.Env, key types.NamespacedName, reason string) (int, error) {
	events := &corev1.EventList{}
	if err := e.Client.List(ctx, events, client.InNamespace(key.Namespace)); err != nil {
		return 0, fmt.Errorf("list Events of %s: %w", key.Namespace, err)
	}
	n := 0
	for _, ev := range events.Items {
		if ev.Reason == reason && ev.InvolvedObject.Kind == "Kustomization" && ev.InvolvedObject.Name == key.Name {
			n++
		}
	}
	return n, nil
}

// pausedThroughout checks a timeline: once each child is first suspended,
// nothing resumes it until the node is uncordoned, and each is resumed
// afterwards.
func pausedThroughout(timeline []recorder.Event, children []string, node string) error {
	var uncordoned time.Time
	for _, ev := range timeline {
		if ev.Kind == recorder.NodeUncordoned && ev.Object == node {
			uncordoned = ev.At
		}
	}
	if uncordoned.IsZero() {
		return fmt.Errorf("the recorder did not see %s uncordoned", node)
	}
	var errs []string
	for _, c := range children {
		var paused, resumed time.Time
		for _, ev := range timeline {
			if ev.Object != c {
				continue
			}
			switch {
			case ev.Kind == recorder.KustomizationSuspended && paused.IsZero():
				paused = ev.At
			case ev.Kind == recorder.KustomizationResumed && !paused.IsZero() && ev.At.Before(uncordoned):
				errs = append(errs, fmt.Sprintf("%s resumed at +%s while %s was cordoned (a parent reverted the pause)",
					c, ev.At.Sub(paused).Round(time.Millisecond), node))
			case ev.Kind == recorder.KustomizationResumed:
				resumed = ev.At
			}
		}
		if paused.IsZero() || resumed.IsZero() {
			errs = append(errs, fmt.Sprintf("%s: suspended at %v, resumed at %v; want both", c, paused, resumed))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("the children did not stay paused:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}

// startGuard creates a MaintenanceGuard and registers the scenario's
// cleanup: every node uncordoned, then the guard deleted (its finalizer
// resumes what it still holds). t.Cleanup runs last-registered first, so
// namespaces registered before are deleted after.
func startGuard(ctx context.Context, t *testing.T, e *scenario.Env, name string, spec map[string]any) {
	t.Helper()
	if err := e.Guard(ctx, name, spec); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.DeleteGuard(context.Background(), name); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	t.Cleanup(func() {
		if err := e.UncordonAll(context.Background()); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}
