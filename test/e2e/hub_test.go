package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/test/e2e/cluster"
	"github.com/fluxgate/fluxgate/test/e2e/gitsource"
	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// The hub scenario. The shared environment's cluster is the hub: its
// kustomize-controller and fluxgate apply to, and guard, a second
// simulated cluster, the workload cluster, through a kubeconfig Secret in
// hubNamespace (created before fluxgate is installed, which may read its
// Secrets: maintenanceGuard.kubeConfigSecretNamespaces in main_test.go).
// The scenario leaves the namespace and removes everything it put in it.
const (
	hubNamespace = "e2e-hub"
	hubGuard     = "e2e-hub-workload"
	hubArtifact  = "hub"
	// workloadSecret holds the workload cluster's kubeconfig; hubSecret
	// one of the hub itself, standing for another cluster of the fleet.
	workloadSecret = "workload-kubeconfig"
	hubSecret      = "hub-kubeconfig"
	// workloadAppNS is the app's namespace in the workload cluster.
	workloadAppNS = "e2e-hub-app"
	workloadApp   = "web"
)

// hubFiles renders the scenario's folders at version: the app the
// workload cluster runs (a compliant Deployment of 2 replicas and its
// PDB, in its namespace), and a ConfigMap each for the two other targets,
// applied in the hub: one through the hub's own kubeconfig Secret, one
// without spec.kubeConfig.
func hubFiles(version string) map[string]string {
	marker := func(name string) string {
		return fmt.Sprintf("apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: %s\n  namespace: %s\ndata:\n  version: %q\n",
			name, hubNamespace, version)
	}
	return map[string]string{
		"hub/workload/namespace.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", workloadAppNS),
		"hub/workload/web.yaml":       scenario.AppManifest(workloadAppNS, scenario.App{Name: workloadApp, Replicas: 2}, version),
		"hub/other/marker.yaml":       marker("other-cluster-marker"),
		"hub/local/marker.yaml":       marker("local-marker"),
	}
}

