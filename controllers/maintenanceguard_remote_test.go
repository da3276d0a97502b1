package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// targeting makes u apply to the cluster of the kubeconfig Secret secret,
// as Flux's spec.kubeConfig.secretRef does.
func targeting(t *testing.T, u *unstructured.Unstructured, secret string) {
	t.Helper()
	cur := get(t, u)
	base := cur.DeepCopy()
	if err := unstructured.SetNestedField(cur.Object, map[string]any{"secretRef": map[string]any{"name": secret}}, "spec", "kubeConfig"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Patch(context.Background(), cur, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

// Guards on the hub, one per workload cluster, each watch their cluster
// through the kubeconfig Secret its Kustomizations use: a cordon there
// pauses only the hub's Kustomizations that apply to that cluster, not
// those of the other cluster nor the hub's own; losing a workload
// cluster's API is reported and neither ends nor starts the pause.
func TestGuardOfARemoteCluster(t *testing.T) {
	ctx := context.Background()
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	workload := &envtest.Environment{BinaryAssetsDirectory: assets}
	wcfg, err := workload.Start()
	if err != nil {
		t.Fatalf("start the workload cluster: %v", err)
	}
	var stopOnce sync.Once
	stopWorkload := func() { stopOnce.Do(func() { _ = workload.Stop() }) }
	t.Cleanup(stopWorkload)
	wc, err := client.New(wcfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	second := &envtest.Environment{BinaryAssetsDirectory: assets}
	scfg, err := second.Start()
	if err != nil {
		t.Fatalf("start the staging cluster: %v", err)
	}
	t.Cleanup(func() { _ = second.Stop() })
	sc, err := client.New(scfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}

	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	for name, kubeconfig := range map[string][]byte{"prod-kubeconfig": workload.KubeConfig, "staging-kubeconfig": second.KubeConfig} {
		if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: map[string][]byte{"value": kubeconfig}}); err != nil {
			t.Fatal(err)
		}
	}
	prod := flux(t, pause.Kustomization, ns, "apps-prod", false)
	targeting(t, prod, "prod-kubeconfig")
	staging := flux(t, pause.Kustomization, ns, "apps-staging", false)
	targeting(t, staging, "staging-kubeconfig")
	hub := flux(t, pause.Kustomization, ns, "apps-hub", false)

	label := uniq("remote")
	g := guard(t, v1alpha1.MaintenanceGuardSpec{
		Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0),
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{SecretRef: &v1alpha1.SecretKeyReference{Namespace: ns, Name: "prod-kubeconfig"}}},
	})
	// A second guard, side by side, for the staging cluster.
	gs := guard(t, v1alpha1.MaintenanceGuardSpec{
		Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0),
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{SecretRef: &v1alpha1.SecretKeyReference{Namespace: ns, Name: "staging-kubeconfig"}}},
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "prod-node-1", Labels: map[string]string{"test": label}}}
	if err := wc.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	stagingNode := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "staging-node-1", Labels: map[string]string{"test": label}}}
	if err := sc.Create(ctx, stagingNode); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	waitPhase(t, gs, v1alpha1.PhaseIdle)
	reachable := func() *metav1.Condition {
		return apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.RemoteClusterReachableCondition)
	}
	if c := reachable(); c == nil || c.Status != metav1.ConditionTrue {
		t.Fatalf("RemoteClusterReachable %+v", c)
	}

	// A node of the workload cluster is cordoned: only what applies there
	// is paused.
	node.Spec.Unschedulable = true
	if err := wc.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhasePaused)
	waitPhase(t, gs, v1alpha1.PhaseIdle)
	if !suspended(t, prod) || suspended(t, staging) || suspended(t, hub) {
		t.Fatalf("suspended: prod %v, staging %v, hub %v; want prod only", suspended(t, prod), suspended(t, staging), suspended(t, hub))
	}
	// Then staging's own maintenance: its guard pauses its object.
	stagingNode.Spec.Unschedulable = true
	if err := sc.Update(ctx, stagingNode); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, gs, v1alpha1.PhasePaused)
	if !suspended(t, staging) || suspended(t, hub) {
		t.Fatalf("suspended: staging %v, hub %v; want staging", suspended(t, staging), suspended(t, hub))
	}
	stagingNode.Spec.Unschedulable = false
	if err := sc.Update(ctx, stagingNode); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, gs, v1alpha1.PhaseIdle)
	if suspended(t, staging) || !suspended(t, prod) {
		t.Fatalf("after staging's maintenance: staging suspended %v, prod %v; want staging resumed, prod still paused", suspended(t, staging), suspended(t, prod))
	}

	// The workload cluster's API goes away: reported, and the pause holds.
	stopWorkload()
	eventually(t, func() error {
		kick(t, g)
		if c := reachable(); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.RemoteClusterUnreachableReason {
			return fmt.Errorf("RemoteClusterReachable %+v", c)
		}
		return nil
	})
	clk.Add(time.Hour)
	kick(t, g)
	time.Sleep(time.Second)
	if st := status(t, g); st.Phase != v1alpha1.PhasePaused || !suspended(t, prod) {
		t.Fatalf("with the workload cluster unreachable: phase %s, prod suspended %v; want the pause kept", st.Phase, suspended(t, prod))
	}
	// Deleted while this test's manager runs, the guard's finalizer
	// resumes prod (it needs no remote cluster): otherwise the next test's
	// manager would, and count that write as its own.
	if err := k8s.Delete(ctx, g); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(g), &v1alpha1.MaintenanceGuard{}); !apierrors.IsNotFound(err) {
			return fmt.Errorf("guard %s still there: %v", g.Name, err)
		}
		return nil
	})
	if suspended(t, prod) {
		t.Fatal("prod still suspended after its guard was deleted")
	}
}

