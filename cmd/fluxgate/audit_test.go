package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"testing"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
)

// TestAuditCommand runs fluxgate audit against a real API server holding
// objects applied without fluxgate (audit/testdata/shop.yaml): the
// findings of fluxgate check on that file, exit 1 for its denials, the
// output formats, and exit 2 for usage and access errors.
func TestAuditCommand(t *testing.T) {
	cfg, kubeconfig := startAPIServer(t)
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	for _, ns := range []string{"shop", "empty"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	objs, err := manifest.LoadPaths([]string{"../../audit/testdata/shop.yaml"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for _, o := range objs {
		if err := c.Create(ctx, &unstructured.Unstructured{Object: o.Data}); err != nil {
			t.Fatal(err)
		}
	}
	for _, tc := range []struct {
		name   string
		args   []string
		code   int
		stdout []string
		stderr string
	}{
		{name: "every namespace", args: []string{"--kubeconfig", kubeconfig}, code: exitDenied,
			stdout: []string{"DENY   cluster [pdb-drain-safe] PodDisruptionBudget shop/cart", "[readiness-probe] Deployment shop/cart", "3 denied"}},
		{name: "a clean namespace", args: []string{"--kubeconfig", kubeconfig, "-n", "empty"}, code: exitOK, stdout: []string{"0 objects"}},
		{name: "json", args: []string{"--kubeconfig", kubeconfig, "-n", "shop", "-o", "json"}, code: exitDenied, stdout: []string{`"policy": "pdb-drain-safe"`}},
		{name: "sarif", args: []string{"--kubeconfig", kubeconfig, "-o", "sarif"}, code: exitDenied, stdout: []string{`"ruleId": "pdb-drain-safe"`}},
		{name: "unknown output", args: []string{"--kubeconfig", kubeconfig, "-o", "yaml"}, code: exitUsage, stderr: `--output "yaml"`},
		{name: "unreadable kubeconfig", args: []string{"--kubeconfig", filepath.Join(t.TempDir(), "none")}, code: exitUsage, stderr: "read kubeconfig"},
		{name: "arguments", args: []string{"shop", "--kubeconfig", kubeconfig}, code: exitUsage, stderr: "unknown command"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			stdout := runCommand(t, append([]string{"audit"}, tc.args...), tc.code, tc.stdout, tc.stderr)
			if tc.name == "json" {
				var rep check.Report
				if err := json.Unmarshal(stdout, &rep); err != nil || rep.Summary.Deny != 3 {
					t.Errorf("JSON report summary %+v (%v), want 3 denials", rep.Summary, err)
				}
			}
		})
	}
}