// TestHubPausesOneCluster runs a second simulated cluster (etcd,
// kube-apiserver, kube-controller-manager, kube-scheduler, kwok with 2
// nodes) as the workload cluster of the shared environment, the hub. On
// the hub, three Kustomizations read one source: "workload" applies the
// app to the workload cluster (spec.kubeConfig.secretRef names its
// kubeconfig Secret), "other-cluster" applies to another cluster (a
// Secret holding the hub's own kubeconfig), "local" to the hub. A
// MaintenanceGuard whose spec.cluster names the workload Secret watches
// the workload cluster. Draining a node there:
//
//   - pauses "workload" only (held by the guard), the guard Paused with
//     RemoteClusterReachable=True;
//   - a revision pushed meanwhile is applied by "other-cluster" and
//     "local", not by "workload": the workload cluster keeps the old
//     image;
//   - the uncordon resumes "workload" after the settle period, and the
//     new revision rolls out in the workload cluster.
//
// A watch of the hub's Kustomizations checks the whole story: the other
// two are never suspended. The guard polls the workload cluster (every
// 30 s), so the pause and the resume each wait for a poll.
func TestHubPausesOneCluster(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()

	// The workload cluster; stopped last, after the hub's objects that
	// apply to it are deleted (their finalizers prune it).
	workload, err := cluster.Start(ctx, cluster.Options{
		Nodes: 2, Dir: filepath.Join(t.TempDir(), "workload"), Log: cluster.TestLog(t),
	})
	if err != nil {
		t.Fatalf("start the workload cluster: %v", err)
	}
	t.Cleanup(workload.Stop)
	t.Cleanup(func() {
		if err := cleanupHub(context.Background(), e); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	// The kubeconfig Secrets, as Flux reads them (key "value"). Both
	// clusters are local processes: 127.0.0.1 reaches them from the
	// hub's kustomize-controller and fluxgate alike.
	for name, kubeconfig := range map[string]string{workloadSecret: workload.Kubeconfig, hubSecret: e.Cluster.Kubeconfig} {
		data, err := os.ReadFile(kubeconfig)
		if err != nil {
			t.Fatal(err)
		}
		secret := &corev1.Secret{
			ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: name},
			Data:       map[string][]byte{"value": data},
		}
		if err := e.Client.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}
	}

	source := types.NamespacedName{Namespace: hubNamespace, Name: hubArtifact}
	app := types.NamespacedName{Namespace: hubNamespace, Name: "workload"}
	other := types.NamespacedName{Namespace: hubNamespace, Name: "other-cluster"}
	local := types.NamespacedName{Namespace: hubNamespace, Name: "local"}
	deployment := types.NamespacedName{Namespace: workloadAppNS, Name: workloadApp}
	for _, k := range []struct {
		key        types.NamespacedName
		path, kcfg string
	}{{app, "./hub/workload", workloadSecret}, {other, "./hub/other", hubSecret}, {local, "./hub/local", ""}} {
		ks := scenario.KustomizationFrom(k.key.Namespace, k.key.Name, k.path, source)
		if k.kcfg != "" {
			ks.Object["spec"].(map[string]any)["kubeConfig"] = map[string]any{
				"secretRef": map[string]any{"name": k.kcfg, "key": "value"},
			}
		}
		if err := e.Client.Create(ctx, ks); err != nil {
			t.Fatal(err)
		}
	}
	publish := publisher(ctx, e, source, "hub", hubFiles)

	rev1 := publish(t, "1.0.0")
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app, other, local}, 2*time.Minute, applied(rev1)); err != nil {
		t.Fatalf("revision 1 not applied: %v", err)
	}
	if err := waitWorkloadRollout(ctx, workload, deployment, "1.0.0"); err != nil {
		t.Fatalf("the workload cluster: %v", err)
	}
	checkMarkers(ctx, t, e, "1.0.0")

	// Every write to the hub's three Kustomizations, from here on.
	rec := recorder.New(recorder.Options{Namespaces: []string{hubNamespace},
		Kustomizations: []string{app.String(), other.String(), local.String()}})
	watchCtx, stopWatch := context.WithCancel(ctx)
	t.Cleanup(stopWatch)
	if err := rec.Start(watchCtx, e.Cluster.RESTConfig()); err != nil {
		t.Fatal(err)
	}

	startHubGuard(ctx, t, e, hubGuard, map[string]any{
		"secretRef": map[string]any{"namespace": hubNamespace, "name": workloadSecret},
	})

	// The maintenance of the workload cluster: node-1 cordoned and
	// drained (its app pods move to node-2). The guard sees it at its
	// next poll.
	node := drainUntilPaused(ctx, t, e, workload, hubGuard, app)
	for _, k := range []types.NamespacedName{other, local} {
		if holders := heldBy(ctx, t, e, k); len(holders) != 0 {
			t.Errorf("%s, which does not apply to the workload cluster, is held by %v", k, holders)
		}
	}
	for _, n := range e.Cluster.Nodes {
		hn := &corev1.Node{}
		if err := e.Client.Get(ctx, types.NamespacedName{Name: n}, hn); err != nil || hn.Spec.Unschedulable {
			t.Errorf("hub node %s: cordoned %v (%v); the maintenance is the workload cluster's", n, hn.Spec.Unschedulable, err)
		}
	}

	// A revision pushed during the maintenance: the other two apply it,
	// the workload cluster keeps revision 1.
	rev2 := publish(t, "1.1.0")
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{other, local}, time.Minute, applied(rev2)); err != nil {
		t.Fatalf("the Kustomizations of the other clusters stopped applying: %v", err)
	}
	checkMarkers(ctx, t, e, "1.1.0")
	checkHeld(ctx, t, e, workload, app, rev1, deployment, "1.0.0")
	if err := guardReachable(ctx, e, hubGuard); err != nil {
		t.Error(err)
	}

	// The end of the maintenance: at the next poll and after the settle
	// period, the workload cluster gets revision 2.
	uncordonUntilApplied(ctx, t, e, workload, node, app, rev2, deployment, "1.1.0")
	if err := waitGuardPhase(ctx, e, hubGuard, v1alpha1.PhaseIdle); err != nil {
		t.Error(err)
	}
	ks := scenario.NewKustomization()
	if err := e.Client.Get(ctx, app, ks); err != nil {
		t.Fatal(err)
	}
	for k, v := range ks.GetAnnotations() {
		if strings.HasPrefix(k, "fluxgate.dev/") {
			t.Errorf("resumed %s still has %s=%q", app, k, v)
		}
	}
	stopWatch()

	// The story of each Kustomization, as the watch saw it.
	for key, want := range map[types.NamespacedName]string{
		app:   "suspended, resumed, applied rev2",
		other: "applied rev2",
		local: "applied rev2",
	} {
		if got := story(rec.Timeline(), key, rev1, rev2); got != want {
			t.Errorf("%s went through %q, want %q", key, got, want)
		}
	}
}

// applied is true of a Kustomization that is not suspended and has
// applied rev.
// publisher returns a function that commits files(version) over the
// repository, with a message naming what and the version, publishes the
// commit as the source and returns its revision.
func publisher(ctx context.Context, e *scenario.Env, source types.NamespacedName, what string, files func(version string) map[string]string) func(t *testing.T, version string) string {
	return func(t *testing.T, version string) string {
		t.Helper()
		rev, err := e.Repo.CommitOverlay(files(version), what+": "+version)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Source.Publish(ctx, e.Client, source.Namespace, source.Name, rev); err != nil {
			t.Fatal(err)
		}
		return rev
	}
}

