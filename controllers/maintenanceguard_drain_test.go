package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
)

// A cordoned node whose pod a budget allowing no disruption holds raises
// DrainBlocked, naming the node, the budget with its counts and the pod,
// with a Warning Event on the guard and on the budget; once the budget
// allows a disruption the condition clears. (envtest runs no disruption
// controller: the test writes the budget's status as it would.)
func TestDrainBlockedNamesTheBudget(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	label := uniq("drain")
	node := labelledNode(t, label)
	ns := namespace(t, nil)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0)})

	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart-1", Labels: map[string]string{"app": "cart"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "cart-6d4f", UID: "0a7c-rs", Controller: ptrTo(true)}}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "cart", Image: "example/cart:1"}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	zero := intstr.FromInt32(0)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "cart"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &zero, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "cart"}}},
	}
	if err := k8s.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	setBudgetStatus := func(allowed int32) {
		t.Helper()
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: allowed,
			CurrentHealthy: 1, DesiredHealthy: 1 - allowed, ExpectedPods: 1}
		if err := k8s.Status().Update(ctx, pdb); err != nil {
			t.Fatal(err)
		}
	}
	setBudgetStatus(0)

	drainBlocked := func() *metav1.Condition {
		return apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.DrainBlockedCondition)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if c := drainBlocked(); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.NoCordonedNodesReason {
		t.Fatalf("before the cordon: DrainBlocked %+v", c)
	}
	cordon(t, node, true)
	waitPhase(t, g, v1alpha1.PhasePaused)
	eventually(t, func() error {
		kick(t, g)
		c := drainBlocked()
		if c == nil || c.Status != metav1.ConditionTrue {
			return fmt.Errorf("DrainBlocked %+v", c)
		}
		for _, want := range []string{"node " + node, "budget " + ns + "/cart allows no disruption", "disruptions allowed 0", "pods: " + ns + "/cart-1"} {
			if !strings.Contains(c.Message, want) {
				return fmt.Errorf("DrainBlocked message %q lacks %q", c.Message, want)
			}
		}
		return nil
	})
	eventually(t, func() error {
		onGuard, onBudget := false, false
		for _, e := range guardEvents(t, g.Name) {
			onGuard = onGuard || (e.Reason == v1alpha1.DrainBlockedCondition && e.Type == corev1.EventTypeWarning)
		}
		for _, e := range eventsFor(t, ns, "cart") {
			onBudget = onBudget || (e.Reason == v1alpha1.DrainBlockedCondition && e.InvolvedObject.Kind == "PodDisruptionBudget" &&
				strings.Contains(e.Message, "node "+node) && strings.Contains(e.Message, g.Name))
		}
		if !onGuard || !onBudget {
			return fmt.Errorf("DrainBlocked Events: on the guard %v, on the budget %v", onGuard, onBudget)
		}
		return nil
	})

	// The budget is fixed: one disruption allowed.
	one := intstr.FromInt32(1)
	pdb.Spec.MaxUnavailable = &one
	if err := k8s.Update(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	setBudgetStatus(1)
	eventually(t, func() error {
		kick(t, g)
		if c := drainBlocked(); c == nil || c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.DrainsCanCompleteReason {
			return fmt.Errorf("DrainBlocked %+v", c)
		}
		return nil
	})
	cordon(t, node, false)
	waitPhase(t, g, v1alpha1.PhaseIdle)
}

// In every drain, a budget allowing one disruption refuses the next
// eviction until the replacement of the last one is ready: that is a
// drain waiting, not a blocked one. It counts as blocked only once it has
// refused for drainPatience.
func TestDrainWaitingForReplacementsIsNotBlocked(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	label := uniq("wait")
	node := labelledNode(t, label)
	ns := namespace(t, nil)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0)})
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api-1", Labels: map[string]string{"app": "api"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "api-7c9d", UID: "0b8d-rs", Controller: ptrTo(true)}}},
		Spec: corev1.PodSpec{NodeName: node, Containers: []corev1.Container{{Name: "api", Image: "example/api:1"}}},
	}
	if err := k8s.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := k8s.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	one := intstr.FromInt32(1)
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "api"},
		Spec:       policyv1.PodDisruptionBudgetSpec{MaxUnavailable: &one, Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "api"}}},
	}
	if err := k8s.Create(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	// Two pods expected, one evicted a moment ago and its replacement not
	// ready yet: healthy 1, desired 1, no disruption allowed now.
	pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, DisruptionsAllowed: 0, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2}
	if err := k8s.Status().Update(ctx, pdb); err != nil {
		t.Fatal(err)
	}
	drainBlocked := func() *metav1.Condition {
		return apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.DrainBlockedCondition)
	}
	cordon(t, node, true)
	t.Cleanup(func() { cordon(t, node, false) })
	waitPhase(t, g, v1alpha1.PhasePaused)
	eventually(t, func() error {
		kick(t, g)
		if c := drainBlocked(); c == nil || c.Status != metav1.ConditionFalse || !strings.Contains(c.Message, "wait for replacement pods") {
			return fmt.Errorf("DrainBlocked %+v", c)
		}
		return nil
	})
	clk.Add(drainPatience + time.Second)
	eventually(t, func() error {
		kick(t, g)
		if c := drainBlocked(); c == nil || c.Status != metav1.ConditionTrue || !strings.Contains(c.Message, "budget "+ns+"/api allows no disruption") {
			return fmt.Errorf("DrainBlocked %+v", c)
		}
		return nil
	})
}
