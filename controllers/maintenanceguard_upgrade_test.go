package controllers

import (
	"context"
	"fmt"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// TestSystemUpgradeAndNodeMaintenancePause drives the two signals read
// from other projects' CRDs through the API: a system-upgrade-controller
// Plan applying to nodes, then a medik8s NodeMaintenance running.
func TestSystemUpgradeAndNodeMaintenancePause(t *testing.T) {
	ctx := context.Background()
	if _, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{
		Paths: []string{filepath.Join("..", "maintenance", "signals", "testdata", "crds")},
	}); err != nil {
		t.Fatal(err)
	}
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.HelmRelease, ns, "app", false)
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(0),
		Signals: v1alpha1.Signals{
			Nodes:                   v1alpha1.NodeSignal{Enabled: ptrTo(false)},
			ControlPlane:            v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)},
			SystemUpgradeController: v1alpha1.SystemUpgradeControllerSignal{Enabled: true},
			NodeMaintenance:         v1alpha1.NodeMaintenanceSignal{Enabled: true},
		}})
	waitPhase(t, g, v1alpha1.PhaseIdle)

	plan := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "upgrade.cattle.io/v1", "kind": "Plan",
		"metadata": map[string]any{"name": "k3s-server", "namespace": ns},
		"spec":     map[string]any{"concurrency": int64(1), "version": "v1.36.3+k3s1"},
	}}
	if err := k8s.Create(ctx, plan); err != nil {
		t.Fatal(err)
	}
	plan.Object["status"] = map[string]any{"applying": []any{"cp-1"}}
	if err := k8s.Status().Update(ctx, plan); err != nil {
		t.Fatal(err)
	}
	waitSignals(t, g, "SystemUpgrade")
	if !suspended(t, app) {
		t.Fatal("HelmRelease not paused while a Plan applies")
	}

	plan.Object["status"] = map[string]any{"applying": []any{}}
	if err := k8s.Status().Update(ctx, plan); err != nil {
		t.Fatal(err)
	}
	nm := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": signals.NodeMaintenanceGVK.GroupVersion().String(), "kind": signals.NodeMaintenanceGVK.Kind,
		"metadata": map[string]any{"name": uniq("nm")},
		"spec":     map[string]any{"nodeName": "worker-1", "reason": "replace a DIMM"},
	}}
	if err := k8s.Create(ctx, nm); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = k8s.Delete(context.Background(), nm) })
	nm.Object["status"] = map[string]any{"phase": "Running"}
	if err := k8s.Status().Update(ctx, nm); err != nil {
		t.Fatal(err)
	}
	waitSignals(t, g, "NodeMaintenance")

	if err := k8s.Delete(ctx, nm); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("not resumed once the upgrade and the node maintenance ended")
	}
	if err := k8s.Delete(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
}

func waitSignals(t *testing.T, g *v1alpha1.MaintenanceGuard, want string) {
	t.Helper()
	eventually(t, func() error {
		kick(t, g)
		st := status(t, g)
		if st.ActiveSignalNames != want || st.Phase != v1alpha1.PhasePaused {
			return fmt.Errorf("signals %q phase %s, want %q and Paused", st.ActiveSignalNames, st.Phase, want)
		}
		return nil
	})
}
