package server

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// hostNetworkDaemonSet is shaped like calico-node: host network, no
// declared ports, the API server's default rolling update.
func hostNetworkDaemonSet(ns, name string) *appsv1.DaemonSet {
	labels := map[string]string{"app": name}
	return &appsv1.DaemonSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "DaemonSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.DaemonSetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			UpdateStrategy: appsv1.DaemonSetUpdateStrategy{
				Type:          appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{MaxUnavailable: ptr.To(intstr.FromInt32(1))},
			},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					HostNetwork: true,
					Containers: []corev1.Container{{
						Name:  "node",
						Image: "ghcr.io/example/cni:3.0.0",
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
							Exec: &corev1.ExecAction{Command: []string{"/bin/ready"}},
						}},
						Lifecycle: &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}},
					}},
				},
			},
		},
	}
}

// A CNI-like DaemonSet on the host network keeps its one-node-at-a-time
// rollout: the webhook does not patch it to surge (the surge pod would
// bind the same host ports and never start), and a surge is denied. So
// does a node agent that declares a hostPort (node-exporter), also when
// it leaves the rollout to the API server's default.
func TestHostNetworkDaemonSetIsNotMadeToSurge(t *testing.T) {
	hostPort := func(ds *appsv1.DaemonSet) {
		ds.Spec.Template.Spec.HostNetwork = false
		ds.Spec.Template.Spec.Containers[0].Ports = []corev1.ContainerPort{{Name: "metrics", ContainerPort: 9100, HostPort: 9100}}
	}
	tests := []struct {
		name    string
		shape   func(*appsv1.DaemonSet)
		binding string // what the denial names
	}{
		{name: "host network", shape: func(*appsv1.DaemonSet) {}, binding: "hostNetwork: true"},
		{name: "host port", shape: hostPort, binding: `container "node" uses hostPort 9100`},
		{name: "host port with the default rollout", shape: func(ds *appsv1.DaemonSet) {
			hostPort(ds)
			ds.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{}
		}, binding: `container "node" uses hostPort 9100`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			ns := newNamespace(t)
			ds := hostNetworkDaemonSet(ns, "agent")
			tt.shape(ds)
			if err := k8s.Create(ctx, ds); err != nil {
				t.Fatalf("a host-bound DaemonSet with the default rollout was not admitted: %v", err)
			}
			ru := ds.Spec.UpdateStrategy.RollingUpdate
			if ru == nil || ru.MaxUnavailable.String() != "1" || (ru.MaxSurge != nil && ru.MaxSurge.String() != "0") {
				t.Fatalf("stored rollout = %+v, want maxUnavailable 1 and no surge", ds.Spec.UpdateStrategy)
			}

			surging := hostNetworkDaemonSet(ns, "surging")
			tt.shape(surging)
			surging.Spec.UpdateStrategy = appsv1.DaemonSetUpdateStrategy{
				Type: appsv1.RollingUpdateDaemonSetStrategyType,
				RollingUpdate: &appsv1.RollingUpdateDaemonSet{
					MaxSurge: ptr.To(intstr.FromInt32(1)), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
				},
			}
			denied(t, k8s.Create(ctx, surging), "rollout-strategy: DaemonSet "+ns+"/surging", tt.binding, "set maxSurge: 0 and maxUnavailable: 1")
		})
	}
}

// Budgets that overlap on the same pods are denied when the second
// budget arrives, and a workload whose labels fall under two budgets is
// denied too; both messages name every budget.
func TestOverlappingBudgetsAreDenied(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	dep := deployment(ns, "web", 3)
	dep.Spec.Template.Labels["tier"] = "front"
	if err := k8s.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, pdb(ns, "web", nil, ptr.To(intstr.FromInt32(1)))); err != nil {
		t.Fatal(err)
	}
	tier := pdb(ns, "front", nil, ptr.To(intstr.FromInt32(1)))
	tier.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "front"}}
	// The Deployment and the first budget reach fluxgate's cache
	// asynchronously; a dry run shows when they have.
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Create(ctx, tier.DeepCopy(), client.DryRunAll); err == nil {
			return errors.New("overlapping budget admitted: objects not in fluxgate's cache yet")
		}
		return nil
	})
	denied(t, k8s.Create(ctx, tier.DeepCopy()),
		"pdb-drain-safe: PodDisruptionBudget "+ns+"/front selects the pods of Deployment web, which PodDisruptionBudget "+ns+"/web also selects",
		"the eviction API refuses to evict a pod that more than one budget selects")

	// The other way round: two budgets first, then a workload under both.
	ns2 := newNamespace(t)
	for _, b := range []*policyv1.PodDisruptionBudget{pdb(ns2, "api", nil, ptr.To(intstr.FromInt32(1))), pdb(ns2, "front", nil, ptr.To(intstr.FromInt32(1)))} {
		if b.Name == "front" {
			b.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"tier": "front"}}
		}
		if err := k8s.Create(ctx, b); err != nil {
			t.Fatal(err)
		}
	}
	api := deployment(ns2, "api", 3)
	api.Spec.Template.Labels["tier"] = "front"
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Create(ctx, api.DeepCopy(), client.DryRunAll); err == nil {
			return errors.New("workload under two budgets admitted: budgets not in fluxgate's cache yet")
		}
		return nil
	})
	denied(t, k8s.Create(ctx, api.DeepCopy()),
		"pdb-drain-safe: Deployment "+ns2+"/api: its pods are selected by 2 PodDisruptionBudgets (PodDisruptionBudget "+ns2+"/api, PodDisruptionBudget "+ns2+"/front)")
}

