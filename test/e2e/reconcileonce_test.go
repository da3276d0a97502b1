package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// The one-shot release scenario: the app's Kustomization lives in a
// namespace the guard selects; the ExternalArtifact and a control
// Kustomization, which the guard does not pause, live in another. The
// control applies every revision as soon as kustomize-controller sees it,
// so "the control applied revision N" is the moment from which a paused
// Kustomization that did not apply N provably held it back.
const (
	onceNS      = "e2e-reconcile-once"
	onceSrcNS   = "e2e-reconcile-once-src"
	onceGuard   = "e2e-reconcile-once"
	onceApp     = "web"
	oncePolicy  = "e2e-change-freeze"
	onceManager = "e2e-security-team"
)

// onceFiles renders the scenario's folders with the app at version: the
// app (a compliant Deployment and its PDB; broken, its Deployment says
// maxUnavailable: 1, which rollout-strategy denies) and the control's
// ConfigMap.
func onceFiles(t *testing.T, version string, broken bool) map[string]string {
	t.Helper()
	web := scenario.AppManifest(onceNS, scenario.App{Name: onceApp, Replicas: 2}, version)
	if broken {
		if !strings.Contains(web, "maxUnavailable: 0") {
			t.Fatal("the fleet's manifest no longer says maxUnavailable: 0, which this scenario breaks")
		}
		// Only the Deployment says "maxUnavailable: 0"; its PDB allows 1.
		web = strings.Replace(web, "maxUnavailable: 0", "maxUnavailable: 1", 1)
	}
	return map[string]string{
		"reconcile-once/app/web.yaml": web,
		"reconcile-once/control/marker.yaml": fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: marker\n  namespace: %s\ndata:\n  version: %q\n  broken: %q\n",
			onceSrcNS, version, fmt.Sprint(broken)),
	}
}

