package controllers

import (
	"context"
	"fmt"
	"sync"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
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

// A guard on the hub watches a workload cluster through the kubeconfig
// Secret its Kustomizations use: a cordon there pauses only the hub's
// Kustomizations that apply to that cluster, not those of another
// cluster nor the hub's own; losing the workload cluster's API is
// reported and neither ends nor starts the pause.
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

	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	for name, kubeconfig := range map[string][]byte{"prod-kubeconfig": workload.KubeConfig, "staging-kubeconfig": []byte("not a kubeconfig")} {
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
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{SecretRef: v1alpha1.SecretKeyReference{Namespace: ns, Name: "prod-kubeconfig"}}},
	})
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "prod-node-1", Labels: map[string]string{"test": label}}}
	if err := wc.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
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
	if !suspended(t, prod) || suspended(t, staging) || suspended(t, hub) {
		t.Fatalf("suspended: prod %v, staging %v, hub %v; want prod only", suspended(t, prod), suspended(t, staging), suspended(t, hub))
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
}