func applied(rev string) func(scenario.KustomizationState) bool {
	return func(st scenario.KustomizationState) bool {
		return !st.Suspended && st.Ready == "True" && st.LastAppliedRevision == rev
	}
}

// startHubGuard starts a guard watching hubNamespace's Kustomizations
// that reaches a workload cluster through kubeConfig (its
// spec.cluster.kubeConfig), and waits until it reaches it and is idle.
func startHubGuard(ctx context.Context, t *testing.T, e *scenario.Env, name string, kubeConfig map[string]any) {
	t.Helper()
	spec := scenario.GuardSpec(map[string]string{"kubernetes.io/metadata.name": hubNamespace}, "1s", "3s")
	spec["cluster"] = map[string]any{"kubeConfig": kubeConfig}
	startGuard(ctx, t, e, name, spec)
	if err := waitRemoteReachable(ctx, e, name); err != nil {
		t.Fatal(err)
	}
	if err := waitGuardPhase(ctx, e, name, v1alpha1.PhaseIdle); err != nil {
		t.Fatal(err)
	}
}

// drainUntilPaused drains the first node of the workload cluster (and
// uncordons it at cleanup), waits until the guard, at its next poll, has
// paused app and holds it alone, and returns the node.
func drainUntilPaused(ctx context.Context, t *testing.T, e *scenario.Env, workload *cluster.Cluster, guard string, app types.NamespacedName) string {
	t.Helper()
	node := workload.Nodes[0]
	t.Cleanup(func() {
		if err := workload.Uncordon(context.Background(), node); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	drained := time.Now()
	drainCtx, cancelDrain := context.WithTimeout(ctx, time.Minute)
	err := workload.Drain(drainCtx, node)
	cancelDrain()
	if err != nil {
		t.Fatalf("drain %s of the workload cluster: %v", node, err)
	}
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, 75*time.Second, func(st scenario.KustomizationState) bool {
		return st.Suspended
	}); err != nil {
		t.Fatalf("%s not paused after the drain of %s of the workload cluster: %v", app, node, err)
	}
	t.Logf("%s paused %.1fs after the drain of %s began (poll 30s, debounce 1s)", app, time.Since(drained).Seconds(), node)
	if err := waitGuardPhase(ctx, e, guard, v1alpha1.PhasePaused); err != nil {
		t.Fatal(err)
	}
	if holders := heldBy(ctx, t, e, app); len(holders) != 1 || !holders[guard] {
		t.Errorf("%s is held by %v, want %s alone", app, holders, guard)
	}
	return node
}

// checkHeld checks, after a new revision was published, that app is still
// suspended at revision rev and the workload cluster's deployment still
// runs version.
func checkHeld(ctx context.Context, t *testing.T, e *scenario.Env, workload *cluster.Cluster, app types.NamespacedName, rev string, deployment types.NamespacedName, version string) {
	t.Helper()
	if st, err := e.GetKustomization(ctx, app); err != nil || !st.Suspended || st.LastAppliedRevision != rev {
		t.Errorf("a new revision published: %s is %+v (%v), want suspended at %s", app, st, err, rev)
	}
	if img, err := workloadImage(ctx, workload, deployment); err != nil || !strings.HasSuffix(img, ":"+version) {
		t.Errorf("a new revision published during the maintenance: the workload cluster runs %q (%v), want version %s", img, err, version)
	}
}

// uncordonUntilApplied ends the workload cluster's maintenance and waits
// until app, resumed at the guard's next poll after the settle period,
// applies rev and the workload cluster's deployment runs version.
func uncordonUntilApplied(ctx context.Context, t *testing.T, e *scenario.Env, workload *cluster.Cluster, node string, app types.NamespacedName, rev string, deployment types.NamespacedName, version string) {
	t.Helper()
	if err := workload.Uncordon(ctx, node); err != nil {
		t.Fatal(err)
	}
	uncordoned := time.Now()
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, 90*time.Second, applied(rev)); err != nil {
		t.Fatalf("%s not applied to the workload cluster after the uncordon: %v", rev, err)
	}
	t.Logf("%s resumed and %s applied %.1fs after the uncordon (poll 30s, settle 3s)", app, rev, time.Since(uncordoned).Seconds())
	if err := waitWorkloadRollout(ctx, workload, deployment, version); err != nil {
		t.Errorf("the workload cluster after the maintenance: %v", err)
	}
}

// waitRemoteReachable waits until a guard reports RemoteClusterReachable
// True.
func waitRemoteReachable(ctx context.Context, e *scenario.Env, name string) error {
	return scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
		return guardReachable(ctx, e, name)
	})
}