// TestReconcileOnceThroughFlux proves fluxgate.dev/reconcile-once with the
// real kustomize-controller. While a guard holds the app's Kustomization
// paused (the manual signal on the guard) and a change freeze denies pod
// template changes:
//
//   - a fix pushed during the pause that fluxgate denies (rollout-strategy)
//     is let through once: kustomize-controller fails, and the guard
//     suspends the Kustomization again, removes both annotations and
//     records ReconcileOnceFailed (Flux leaves Reconciling True after a
//     failure, which the guard once mistook for a run in flight);
//   - the corrected fix is let through once: kustomize-controller applies
//     exactly that revision (the freeze admits it, as the guard lists the
//     Kustomization in status.releasing), and the guard suspends it again,
//     removes both annotations and records ReconcileOnceSucceeded;
//   - a revision pushed after that is held back until the maintenance
//     ends, and applied then.
//
// The change freeze: fluxgate's configuration (policies.change-freeze.
// action) cannot be set in this environment, whose fluxgate process runs
// with the chart's arguments and no --config (the chart mounts it from a
// ConfigMap into a container, which a local process cannot read). So the
// scenario loads the built-in policy's own source, read from
// rego/policies/change_freeze, as a live policy ConfigMap under the id
// e2e-change-freeze with action deny and limited to its namespace: the
// same rule, fed the same input.maintenance by the webhook. A dry run
// shows it denies a pod template change to the paused app.
func TestReconcileOnceThroughFlux(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()
	selected := map[string]string{"fluxgate.dev/e2e-scenario": "reconcile-once"}
	source := types.NamespacedName{Namespace: onceSrcNS, Name: "reconcile-once"}
	app := types.NamespacedName{Namespace: onceNS, Name: "app"}
	control := types.NamespacedName{Namespace: onceSrcNS, Name: "control"}
	deployment := types.NamespacedName{Namespace: onceNS, Name: onceApp}

	for _, ns := range []struct {
		name   string
		labels map[string]string
	}{{onceSrcNS, nil}, {onceNS, selected}} {
		if err := e.CreateNamespace(ctx, ns.name, ns.labels); err != nil {
			t.Fatal(err)
		}
	}
	t.Cleanup(func() {
		// The app's namespace first: its Kustomization prunes the app while
		// the source it reads still exists.
		for _, ns := range []string{onceNS, onceSrcNS} {
			if err := e.DeleteNamespace(context.Background(), ns, 2*time.Minute); err != nil {
				t.Errorf("cleanup: %v", err)
			}
		}
	})

	// publish pushes a revision and waits until kustomize-controller has
	// applied it through the control Kustomization.
	publish := func(t *testing.T, version string, broken bool) string {
		t.Helper()
		rev, err := e.Repo.CommitOverlay(onceFiles(t, version, broken), "reconcile-once: web "+version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Source.Publish(ctx, e.Client, source.Namespace, source.Name, rev); err != nil {
			t.Fatal(err)
		}
		if err := e.WaitKustomizations(ctx, []types.NamespacedName{control}, time.Minute, func(st scenario.KustomizationState) bool {
			return st.LastAppliedRevision == rev && st.Ready == "True"
		}); err != nil {
			t.Fatalf("kustomize-controller did not apply %s (web %s) through the control: %v", rev, version, err)
		}
		return rev
	}
	// stillPaused checks that the app's Kustomization holds rev and the
	// Deployment the image of version.
	stillPaused := func(t *testing.T, rev, version, when string) {
		t.Helper()
		if st, err := e.GetKustomization(ctx, app); err != nil || st.LastAppliedRevision != rev || !st.Suspended {
			t.Errorf("%s: the app's Kustomization is %+v (%v), want suspended at %s", when, st, err, rev)
		}
		if got := deploymentImage(ctx, t, e, deployment); !strings.HasSuffix(got, ":"+version) {
			t.Errorf("%s: deployment %s runs %q, want version %s", when, deployment, got, version)
		}
	}
	// releaseOnce annotates the app's Kustomization with reconcile-once
	// and waits until the guard is done with it: suspended again, both
	// annotations removed.
	releaseOnce := func(t *testing.T, reason string) {
		t.Helper()
		annotate := scenario.NewKustomization()
		annotate.SetNamespace(app.Namespace)
		annotate.SetName(app.Name)
		patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, v1alpha1.ReconcileOnceAnnotation, reason)
		if err := e.Client.Patch(ctx, annotate, client.RawPatch(types.MergePatchType, patch), client.FieldOwner(onceManager)); err != nil {
			t.Fatal(err)
		}
		if err := scenario.Poll(ctx, time.Minute, func(ctx context.Context) error {
			ks := scenario.NewKustomization()
			if err := e.Client.Get(ctx, app, ks); err != nil {
				return err
			}
			suspended, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend")
			a := ks.GetAnnotations()
			if !suspended || a[v1alpha1.ReconcileOnceAnnotation] != "" || a[v1alpha1.ReconcileOnceAtAnnotation] != "" {
				st, _ := e.GetKustomization(ctx, app)
				return fmt.Errorf("%s: %+v, reconcile-once %q, reconcile-once-at %q; want suspended again, both annotations removed",
					app, st, a[v1alpha1.ReconcileOnceAnnotation], a[v1alpha1.ReconcileOnceAtAnnotation])
			}
			return nil
		}); err != nil {
			t.Fatalf("one-shot release %q: %v\nEvents:\n%s", reason, err, eventSummary(ctx, e, app))
		}
		if holders := heldBy(ctx, t, e, app); !holders[onceGuard] {
			t.Errorf("after the release %q the app's Kustomization is no longer held by %s (paused-by %v)", reason, onceGuard, holders)
		}
	}
	// wantEvent waits for exactly one Event of reason on the app's
	// Kustomization about the release asked with reason (quoted in the
	// message), naming who asked and every one of contains.
	wantEvent := func(t *testing.T, eventReason, reason string, contains ...string) {
		t.Helper()
		key := fmt.Sprintf("%q", reason)
		contains = append(contains, onceManager)
		if err := scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
			all, err := eventMessages(ctx, e, app.Namespace, "Kustomization", app.Name, eventReason)
			if err != nil {
				return err
			}
			var msgs []string
			for _, m := range all {
				if strings.Contains(m, key) {
					msgs = append(msgs, m)
				}
			}
			if len(msgs) != 1 {
				return fmt.Errorf("%s Events on %s about %s: %q, want one", eventReason, app, key, msgs)
			}
			for _, c := range contains {
				if !strings.Contains(msgs[0], c) {
					return fmt.Errorf("%s Event on %s: %q, want it to name %q", eventReason, app, msgs[0], c)
				}
			}
			return nil
		}); err != nil {
			t.Error(err)
		}
	}
	const firstTry, fix = "CVE-2026-0001 fix, first try", "CVE-2026-0001 fix"

	for _, ks := range []*unstructured.Unstructured{
		scenario.KustomizationFrom(app.Namespace, app.Name, "./reconcile-once/app", source),
		scenario.KustomizationFrom(control.Namespace, control.Name, "./reconcile-once/control", source),
	} {
		if err := e.Client.Create(ctx, ks); err != nil {
			t.Fatal(err)
		}
	}
	rev1 := publish(t, "1.0.0", false)
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, 2*time.Minute, func(st scenario.KustomizationState) bool {
		return st.Ready == "True" && st.LastAppliedRevision == rev1 && !st.Suspended
	}); err != nil {
		t.Fatal(err)
	}
	image1 := deploymentImage(ctx, t, e, deployment)
	if !strings.HasSuffix(image1, ":1.0.0") {
		t.Fatalf("deployment %s runs %q, want the image of version 1.0.0", deployment, image1)
	}

	// The recorder's watch sees every write to the app's Kustomization:
	// each suspend, resume and newly applied revision, in order.
	rec := recorder.New(recorder.Options{Namespaces: []string{onceNS}, Kustomizations: []string{app.String()}})
	watchCtx, stopWatch := context.WithCancel(ctx)
	t.Cleanup(stopWatch)
	if err := rec.Start(watchCtx, e.Cluster.RESTConfig()); err != nil {
		t.Fatal(err)
	}

	loadFreeze(ctx, t, e)
	startGuard(ctx, t, e, onceGuard, scenario.GuardSpec(selected, "0s", "2s"))
	releases, err := watchReleases(watchCtx, e, onceGuard)
	if err != nil {
		t.Fatal(err)
	}

	// The maintenance: the manual signal on the guard.
	setGuardAnnotation(ctx, t, e, onceGuard, signals.AnnotationManual, ptr.To("e2e: one-shot release"))
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, time.Minute, func(st scenario.KustomizationState) bool { return st.Suspended }); err != nil {
		t.Fatalf("the app's Kustomization not paused: %v", err)
	}
	if err := waitGuardPhase(ctx, e, onceGuard, v1alpha1.PhasePaused); err != nil {
		t.Fatal(err)
	}
	// The freeze is on: a pod template change to the Flux-managed
	// Deployment is denied (so the release below is admitted because it
	// is a release, not because nothing is frozen).
	if err := scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
		return frozen(ctx, e, deployment, image1)
	}); err != nil {
		t.Fatalf("change freeze not in force during the maintenance: %v", err)
	}

	// A fix is pushed, which fluxgate denies: the pause holds it back, and
	// a release fails and ends.
	rev2 := publish(t, "1.1.0", true)
	stillPaused(t, rev1, "1.0.0", "revision 2 published")
	releaseOnce(t, firstTry)
	wantEvent(t, v1alpha1.ReconcileOnceFailedReason, firstTry, "not Ready at revision "+rev2, "rollout-strategy")
	stillPaused(t, rev1, "1.0.0", "after the failed release")

	// The corrected fix goes through once.
	rev3 := publish(t, "1.1.0", false)
	stillPaused(t, rev1, "1.0.0", "revision 3 published")
	releaseOnce(t, fix)
	wantEvent(t, v1alpha1.ReconcileOnceSucceededReason, fix, "Ready at revision "+rev3)
	if st, err := e.GetKustomization(ctx, app); err != nil || st.LastAppliedRevision != rev3 || st.Ready != "True" {
		t.Errorf("after the release: the app's Kustomization is %+v (%v), want %s applied, Ready=True", st, err, rev3)
	}
	if got, want := deploymentImage(ctx, t, e, deployment), strings.Replace(image1, ":1.0.0", ":1.1.0", 1); got != want {
		t.Errorf("deployment %s after the release runs %q, want %q", deployment, got, want)
	}
	for _, reason := range []string{firstTry, fix} {
		wantEvent(t, v1alpha1.ReconcileOnceStartedReason, reason, "resumed for one reconcile while paused")
	}
	for _, r := range []string{v1alpha1.ReconcileOnceSucceededReason, v1alpha1.ReconcileOnceFailedReason} {
		if msgs, err := eventMessages(ctx, e, app.Namespace, "Kustomization", app.Name, r); err != nil || len(msgs) != 1 {
			t.Errorf("%s Events on %s: %q (%v), want exactly one", r, app, msgs, err)
		}
	}
	if seen := releases.seen(); strings.Join(seen, ",") != app.String()+","+app.String() {
		t.Errorf("guard status.releasing listed %q, want %s for each of the two releases", seen, app)
	}
	if err := waitGuardReleasing(ctx, e, onceGuard, 0); err != nil {
		t.Error(err)
	}

	// The next revision waits for the end of the maintenance.
	rev4 := publish(t, "1.2.0", false)
	stillPaused(t, rev3, "1.1.0", "revision 4 published")

	// The maintenance ends: after the settle period the app is resumed
	// and applies revision 4.
	setGuardAnnotation(ctx, t, e, onceGuard, signals.AnnotationManual, nil)
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, time.Minute, func(st scenario.KustomizationState) bool {
		return !st.Suspended && st.Ready == "True" && st.LastAppliedRevision == rev4
	}); err != nil {
		t.Fatalf("revision 4 not applied after the maintenance: %v", err)
	}
	if got := deploymentImage(ctx, t, e, deployment); !strings.HasSuffix(got, ":1.2.0") {
		t.Errorf("deployment %s after the maintenance runs %q, want version 1.2.0", deployment, got)
	}
	ks := scenario.NewKustomization()
	if err := e.Client.Get(ctx, app, ks); err != nil {
		t.Fatal(err)
	}
	for k, v := range ks.GetAnnotations() {
		if strings.HasPrefix(k, "fluxgate.dev/") || k == pause.FluxReconcileAnnotation {
			t.Errorf("resumed %s still has %s=%q", app, k, v)
		}
	}
	stopWatch()

	// The whole story of the app's Kustomization, as the watch saw it.
	got := story(rec.Timeline(), app, rev1, rev2, rev3, rev4)
	want := strings.Join([]string{
		"suspended",            // the maintenance
		"resumed", "suspended", // the failed release
		"resumed", "applied rev3", "suspended", // the release
		"resumed", "applied rev4", // the end of the maintenance
	}, ", ")
	if got != want {
		t.Errorf("the app's Kustomization went through\n  %s\nwant\n  %s", got, want)
	}
}

