package main

import (
	"bytes"
	"context"
	"path/filepath"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// TestMaintenanceCommand runs fluxgate maintenance against a real API
// server (envtest, no guard controller: the test writes the guard's status
// as fluxgate serve would). start sets the manual signal's annotation and
// stop clears it, on the named guards or on all; status prints a paused
// object with the reason written on it; uninstall deletes the guards and
// times out, naming what is paused, while a finalizer holds one.
func TestMaintenanceCommand(t *testing.T) {
	fluxCRDs, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	cfg, kubeconfig := startAPIServer(t, "../../config/crd/bases", fluxCRDs)
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil {
		t.Fatal(err)
	}
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "web", "namespace": "apps", "annotations": map[string]any{
			v1alpha1.PausedByAnnotation: "alpha", v1alpha1.PauseReasonAnnotation: "Manual: kernel patch CHG-1",
		}},
		"spec": map[string]any{"interval": "10m", "prune": true, "suspend": true, "sourceRef": map[string]any{"kind": "GitRepository", "name": "web"}},
	}}
	if err := c.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	// alpha holds apps/web and keeps its finalizer until the test lets go;
	// beta holds nothing.
	alpha := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "alpha", Finalizers: []string{"fluxgate.dev/maintenance-guard"}}}
	beta := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "beta"}}
	for _, g := range []*v1alpha1.MaintenanceGuard{alpha, beta} {
		if err := c.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
	}
	since := metav1.Now()
	alpha.Status = v1alpha1.MaintenanceGuardStatus{
		Phase:             v1alpha1.PhasePaused,
		ActiveSignals:     []v1alpha1.ActiveSignal{{Type: v1alpha1.SignalManual, Detail: `maintenance declared on the guard: "kernel patch CHG-1"`, Since: since}},
		ActiveSignalNames: "Manual",
		PausedCount:       1,
		Paused:            []v1alpha1.PausedObject{{Kind: v1alpha1.KustomizationKind, Namespace: "apps", Name: "web", PausedAt: since}},
		LastPauseTime:     &since,
		Conditions: []metav1.Condition{
			{Type: v1alpha1.ReadyCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.SucceededReason, Message: "holding 1 object", LastTransitionTime: since},
			{Type: v1alpha1.MaintenanceActiveCondition, Status: metav1.ConditionTrue, Reason: v1alpha1.SignalsActiveReason, Message: "Manual", LastTransitionTime: since},
		},
	}
	if err := c.Status().Update(ctx, alpha); err != nil {
		t.Fatal(err)
	}

	// manual returns each guard's manual annotation ("-" when unset).
	manual := func(t *testing.T) map[string]string {
		t.Helper()
		var list v1alpha1.MaintenanceGuardList
		if err := c.List(ctx, &list); err != nil {
			t.Fatal(err)
		}
		out := map[string]string{}
		for _, g := range list.Items {
			v, ok := g.Annotations[signals.AnnotationManual]
			if !ok {
				v = "-"
			}
			out[g.Name] = v
		}
		return out
	}
	kc := []string{"--kubeconfig", kubeconfig}
	for _, tc := range []struct {
		name   string
		before func(*testing.T)
		args   []string
		code   int
		stdout []string // substrings of the output
		stderr string
		manual map[string]string // the guards' annotations afterwards
	}{
		{name: "start without a reason", args: []string{"start", "alpha"}, code: exitUsage, stderr: "--reason is required", manual: map[string]string{"alpha": "-", "beta": "-"}},
		{name: "start an unknown guard", args: []string{"start", "--reason", "x", "gamma"}, code: exitUsage, stderr: `MaintenanceGuard "gamma": not found`},
		{name: "unreadable kubeconfig", args: []string{"status", "--kubeconfig", filepath.Join(t.TempDir(), "none")}, code: exitUsage, stderr: "read kubeconfig"},
		{name: "start one guard", args: []string{"start", "--reason", "kernel patch CHG-1", "alpha"}, code: exitOK,
			stdout: []string{`MaintenanceGuard alpha: manual maintenance started ("kernel patch CHG-1")`}, manual: map[string]string{"alpha": "kernel patch CHG-1", "beta": "-"}},
		{name: "start every guard", args: []string{"start", "--reason", "freeze"}, code: exitOK,
			stdout: []string{"No GUARD named: starting maintenance on all 2 guards (alpha, beta)"}, manual: map[string]string{"alpha": "freeze", "beta": "freeze"}},
		{name: "stop one guard, naming the signals that keep it paused", before: func(t *testing.T) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(beta), beta); err != nil {
				t.Fatal(err)
			}
			beta.Status = v1alpha1.MaintenanceGuardStatus{Phase: v1alpha1.PhasePaused, ActiveSignals: []v1alpha1.ActiveSignal{
				{Type: v1alpha1.SignalNodeCordoned, Detail: "1 node cordoned: node-a", Since: since},
				{Type: v1alpha1.SignalManual, Detail: `maintenance declared on the guard: "freeze"; on 1 node: node-a ("PSU swap")`, Since: since},
			}}
			if err := c.Status().Update(ctx, beta); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"stop", "beta"}, code: exitOK,
			stdout: []string{"MaintenanceGuard beta: manual signal cleared; it resumes what it holds after its settle period (5m0s) once these signals clear too: NodeCordoned, Manual on Nodes"},
			manual: map[string]string{"alpha": "freeze", "beta": "-"}},
		{name: "status shows the paused object and why", args: []string{"status", "alpha"}, code: exitOK, stdout: []string{
			"MaintenanceGuard alpha Phase: Paused", `Manual: "freeze"`,
			"Manual since " + timestamp(since.Time) + ` maintenance declared on the guard: "kernel patch CHG-1"`,
			"Paused: 1 Flux objects", "Kustomization apps/web since " + timestamp(since.Time) + " Manual: kernel patch CHG-1",
			"Ready True Succeeded holding 1 object", "MaintenanceActive True SignalsActive Manual",
		}},
		{name: "status of every guard", args: []string{"status"}, code: exitOK, stdout: []string{"MaintenanceGuard alpha", "MaintenanceGuard beta Phase: Paused", "Signals: NodeCordoned since"}},
		{name: "stop every guard", args: []string{"stop"}, code: exitOK,
			stdout: []string{"stopping maintenance on all 2 guards", "MaintenanceGuard alpha: manual signal cleared", "MaintenanceGuard beta: no manual signal was set"},
			manual: map[string]string{"alpha": "-", "beta": "-"}},
		{name: "uninstall times out while a guard holds an object", args: []string{"uninstall", "--timeout", "1s", "--interval", "100ms"}, code: exitDenied,
			stdout: []string{"Deleting MaintenanceGuard alpha (phase Paused, holding 1 Flux objects)", "Deleting MaintenanceGuard beta"},
			stderr: "1 MaintenanceGuard(s) still hold Flux objects paused (is fluxgate serve running? its finalizer resumes them):\n  alpha: 1 paused (Kustomization apps/web)", manual: map[string]string{"alpha": "-"}},
		{name: "uninstall once the finalizer let go", before: func(t *testing.T) {
			if err := c.Get(ctx, client.ObjectKeyFromObject(alpha), alpha); err != nil {
				t.Fatal(err)
			}
			alpha.Finalizers = nil
			if err := c.Update(ctx, alpha); err != nil {
				t.Fatal(err)
			}
		}, args: []string{"uninstall", "--interval", "100ms"}, code: exitOK, stdout: []string{"No MaintenanceGuard in the cluster"}, manual: map[string]string{}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if tc.before != nil {
				tc.before(t)
			}
			args := append([]string{"maintenance"}, tc.args...)
			if !strings.Contains(strings.Join(tc.args, " "), "--kubeconfig") {
				args = append(args, kc...)
			}
			var stdout, stderr bytes.Buffer
			code := run(args, strings.NewReader(""), &stdout, &stderr)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr.String())
			}
			// Columns are aligned with spaces: compare words.
			words := strings.Join(strings.Fields(stdout.String()), " ")
			for _, s := range tc.stdout {
				if !strings.Contains(words, s) {
					t.Errorf("output does not say %q:\n%s", s, stdout.String())
				}
			}
			if !strings.Contains(stderr.String(), tc.stderr) {
				t.Errorf("stderr %q does not say %q", stderr.String(), tc.stderr)
			}
			if tc.manual != nil {
				got := manual(t)
				if len(got) != len(tc.manual) {
					t.Errorf("guards %v, want %v", got, tc.manual)
				}
				for name, want := range tc.manual {
					if got[name] != want {
						t.Errorf("guard %s: annotation %s = %q, want %q", name, signals.AnnotationManual, got[name], want)
					}
				}
			}
		})
	}
	if err := c.Get(ctx, client.ObjectKey{Name: "alpha"}, alpha); !apierrors.IsNotFound(err) {
		t.Errorf("guard alpha after uninstall: %v, want not found", err)
	}
}
