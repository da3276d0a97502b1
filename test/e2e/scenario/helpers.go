package scenario

import (
	"context"
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ReconcileRequestAnnotation asks Flux to reconcile an object at once;
// Flux copies its value to status.lastHandledReconcileAt when done.
const ReconcileRequestAnnotation = "reconcile.fluxcd.io/requestedAt"

// AppManifest renders one app of the fleet (a compliant Deployment and
// its PDB) in namespace ns, for scenarios that lay out their own folders.
func AppManifest(ns string, a App, version string) string {
	return appManifest(ns, a, version)
}

// KustomizationFrom is [Kustomization] reading the ExternalArtifact source
// instead of the shared one, so a scenario publishing its own revisions
// does not move other scenarios' Kustomizations.
func KustomizationFrom(namespace, name, path string, source types.NamespacedName) *unstructured.Unstructured {
	ks := Kustomization(namespace, name, path)
	ks.Object["spec"].(map[string]any)["sourceRef"] = map[string]any{
		"kind": "ExternalArtifact", "name": source.Name, "namespace": source.Namespace,
	}
	return ks
}

// NewKustomization returns an empty Kustomization object to read into.
func NewKustomization() *unstructured.Unstructured {
	ks := &unstructured.Unstructured{}
	ks.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	ks.SetKind("Kustomization")
	return ks
}

// CreateNamespace creates a namespace with labels (a guard's
// namespaceSelector matches them) and waits until its default service
// account exists, so pods are accepted in it.
func (e *Env) CreateNamespace(ctx context.Context, name string, labels map[string]string) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name, Labels: labels}}
	if err := e.Client.Create(ctx, ns); err != nil {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	return e.Cluster.EnsureNamespace(ctx, name)
}

// DeleteNamespace deletes a namespace and waits until it is gone (its
// Kustomizations' finalizers run first, pruning what they applied).
func (e *Env) DeleteNamespace(ctx context.Context, name string, timeout time.Duration) error {
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}
	if err := client.IgnoreNotFound(e.Client.Delete(ctx, ns)); err != nil {
		return fmt.Errorf("delete namespace %s: %w", name, err)
	}
	return Poll(ctx, timeout, func(ctx context.Context) error {
		err := e.Client.Get(ctx, types.NamespacedName{Name: name}, &corev1.Namespace{})
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("namespace %s still there (%v)", name, err)
	})
}

// UncordonAll makes every node of the cluster schedulable, as a scenario's
// cleanup must leave them.
func (e *Env) UncordonAll(ctx context.Context) error {
	for _, n := range e.Cluster.Nodes {
		if err := e.Cluster.Uncordon(ctx, n); err != nil {
			return err
		}
	}
	return nil
}

// RequestReconcile sets the requestedAt annotation of a Kustomization to a
// new value and waits until kustomize-controller reports it handled
// (status.lastHandledReconcileAt), that is until one full reconcile ran
// after the request. It returns the value set.
func (e *Env) RequestReconcile(ctx context.Context, key types.NamespacedName, timeout time.Duration) (string, error) {
	value := time.Now().Format(time.RFC3339Nano)
	ks := NewKustomization()
	ks.SetName(key.Name)
	ks.SetNamespace(key.Namespace)
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:%q}}}`, ReconcileRequestAnnotation, value)
	if err := e.Client.Patch(ctx, ks, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return "", fmt.Errorf("request a reconcile of %s: %w", key, err)
	}
	err := Poll(ctx, timeout, func(ctx context.Context) error {
		got := NewKustomization()
		if err := e.Client.Get(ctx, key, got); err != nil {
			return fmt.Errorf("read Kustomization %s: %w", key, err)
		}
		handled, _, _ := unstructured.NestedString(got.Object, "status", "lastHandledReconcileAt")
		if handled != value {
			return fmt.Errorf("%s handled reconcile request %q, want %q", key, handled, value)
		}
		return nil
	})
	return value, err
}

// Poll runs check every 200 ms until it returns nil, failing with its
// last error after timeout.
func Poll(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	return poll(ctx, timeout, check)
}

// GuardSpec is a MaintenanceGuard spec pausing, on the default signals
// (a cordoned node among them), only the Kustomizations of namespaces
// labelled namespaceLabels, so that scenarios sharing the cluster pause
// none of each other's objects. HelmReleases are left alone: no
// helm-controller runs.
func GuardSpec(namespaceLabels map[string]string, debounce, settle string) map[string]any {
	labels := map[string]any{}
	for k, v := range namespaceLabels {
		labels[k] = v
	}
	return map[string]any{
		"debounce": debounce,
		"settle":   settle,
		"targets": map[string]any{
			"kustomizations": map[string]any{"namespaceSelector": map[string]any{"matchLabels": labels}},
			"helmReleases":   map[string]any{"enabled": false},
		},
	}
}
