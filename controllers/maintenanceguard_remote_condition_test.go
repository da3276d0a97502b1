package controllers

import (
	"context"
	"fmt"
	"testing"
	"time"

	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
)

// A guard whose spec.cluster is removed watches its own cluster again:
// the RemoteClusterReachable condition of the remote it no longer watches
// goes away instead of staying as it was last set.
func TestRemoteConditionRemovedWithSpecCluster(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{
		Targets: onlyNamespace(ns), Signals: nodeSignal(uniq("remote-cond")), Debounce: dur(0), Settle: dur(0),
		// No such Secret: the remote cannot be read.
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{SecretRef: &v1alpha1.SecretKeyReference{Namespace: ns, Name: "missing-kubeconfig"}}},
	})
	reachable := func() *metav1.Condition {
		return apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.RemoteClusterReachableCondition)
	}
	eventually(t, func() error {
		kick(t, g)
		if c := reachable(); c == nil || c.Status != metav1.ConditionFalse {
			return fmt.Errorf("RemoteClusterReachable %+v, want False", c)
		}
		return nil
	})

	cur := &v1alpha1.MaintenanceGuard{}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(g), cur); err != nil {
		t.Fatal(err)
	}
	cur.Spec.Cluster = nil
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		kick(t, g)
		if c := reachable(); c != nil {
			return fmt.Errorf("without spec.cluster: RemoteClusterReachable %+v, want no such condition", c)
		}
		return nil
	})
}