// story tells what the watch saw happen to one Kustomization: "suspended",
// "resumed" and "applied revN", N the position of the applied revision
// among revs, joined by commas.
func story(timeline []recorder.Event, key types.NamespacedName, revs ...string) string {
	var got []string
	for _, ev := range timeline {
		if ev.Object != key.String() {
			continue
		}
		switch ev.Kind {
		case recorder.KustomizationSuspended:
			got = append(got, "suspended")
		case recorder.KustomizationResumed:
			got = append(got, "resumed")
		case recorder.KustomizationApplied:
			got = append(got, "applied "+revisionName(ev.Revision, revs...))
		}
	}
	return strings.Join(got, ", ")
}

// revisionName names a revision of the scenario "rev1".."rev3".
func revisionName(rev string, revs ...string) string {
	for i, r := range revs {
		if r == rev {
			return fmt.Sprintf("rev%d", i+1)
		}
	}
	return rev
}

// loadFreeze loads the change-freeze policy's source as a live policy
// ConfigMap (see TestReconcileOnceThroughFlux), deleted at cleanup.
func loadFreeze(ctx context.Context, t *testing.T, e *scenario.Env) {
	t.Helper()
	root, err := testenv.RepoRoot()
	if err != nil {
		t.Fatal(err)
	}
	src, err := os.ReadFile(filepath.Join(root, "rego", "policies", "change_freeze", "change_freeze.rego"))
	if err != nil {
		t.Fatal(err)
	}
	rego := string(src)
	for _, r := range []struct{ old, new string }{
		{"#   id: change-freeze\n", "#   id: " + oncePolicy + "\n"},
		{"#   action: off\n", "#   action: deny\n"},
		{"package fluxgate.policies.change_freeze\n", "package e2e.policies.change_freeze\n"},
		// Only this scenario's namespace, should a later scenario run while
		// the ConfigMap is being deleted.
		{"deny contains msg if {\n", fmt.Sprintf("deny contains msg if {\n\tinput.request.namespace == %q\n", onceNS)},
	} {
		if !strings.Contains(rego, r.old) {
			t.Fatalf("change_freeze.rego no longer contains %q, which this scenario rewrites", r.old)
		}
		rego = strings.Replace(rego, r.old, r.new, 1)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{
			Name: oncePolicy, Namespace: e.Fluxgate.Namespace,
			Labels: map[string]string{"fluxgate.dev/policy": "true"},
		},
		Data: map[string]string{"change_freeze.rego": rego},
	}
	if err := e.Client.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := client.IgnoreNotFound(e.Client.Delete(context.Background(), cm)); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
}

