package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/drainplan"
)

// TestDrainPlanCommand runs fluxgate drain-plan against a real API server
// (envtest; the test writes the budget's status) and checks its exit
// status and output: 0 while the node can be drained, 1 once a budget
// allows no disruption, 2 for usage and cluster errors.
func TestDrainPlanCommand(t *testing.T) {
	cfg, kubeconfig := startAPIServer(t)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "n1"}}); err != nil {
		t.Fatal(err)
	}
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: "default", Name: "web-1", Labels: map[string]string{"app": "web"},
			OwnerReferences: []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: "ReplicaSet", Name: "web", UID: "web", Controller: ptr.To(true)}},
		},
		Spec: corev1.PodSpec{NodeName: "n1", Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	if err := c.Create(ctx, pod); err != nil {
		t.Fatal(err)
	}
	pod.Status = corev1.PodStatus{Phase: corev1.PodRunning, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: corev1.ConditionTrue}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		t.Fatal(err)
	}
	blockWeb := func(t *testing.T) {
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "default", Name: "web"},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable: ptr.To(intstr.FromInt32(1)),
				Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			},
		}
		if err := c.Create(ctx, pdb); err != nil {
			t.Fatal(err)
		}
		pdb.Status = policyv1.PodDisruptionBudgetStatus{ObservedGeneration: pdb.Generation, CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 1}
		if err := c.Status().Update(ctx, pdb); err != nil {
			t.Fatal(err)
		}
	}

	for _, tc := range []struct {
		name   string
		before func(*testing.T)
		args   []string
		code   int
		stdout []string // substrings of the output
		stderr string
	}{
		{name: "unknown output", args: []string{"-o", "yaml", "--kubeconfig", kubeconfig}, code: exitUsage, stderr: `--output "yaml"`},
		{name: "unreadable kubeconfig", args: []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, code: exitUsage, stderr: "read kubeconfig"},
		{name: "unknown node", args: []string{"n9", "--kubeconfig", kubeconfig}, code: exitUsage, stderr: "node n9: not found"},
		{name: "drainable", args: []string{"--kubeconfig", kubeconfig}, code: exitOK, stdout: []string{"n1    ok", "Order: n1\n"}},
		{name: "blocked by a budget", before: blockWeb, args: []string{"n1", "--kubeconfig", kubeconfig}, code: exitDenied,
			stdout: []string{"n1    BLOCKED", "budget default/web allows no disruption (429): healthy 1, desired healthy 1", "pods: default/web-1", "Order: none; blocked: n1"}},
		{name: "json", args: []string{"n1", "--kubeconfig", kubeconfig, "-o", "json"}, code: exitDenied, stdout: []string{`"reason": "BudgetAllowsNoDisruption"`}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			stdout := runCommand(t, append([]string{"drain-plan"}, tc.args...), tc.code, tc.stdout, tc.stderr)
			if tc.name == "json" {
				var rep drainplan.Report
				if err := json.Unmarshal(stdout, &rep); err != nil || len(rep.Nodes) != 1 || rep.Nodes[0].Drainable {
					t.Errorf("JSON report %+v (%v), want n1 not drainable", rep, err)
				}
			}
		})
	}
}
