package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// TestDrainBlockedNamedAndCleared drains a node running a pod of an app
// whose budget allows no disruption (maxUnavailable 0, exempted from
// pdb-drain-safe with a reason), with the status kube-controller-manager
// computes: the Eviction API refuses with 429, and the guard's
// DrainBlocked condition, a Warning Event on the guard and one on the
// budget name the node, the budget with its counts and the pod;
// `fluxgate drain-plan` says the same. Once the budget allows one
// disruption the drain completes and the condition clears. The scenario
// uncordons the node and deletes its guard and namespace.
func TestDrainBlockedNamedAndCleared(t *testing.T) {
	e := requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	story := &strings.Builder{}
	res, err := scenario.DrainBlocked(ctx, e, scenario.DrainBlockedOptions{Namespace: "e2e-drain-blocked", Narrate: story})
	t.Log("\n" + story.String())
	if err != nil {
		t.Fatal(err)
	}

	if c := res.Before; c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.NoCordonedNodesReason {
		t.Errorf("before the drain: DrainBlocked=%s (%s) %q, want False (%s)", c.Status, c.Reason, c.Message, v1alpha1.NoCordonedNodesReason)
	}
	if res.RefusalCode != 429 {
		t.Errorf("while held, the Eviction API answered %d %q, want 429", res.RefusalCode, res.RefusalMessage)
	}
	if res.DrainedWhileHeld || !res.Drained {
		t.Errorf("drained while held %v, drained after the fix %v; want false, true", res.DrainedWhileHeld, res.Drained)
	}

	// What the condition, the Events and drain-plan must name.
	wants := []string{
		"budget " + res.Budget + " allows no disruption (429)",
		"healthy 2, desired healthy 2, expected 2, disruptions allowed 0",
	}
	wants = append(wants, res.Pods...)
	c := res.Blocked
	if c.Status != metav1.ConditionTrue || c.Reason != v1alpha1.EvictionRefusedReason {
		t.Errorf("while held: DrainBlocked=%s (%s), want True (%s)", c.Status, c.Reason, v1alpha1.EvictionRefusedReason)
	}
	for _, want := range append([]string{"node " + res.Node + ": "}, wants...) {
		if !strings.Contains(c.Message, want) {
			t.Errorf("DrainBlocked message %q lacks %q", c.Message, want)
		}
	}
	if !containsAll(res.GuardEvents, append([]string{"node " + res.Node + ": "}, wants...)) {
		t.Errorf("no Warning Event DrainBlocked on the guard names %q: %q", wants, res.GuardEvents)
	}
	budgetWants := append([]string{"holds the drain of node " + res.Node + " (MaintenanceGuard " + res.Guard + ")"}, wants...)
	if !containsAll(res.BudgetEvents, budgetWants) {
		t.Errorf("no Warning Event DrainBlocked on the budget names %q: %q", budgetWants, res.BudgetEvents)
	}
	if res.DrainPlanExit != 1 || !strings.Contains(res.DrainPlan, res.Budget) {
		t.Errorf("fluxgate drain-plan %s exited %d, want 1 naming %s:\n%s", res.Node, res.DrainPlanExit, res.Budget, res.DrainPlan)
	}
	if lines := strings.Split(res.GuardTable, "\n"); len(lines) != 2 || !strings.Contains(lines[0], "DRAIN BLOCKED") || !strings.Contains(lines[1], "True") {
		t.Errorf("kubectl get maintenanceguard shows no Drain Blocked True column:\n%s", res.GuardTable)
	}

	if c := res.Cleared; c.Status != metav1.ConditionFalse || c.Reason != v1alpha1.DrainsCanCompleteReason {
		t.Errorf("after the fix: DrainBlocked=%s (%s) %q, want False (%s)", c.Status, c.Reason, c.Message, v1alpha1.DrainsCanCompleteReason)
	}
}

// containsAll reports whether one of messages contains every one of wants.
func containsAll(messages, wants []string) bool {
	for _, m := range messages {
		all := true
		for _, w := range wants {
			all = all && strings.Contains(m, w)
		}
		if all {
			return true
		}
	}
	return false
}