// frozen returns nil when a server-side dry run changing the Deployment's
// image is denied by the change freeze.
func frozen(ctx context.Context, e *scenario.Env, key types.NamespacedName, image string) error {
	d := &appsv1.Deployment{}
	if err := e.Client.Get(ctx, key, d); err != nil {
		return err
	}
	base := d.DeepCopy()
	d.Spec.Template.Spec.Containers[0].Image = strings.Replace(image, ":1.0.0", ":by-hand", 1)
	err := e.Client.Patch(ctx, d, client.MergeFrom(base), client.DryRunAll)
	if err == nil {
		return fmt.Errorf("a pod template change to %s was admitted", key)
	}
	if !strings.Contains(err.Error(), "frozen while maintenance is active") {
		return fmt.Errorf("a pod template change to %s failed otherwise: %w", key, err)
	}
	return nil
}

// deploymentImage is the image of the Deployment's first container.
func deploymentImage(ctx context.Context, t *testing.T, e *scenario.Env, key types.NamespacedName) string {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := e.Client.Get(ctx, key, d); err != nil {
		t.Fatal(err)
	}
	return d.Spec.Template.Spec.Containers[0].Image
}

// heldBy returns the guards a Kustomization's paused-by annotation names.
func heldBy(ctx context.Context, t *testing.T, e *scenario.Env, key types.NamespacedName) map[string]bool {
	t.Helper()
	ks := scenario.NewKustomization()
	if err := e.Client.Get(ctx, key, ks); err != nil {
		t.Fatal(err)
	}
	out := map[string]bool{}
	for _, g := range pause.Holders(ks) {
		out[g] = true
	}
	return out
}