// Deployments that cannot run an old and a new pod side by side are
// admitted with Recreate, with a warning naming the trade-off, and are not
// rewritten to surge (one that surges is warned of the stall): one whose pods mount a PersistentVolumeClaim, and a
// single replica declared Recreate (a single writer, like external-dns,
// whose trade-off replicas-ha names).
func TestDeploymentsThatCannotSurgeKeepRecreate(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	withClaim := deployment(ns, "db", 2)
	withClaim.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	withClaim.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
		PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "db-data"},
	}}}
	singleWriter := deployment(ns, "dns", 1)
	singleWriter.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	claimDefaulted := deployment(ns, "files", 1)
	claimDefaulted.Spec.Strategy = appsv1.DeploymentStrategy{}
	claimDefaulted.Spec.Template.Spec.Volumes = withClaim.Spec.Template.Spec.Volumes

	tests := []struct {
		obj         *appsv1.Deployment
		wantWarning string
		wantType    appsv1.DeploymentStrategyType
		wantSurge   string
	}{
		{withClaim, "rollout-strategy: Deployment " + ns + "/db: spec.strategy.type is Recreate, so every rollout stops all pods before starting new ones; accepted because its pods mount PersistentVolumeClaim db-data", appsv1.RecreateDeploymentStrategyType, ""},
		{singleWriter, "replicas-ha: Deployment " + ns + "/dns: spec.replicas is 1, so a node drain or eviction leaves no pod serving; it rolls with Recreate as a single writer", appsv1.RecreateDeploymentStrategyType, ""},
		// The API server's 25%/25% default stays: rewriting it to
		// maxUnavailable 0 could leave the new pod waiting forever on a
		// Multi-Attach error. Its surge is named as that risk.
		{claimDefaulted, "rollout-strategy: Deployment " + ns + "/files: its pods mount PersistentVolumeClaim db-data and a rollout starts each new pod beside an old one (maxSurge: 25%); unless the claim is ReadWriteMany, a new pod on another node cannot attach it (Multi-Attach) and the rollout stalls", appsv1.RollingUpdateDeploymentStrategyType, "25%"},
	}
	for _, tt := range tests {
		t.Run(tt.obj.Name, func(t *testing.T) {
			c, warnings := warningClient(t, client.Options{Scheme: k8s.Scheme()})
			obj := tt.obj.DeepCopy()
			if err := c.Create(ctx, obj); err != nil {
				t.Fatalf("not admitted: %v", err)
			}
			if obj.Spec.Strategy.Type != tt.wantType {
				t.Errorf("strategy = %+v, want type %s", obj.Spec.Strategy, tt.wantType)
			}
			if ru := obj.Spec.Strategy.RollingUpdate; tt.wantSurge != "" && (ru == nil || ru.MaxSurge.String() != tt.wantSurge || ru.MaxUnavailable.String() != "25%") {
				t.Errorf("strategy = %+v, want the API server's 25%%/25%% left alone", obj.Spec.Strategy)
			}
			if tt.wantWarning != "" && !warnings.contains(tt.wantWarning) {
				t.Errorf("admission warnings = %q, want %q", warnings.all(), tt.wantWarning)
			}
			for _, w := range warnings.all() {
				if strings.Contains(w, "rollout-strategy") && !strings.HasPrefix(tt.wantWarning, "rollout-strategy") {
					t.Errorf("unexpected rollout-strategy warning: %s", w)
				}
			}
		})
	}

	// A claim fluxgate sees is ReadWriteMany lets old and new pods share
	// it: the Deployment rolls with surge like any other, mutated to
	// maxUnavailable 0, and nothing warns.
	t.Run("read-write-many", func(t *testing.T) {
		pvc := &corev1.PersistentVolumeClaim{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "shared"},
			Spec: corev1.PersistentVolumeClaimSpec{
				AccessModes: []corev1.PersistentVolumeAccessMode{corev1.ReadWriteMany},
				Resources:   corev1.VolumeResourceRequirements{Requests: corev1.ResourceList{corev1.ResourceStorage: resource.MustParse("1Gi")}},
			},
		}
		if err := k8s.Create(ctx, pvc); err != nil {
			t.Fatal(err)
		}
		shared := deployment(ns, "shared", 2)
		shared.Spec.Strategy = appsv1.DeploymentStrategy{}
		shared.Spec.Template.Spec.Volumes = []corev1.Volume{{Name: "data", VolumeSource: corev1.VolumeSource{
			PersistentVolumeClaim: &corev1.PersistentVolumeClaimVolumeSource{ClaimName: "shared"},
		}}}
		c, warnings := warningClient(t, client.Options{Scheme: k8s.Scheme()})
		eventually(t, 30*time.Second, func() error {
			obj := shared.DeepCopy()
			if err := c.Create(ctx, obj, client.DryRunAll); err != nil {
				return err
			}
			if ru := obj.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.String() != "0" {
				return fmt.Errorf("strategy = %+v: the claim is not in fluxgate's cache yet", obj.Spec.Strategy)
			}
			return nil
		})
		for _, w := range warnings.all() {
			if strings.Contains(w, "rollout-strategy") && strings.Contains(w, "/shared:") {
				t.Errorf("warning for a ReadWriteMany claim: %s", w)
			}
		}
	})
}