// guardReachable returns nil if a guard's RemoteClusterReachable
// condition is True.
func guardReachable(ctx context.Context, e *scenario.Env, name string) error {
	g, err := getGuard(ctx, e, name)
	if err != nil {
		return err
	}
	conds, _, _ := unstructured.NestedSlice(g.Object, "status", "conditions")
	for _, c := range conds {
		if c, ok := c.(map[string]any); ok && c["type"] == v1alpha1.RemoteClusterReachableCondition {
			if c["status"] != string(metav1.ConditionTrue) {
				return fmt.Errorf("MaintenanceGuard %s: %s=%v (%v) %v", name, c["type"], c["status"], c["reason"], c["message"])
			}
			return nil
		}
	}
	return fmt.Errorf("MaintenanceGuard %s has no condition %s", name, v1alpha1.RemoteClusterReachableCondition)
}

// workloadImage returns the image of a Deployment of the workload cluster.
func workloadImage(ctx context.Context, c *cluster.Cluster, key types.NamespacedName) (string, error) {
	d, err := c.Client.AppsV1().Deployments(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
	if err != nil {
		return "", err
	}
	return d.Spec.Template.Spec.Containers[0].Image, nil
}

// waitWorkloadRollout waits until a Deployment of the workload cluster
// runs the image of version on every replica, all of them ready.
func waitWorkloadRollout(ctx context.Context, c *cluster.Cluster, key types.NamespacedName, version string) error {
	return scenario.Poll(ctx, time.Minute, func(ctx context.Context) error {
		d, err := c.Client.AppsV1().Deployments(key.Namespace).Get(ctx, key.Name, metav1.GetOptions{})
		if err != nil {
			return err
		}
		if img := d.Spec.Template.Spec.Containers[0].Image; !strings.HasSuffix(img, ":"+version) {
			return fmt.Errorf("deployment %s runs %q, want version %s", key, img, version)
		}
		if !rolledOut(d) {
			return fmt.Errorf("deployment %s not rolled out: %+v", key, d.Status)
		}
		return nil
	})
}

// rolledOut reports whether every replica of d runs its current template
// and is ready.
func rolledOut(d *appsv1.Deployment) bool {
	want := int32(1)
	if d.Spec.Replicas != nil {
		want = *d.Spec.Replicas
	}
	s := d.Status
	return s.ObservedGeneration >= d.Generation && s.UpdatedReplicas == want && s.ReadyReplicas == want && s.Replicas == want
}

// checkMarkers checks that the hub's two markers say version.
func checkMarkers(ctx context.Context, t *testing.T, e *scenario.Env, version string) {
	t.Helper()
	for _, name := range []string{"other-cluster-marker", "local-marker"} {
		cm := &corev1.ConfigMap{}
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: hubNamespace, Name: name}, cm); err != nil || cm.Data["version"] != version {
			t.Errorf("ConfigMap %s/%s says %q (%v), want %s", hubNamespace, name, cm.Data["version"], err, version)
		}
	}
}

// cleanupHub removes what the scenario put in hubNamespace (see
// cleanupHubScenario): its three Kustomizations, its source and the
// kubeconfig Secrets.
func cleanupHub(ctx context.Context, e *scenario.Env) error {
	return cleanupHubScenario(ctx, e, []string{"workload", "other-cluster", "local"}, hubArtifact,
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: workloadSecret}},
		&corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: hubSecret}})
}

// cleanupHubScenario removes what a hub scenario put in hubNamespace,
// leaving the namespace (fluxgate's Roles to read its Secrets and
// ConfigMaps live there): the Kustomizations first, which prune what they
// applied (in the workload cluster too), then, once they are gone, the
// source artifact and the rest.
func cleanupHubScenario(ctx context.Context, e *scenario.Env, kustomizations []string, artifact string, rest ...client.Object) error {
	for _, name := range kustomizations {
		ks := scenario.NewKustomization()
		ks.SetNamespace(hubNamespace)
		ks.SetName(name)
		if err := client.IgnoreNotFound(e.Client.Delete(ctx, ks)); err != nil {
			return err
		}
	}
	if err := scenario.Poll(ctx, 2*time.Minute, func(ctx context.Context) error {
		for _, name := range kustomizations {
			key := types.NamespacedName{Namespace: hubNamespace, Name: name}
			if err := e.Client.Get(ctx, key, scenario.NewKustomization()); !apierrors.IsNotFound(err) {
				return fmt.Errorf("Kustomization %s still there: %v", key, err)
			}
		}
		return nil
	}); err != nil {
		return err
	}
	art := &unstructured.Unstructured{}
	art.SetGroupVersionKind(gitsource.ExternalArtifactGVK)
	art.SetNamespace(hubNamespace)
	art.SetName(artifact)
	for _, obj := range append([]client.Object{art}, rest...) {
		if err := client.IgnoreNotFound(e.Client.Delete(ctx, obj)); err != nil {
			return err
		}
	}
	return nil
}