// eventMessages returns the messages of the Events of a reason regarding
// an object.
func eventMessages(ctx context.Context, e *scenario.Env, namespace, kind, name, reason string) ([]string, error) {
	events := &corev1.EventList{}
	if err := e.Client.List(ctx, events, client.InNamespace(namespace)); err != nil {
		return nil, fmt.Errorf("list Events of %s: %w", namespace, err)
	}
	var out []string
	for _, ev := range events.Items {
		if ev.Reason == reason && ev.InvolvedObject.Kind == kind && ev.InvolvedObject.Name == name {
			out = append(out, ev.Message)
		}
	}
	return out, nil
}

// eventSummary lists the reconcile-once Events on the Kustomization, for
// a failure message.
func eventSummary(ctx context.Context, e *scenario.Env, key types.NamespacedName) string {
	var out []string
	for _, reason := range []string{v1alpha1.ReconcileOnceStartedReason, v1alpha1.ReconcileOnceSucceededReason, v1alpha1.ReconcileOnceFailedReason} {
		msgs, _ := eventMessages(ctx, e, key.Namespace, "Kustomization", key.Name, reason)
		for _, m := range msgs {
			out = append(out, reason+": "+m)
		}
	}
	return strings.Join(out, "\n")
}

var guardResource = schema.GroupVersionResource{Group: "fluxgate.dev", Version: "v1alpha1", Resource: "maintenanceguards"}

