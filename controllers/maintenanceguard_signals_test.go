package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// TestControlPlaneUpgradeAndKuredPause drives two more signals through
// the API: control-plane nodes whose kubelets report different versions
// (a kubeadm upgrade half done), then kured's reboot lock.
func TestControlPlaneUpgradeAndKuredPause(t *testing.T) {
	ctx := context.Background()
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	startGuard(t, clk, nil)
	ns := namespace(t, nil)
	app := flux(t, pause.Kustomization, ns, "app", false)
	label := uniq("cp")
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(0),
		Signals: v1alpha1.Signals{
			Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)},
			Kured: v1alpha1.KuredSignal{Enabled: true, Namespace: ns, DaemonSet: "kured"},
		}})

	var cps []string
	for i, version := range []string{"v1.35.4", "v1.36.3", "v1.36.3"} {
		n := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%d", label, i),
			Labels: map[string]string{"node-role.kubernetes.io/control-plane": ""}}}
		if err := k8s.Create(ctx, n); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), n) })
		n.Status.NodeInfo.KubeletVersion = version
		if err := k8s.Status().Update(ctx, n); err != nil {
			t.Fatal(err)
		}
		cps = append(cps, n.Name)
	}
	waitPhase(t, g, v1alpha1.PhasePaused)
	if st := status(t, g); st.ActiveSignalNames != "ControlPlaneUpgrade" || !strings.Contains(st.ActiveSignals[0].Detail, "v1.35.4") || !suspended(t, app) {
		t.Fatalf("status = %+v", st)
	}

	// The upgrade finishes; meanwhile kured takes its reboot lock.
	ds := &appsv1.DaemonSet{
		ObjectMeta: metav1.ObjectMeta{Name: "kured", Namespace: ns, Annotations: map[string]string{
			"weave.works/kured-node-lock": fmt.Sprintf(`{"nodeID":"%s","metadata":{"unschedulable":false},"created":"2026-11-21T20:00:00Z"}`, cps[0]),
		}},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": "kured"}},
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": "kured"}},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{Name: "kured", Image: "ghcr.io/kubereboot/kured:1.17.1"}}}},
		},
	}
	if err := k8s.Create(ctx, ds); err != nil {
		t.Fatal(err)
	}
	n := &corev1.Node{}
	if err := k8s.Get(ctx, client.ObjectKey{Name: cps[0]}, n); err != nil {
		t.Fatal(err)
	}
	n.Status.NodeInfo.KubeletVersion = "v1.36.3"
	if err := k8s.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}
	eventually(t, func() error {
		kick(t, g)
		if st := status(t, g); st.ActiveSignalNames != "KuredReboot" || st.Phase != v1alpha1.PhasePaused {
			return fmt.Errorf("signals %q, phase %s", st.ActiveSignalNames, st.Phase)
		}
		return nil
	})

	// kured releases the lock: settle 0 resumes at once.
	base := ds.DeepCopy()
	ds.Annotations["weave.works/kured-node-lock"] = `{"nodeID":"","metadata":null,"created":"0001-01-01T00:00:00Z"}`
	if err := k8s.Patch(ctx, ds, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, app) {
		t.Fatal("not resumed after kured released its lock")
	}
}