// On a hub with Cluster API, the guard of a workload cluster also pauses
// while that cluster's control plane rolls out a new version, read from
// the Cluster (named as the kubeconfig Secret) and its control plane
// object, with the Cluster API CRDs of its module.
func TestClusterAPIControlPlaneUpgradeSignal(t *testing.T) {
	ctx := context.Background()
	crds, err := testenv.IntegrationCRDs()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{Paths: []string{
		filepath.Join(crds, "cluster.x-k8s.io_clusters.yaml"),
		filepath.Join(crds, "controlplane.cluster.x-k8s.io_kubeadmcontrolplanes.yaml"),
	}, ErrorIfPathMissing: true}); err != nil {
		t.Fatal(err)
	}
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	workload := &envtest.Environment{BinaryAssetsDirectory: assets}
	if _, err := workload.Start(); err != nil {
		t.Fatalf("start the workload cluster: %v", err)
	}
	t.Cleanup(func() { _ = workload.Stop() })

	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	if err := k8s.Create(ctx, &corev1.Secret{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "prod-eu-kubeconfig"}, Data: map[string][]byte{"value": workload.KubeConfig}}); err != nil {
		t.Fatal(err)
	}
	prod := flux(t, pause.Kustomization, ns, "apps-prod-eu", false)
	targeting(t, prod, "prod-eu-kubeconfig")

	kcp := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "controlplane.cluster.x-k8s.io/v1beta2", "kind": "KubeadmControlPlane",
		"metadata": map[string]any{"namespace": ns, "name": "prod-eu-cp"},
		"spec": map[string]any{"version": "v1.35.4", "machineTemplate": map[string]any{"spec": map[string]any{
			"infrastructureRef": map[string]any{"apiGroup": "infrastructure.cluster.x-k8s.io", "kind": "DockerMachineTemplate", "name": "prod-eu-cp"}}}},
	}}
	if err := k8s.Create(ctx, kcp); err != nil {
		t.Fatal(err)
	}
	setVersion := func(status string) {
		t.Helper()
		kcp.Object["status"] = map[string]any{"version": status}
		if err := k8s.Status().Update(ctx, kcp); err != nil {
			t.Fatal(err)
		}
	}
	setVersion("v1.35.4")
	cluster := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "cluster.x-k8s.io/v1beta2", "kind": "Cluster",
		"metadata": map[string]any{"namespace": ns, "name": "prod-eu"},
		"spec":     map[string]any{"controlPlaneRef": map[string]any{"apiGroup": "controlplane.cluster.x-k8s.io", "kind": "KubeadmControlPlane", "name": "prod-eu-cp"}},
	}}
	if err := k8s.Create(ctx, cluster); err != nil {
		t.Fatal(err)
	}
	// Nodes off: only the Cluster API signal can pause.
	g := guard(t, v1alpha1.MaintenanceGuardSpec{
		Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(0),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}},
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{SecretRef: &v1alpha1.SecretKeyReference{Namespace: ns, Name: "prod-eu-kubeconfig"}}},
	})
	waitPhase(t, g, v1alpha1.PhaseIdle)

	// The control plane is asked for v1.36.3: a rollout until every
	// machine runs it.
	cur := get(t, kcp)
	_ = unstructured.SetNestedField(cur.Object, "v1.36.3", "spec", "version")
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	kcp = cur
	waitPhase(t, g, v1alpha1.PhasePaused)
	if st := status(t, g); st.ActiveSignalNames != "ControlPlaneUpgrade" || !strings.Contains(st.ActiveSignals[0].Detail, "control plane rolling out v1.36.3, machines at v1.35.4") || !suspended(t, prod) {
		t.Fatalf("status %+v, prod suspended %v", st, suspended(t, prod))
	}
	setVersion("v1.36.3")
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, prod) {
		t.Fatal("not resumed once every control plane machine runs v1.36.3")
	}
}