// setGuardAnnotation sets (or, with nil, removes) an annotation of a
// MaintenanceGuard.
func setGuardAnnotation(ctx context.Context, t *testing.T, e *scenario.Env, name, key string, value *string) {
	t.Helper()
	g := &unstructured.Unstructured{}
	g.SetAPIVersion("fluxgate.dev/v1alpha1")
	g.SetKind("MaintenanceGuard")
	g.SetName(name)
	v := "null"
	if value != nil {
		v = fmt.Sprintf("%q", *value)
	}
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%s}}}`, key, v)
	if err := e.Client.Patch(ctx, g, client.RawPatch(types.MergePatchType, patch)); err != nil {
		t.Fatal(err)
	}
}

// getGuard reads a MaintenanceGuard.
func getGuard(ctx context.Context, e *scenario.Env, name string) (*unstructured.Unstructured, error) {
	g := &unstructured.Unstructured{}
	g.SetAPIVersion("fluxgate.dev/v1alpha1")
	g.SetKind("MaintenanceGuard")
	if err := e.Client.Get(ctx, types.NamespacedName{Name: name}, g); err != nil {
		return nil, fmt.Errorf("read MaintenanceGuard %s: %w", name, err)
	}
	return g, nil
}

// waitGuardPhase waits until a guard reports phase.
func waitGuardPhase(ctx context.Context, e *scenario.Env, name string, phase v1alpha1.Phase) error {
	return scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
		g, err := getGuard(ctx, e, name)
		if err != nil {
			return err
		}
		if got, _, _ := unstructured.NestedString(g.Object, "status", "phase"); got != string(phase) {
			return fmt.Errorf("MaintenanceGuard %s in phase %q, want %q", name, got, phase)
		}
		return nil
	})
}

// waitGuardReleasing waits until a guard's status.releasing lists n
// objects.
func waitGuardReleasing(ctx context.Context, e *scenario.Env, name string, n int) error {
	return scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
		g, err := getGuard(ctx, e, name)
		if err != nil {
			return err
		}
		if got, _, _ := unstructured.NestedSlice(g.Object, "status", "releasing"); len(got) != n {
			return fmt.Errorf("MaintenanceGuard %s status.releasing %v, want %d objects", name, got, n)
		}
		return nil
	})
}

// releaseLog keeps every object a guard's status.releasing listed, once
// per request (namespace/name@requestedAt), in order.
type releaseLog struct {
	mu   sync.Mutex
	keys []string
	ids  map[string]bool
}

func (l *releaseLog) add(g *unstructured.Unstructured) {
	items, _, _ := unstructured.NestedSlice(g.Object, "status", "releasing")
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, it := range items {
		m, _ := it.(map[string]any)
		if at, _ := m["requestedAt"].(string); at == "" {
			// Announced, not yet let through: the guard lists an object
			// before it un-suspends it, so the webhook knows first.
			continue
		}
		key := fmt.Sprintf("%v/%v", m["namespace"], m["name"])
		if id := fmt.Sprintf("%s@%v", key, m["requestedAt"]); !l.ids[id] {
			l.ids[id] = true
			l.keys = append(l.keys, key)
		}
	}
}

// seen returns the objects listed, one entry per one-shot request.
func (l *releaseLog) seen() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.keys...)
}

// watchReleases watches a guard until ctx ends and logs what its
// status.releasing lists.
func watchReleases(ctx context.Context, e *scenario.Env, name string) (*releaseLog, error) {
	dyn, err := dynamic.NewForConfig(e.Cluster.RESTConfig())
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	res := dyn.Resource(guardResource)
	opts := metav1.ListOptions{FieldSelector: "metadata.name=" + name}
	list, err := res.List(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("list MaintenanceGuards: %w", err)
	}
	l := &releaseLog{ids: map[string]bool{}}
	for i := range list.Items {
		l.add(&list.Items[i])
	}
	opts.ResourceVersion = list.GetResourceVersion()
	w, err := res.Watch(ctx, opts)
	if err != nil {
		return nil, fmt.Errorf("watch MaintenanceGuard %s: %w", name, err)
	}
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			if u, ok := ev.Object.(*unstructured.Unstructured); ok && (ev.Type == watch.Added || ev.Type == watch.Modified) {
				l.add(u)
			}
		}
	}()
	return l, nil
}
