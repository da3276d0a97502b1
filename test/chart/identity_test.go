package chart

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"time"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/test/e2e/install"
)

// identityNamespace is where the hub's Flux objects, their kubeConfig
// ConfigMaps and ServiceAccounts live (installValues'
// maintenanceGuard.kubeConfigConfigMapNamespaces).
const identityNamespace = "fleet"

// testWorkloadIdentity runs, with nothing but the chart's RBAC, two
// guards of a workload cluster that authenticates the hub's ServiceAccount
// tokens: one whose kubeConfig ConfigMap names a ServiceAccount of its
// namespace, one naming none (fluxgate's own). A cordon there pauses the
// Kustomizations naming each ConfigMap, and the uncordon resumes them;
// the audit log then shows the chart's grants for it used (get on the
// ConfigMaps, create on serviceaccounts/token in fleet and on fluxgate's
// own token).
func testWorkloadIdentity(ctx context.Context, t *testing.T, admin client.Client, hub *rest.Config, fg *install.Fluxgate) {
	// envtest's clients log through controller-runtime, which this
	// package otherwise never sets up: without a logger it prints a
	// warning with a stack.
	ctrllog.SetLogger(logr.Discard())
	deployer := types.NamespacedName{Namespace: identityNamespace, Name: "prod-deployer"}
	if err := admin.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: deployer.Namespace, Name: deployer.Name}}); err != nil {
		t.Fatal(err)
	}
	const audience = "workload-prod"
	w, err := testenv.StartWorkloadTrustingHub(hub, audience, deployer, types.NamespacedName{Namespace: namespace, Name: releaseName})
	if err != nil {
		t.Fatal(err)
	}
	defer w.Stop()
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "workload-node-1"}}
	if err := w.Client.Create(ctx, node); err != nil {
		t.Fatal(err)
	}

	var objs []*unstructured.Unstructured
	var guards []*v1alpha1.MaintenanceGuard
	for name, sa := range map[string]string{"prod": deployer.Name, "prod-own": ""} {
		data := map[string]string{"provider": "generic", "address": w.Env.Config.Host, "ca.crt": string(w.Env.Config.CAData), "audiences": audience}
		if sa != "" {
			data["serviceAccountName"] = sa
		}
		if err := admin.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: identityNamespace, Name: name}, Data: data}); err != nil {
			t.Fatal(err)
		}
		ks := kustomization(identityNamespace, "apps-"+name)
		if err := unstructured.SetNestedField(ks.Object, map[string]any{"configMapRef": map[string]any{"name": name}}, "spec", "kubeConfig"); err != nil {
			t.Fatal(err)
		}
		if err := admin.Create(ctx, ks); err != nil {
			t.Fatal(err)
		}
		objs = append(objs, ks)
		g := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "workload-" + name}, Spec: v1alpha1.MaintenanceGuardSpec{
			Debounce: &metav1.Duration{}, Settle: &metav1.Duration{Duration: time.Second},
			Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{
				ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: identityNamespace, Name: name}}},
		}}
		if err := admin.Create(ctx, g); err != nil {
			t.Fatal(err)
		}
		guards = append(guards, g)
	}
	for _, g := range guards {
		eventually(t, fg, "guard "+g.Name+" reaches the workload cluster", func(ctx context.Context) error {
			cur := &v1alpha1.MaintenanceGuard{}
			if err := admin.Get(ctx, client.ObjectKeyFromObject(g), cur); err != nil {
				return err
			}
			if c := apimeta.FindStatusCondition(cur.Status.Conditions, v1alpha1.RemoteClusterReachableCondition); c == nil || c.Status != metav1.ConditionTrue {
				return fmt.Errorf("RemoteClusterReachable %+v", c)
			}
			return nil
		})
	}
	// The guards poll the workload cluster every 30 seconds; a change of
	// the guard makes them look at once.
	kick := func() {
		t.Helper()
		for _, g := range guards {
			patch := []byte(fmt.Sprintf(`{"metadata":{"annotations":{"test.fluxgate.dev/kick":%q}}}`, time.Now().Format(time.RFC3339Nano)))
			if err := admin.Patch(ctx, g, client.RawPatch(types.MergePatchType, patch)); err != nil {
				t.Fatal(err)
			}
		}
	}
	node.Spec.Unschedulable = true
	if err := w.Client.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	kick()
	for _, ks := range objs {
		eventually(t, fg, "Kustomization "+ks.GetName()+" suspended", suspendedIs(admin, ks, true))
	}
	node.Spec.Unschedulable = false
	if err := w.Client.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	kick()
	for _, ks := range objs {
		eventually(t, fg, "Kustomization "+ks.GetName()+" resumed", suspendedIs(admin, ks, false))
	}
	// Gone before the workload cluster is, and before the uninstall.
	for _, g := range guards {
		if err := admin.Delete(ctx, g); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "guard "+g.Name+" deleted", func(ctx context.Context) error {
			if err := admin.Get(ctx, client.ObjectKeyFromObject(g), &v1alpha1.MaintenanceGuard{}); !apierrors.IsNotFound(err) {
				return errors.Join(errors.New("still there"), err)
			}
			return nil
		})
	}
}
