package controllers

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/clientcmd"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// remoteTimeout bounds every request to a remote cluster.
const remoteTimeout = 10 * time.Second

// remoteClients builds and keeps one client per kubeconfig Secret
// version, so that a guard of a remote cluster does not parse its
// kubeconfig and open new connections on every reconcile.
type remoteClients struct {
	mu      sync.Mutex
	clients map[types.UID]remoteClient
}

type remoteClient struct {
	resourceVersion string
	client          client.Client
}

// remote returns the reader of the cluster a guard watches: nil for the
// cluster fluxgate runs in, else a direct client of the remote cluster
// from the kubeconfig its spec.cluster names. Reads go straight to the
// remote API (no informers there), so the guard polls it.
func (r *MaintenanceGuardReconciler) remote(ctx context.Context, g *v1alpha1.MaintenanceGuard) (client.Reader, error) {
	if g.Spec.Cluster == nil {
		return nil, nil
	}
	ref := g.Spec.Cluster.KubeConfig.SecretRef
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &secret); err != nil {
		return nil, fmt.Errorf("read the kubeconfig Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	r.remotes.mu.Lock()
	defer r.remotes.mu.Unlock()
	if c, ok := r.remotes.clients[secret.UID]; ok && c.resourceVersion == secret.ResourceVersion {
		return c.client, nil
	}
	keys := []string{ref.Key}
	if ref.Key == "" {
		keys = []string{"value", "value.yaml"}
	}
	var kubeconfig []byte
	for _, k := range keys {
		if kubeconfig = secret.Data[k]; len(kubeconfig) > 0 {
			break
		}
	}
	if len(kubeconfig) == 0 {
		return nil, fmt.Errorf("the kubeconfig Secret %s/%s has no key %v", ref.Namespace, ref.Name, keys)
	}
	cfg, err := clientcmd.RESTConfigFromKubeConfig(kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("the kubeconfig in Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	// A remote API that stops answering must not hold a reconcile (the
	// drain report reads through it too): every request gives up.
	cfg.Timeout = remoteTimeout
	c, err := client.New(cfg, client.Options{Scheme: r.Client.Scheme()})
	if err != nil {
		return nil, fmt.Errorf("a client of the cluster of Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if r.remotes.clients == nil {
		r.remotes.clients = map[types.UID]remoteClient{}
	}
	r.remotes.clients[secret.UID] = remoteClient{resourceVersion: secret.ResourceVersion, client: c}
	return c, nil
}

// markRemote records whether the remote cluster answered.
func markRemote(g *v1alpha1.MaintenanceGuard, err error) {
	if g.Spec.Cluster == nil {
		apimeta.RemoveStatusCondition(&g.Status.Conditions, v1alpha1.RemoteClusterReachableCondition)
		return
	}
	c := metav1.Condition{Type: v1alpha1.RemoteClusterReachableCondition, Status: metav1.ConditionTrue, ObservedGeneration: g.Generation,
		Reason: v1alpha1.RemoteClusterAnsweredReason, Message: "the remote cluster's API answered"}
	if err != nil {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.RemoteClusterUnreachableReason
		c.Message = truncate(err.Error()+"; the guard neither starts nor ends a pause until it answers again", 1024)
	}
	apimeta.SetStatusCondition(&g.Status.Conditions, c)
}

// appliesHere says whether a Flux object is one the guard may pause: the
// objects that apply to the guard's cluster. Those with spec.kubeConfig
// apply to the cluster of that kubeconfig; the others to this one.
func appliesHere(g *v1alpha1.MaintenanceGuard, u *unstructured.Unstructured) bool {
	name, _, _ := unstructured.NestedString(u.Object, "spec", "kubeConfig", "secretRef", "name")
	_, hasKubeConfig, _ := unstructured.NestedMap(u.Object, "spec", "kubeConfig")
	if g.Spec.Cluster == nil {
		return !hasKubeConfig
	}
	ref := g.Spec.Cluster.KubeConfig.SecretRef
	return hasKubeConfig && name == ref.Name && u.GetNamespace() == ref.Namespace
}

// clusterAPISignal reads, on the hub, the Cluster API Cluster of a guard's
// remote cluster (named as its kubeconfig Secret, <cluster>-kubeconfig, in
// the same namespace, Cluster API's convention) and reports a
// ControlPlaneUpgrade while its control plane rolls out a version: the
// control plane object (spec.controlPlaneRef, a KubeadmControlPlane or
// any provider's) wants a spec.version its machines (status.version, the
// lowest) do not all run yet, or a managed topology (spec.topology.version)
// asks for a version the control plane has not taken. Without the Cluster
// API CRDs, without such a Cluster, or without the right to read them
// (the chart's maintenanceGuard.clusterAPI), there is no signal.
func (r *MaintenanceGuardReconciler) clusterAPISignal(ctx context.Context, g *v1alpha1.MaintenanceGuard) (*signals.Signal, error) {
	if g.Spec.Cluster == nil {
		return nil, nil
	}
	ref := g.Spec.Cluster.KubeConfig.SecretRef
	name, ok := strings.CutSuffix(ref.Name, "-kubeconfig")
	if !ok || name == "" {
		return nil, nil
	}
	cluster := &unstructured.Unstructured{}
	cluster.SetGroupVersionKind(schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta2", Kind: "Cluster"})
	err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: name}, cluster)
	if apimeta.IsNoMatchError(err) {
		cluster.SetGroupVersionKind(schema.GroupVersionKind{Group: "cluster.x-k8s.io", Version: "v1beta1", Kind: "Cluster"})
		err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: name}, cluster)
	}
	if unavailable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read Cluster API Cluster %s/%s: %w", ref.Namespace, name, err)
	}
	cpRef, _, _ := unstructured.NestedStringMap(cluster.Object, "spec", "controlPlaneRef")
	if cpRef["kind"] == "" || cpRef["name"] == "" {
		return nil, nil
	}
	gv, err := schema.ParseGroupVersion(cpRef["apiVersion"])
	if err != nil {
		return nil, fmt.Errorf("the Cluster API Cluster %s/%s: spec.controlPlaneRef.apiVersion: %w", ref.Namespace, name, err)
	}
	gk := schema.GroupKind{Group: gv.Group, Kind: cpRef["kind"]}
	if group := cpRef["apiGroup"]; group != "" {
		gk.Group = group
	}
	mapping, err := r.Client.RESTMapper().RESTMapping(gk)
	if unavailable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("the Cluster API Cluster %s/%s: control plane kind %s: %w", ref.Namespace, name, gk, err)
	}
	cp := &unstructured.Unstructured{}
	cp.SetGroupVersionKind(mapping.GroupVersionKind)
	err = r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: cpRef["name"]}, cp)
	if unavailable(err) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("read the control plane of Cluster %s/%s: %w", ref.Namespace, name, err)
	}
	want, _, _ := unstructured.NestedString(cp.Object, "spec", "version")
	running, _, _ := unstructured.NestedString(cp.Object, "status", "version")
	topology, _, _ := unstructured.NestedString(cluster.Object, "spec", "topology", "version")
	what := fmt.Sprintf("Cluster API Cluster %s/%s (%s %s)", ref.Namespace, name, cp.GetKind(), cp.GetName())
	switch {
	case topology != "" && want != "" && topology != want:
		return &signals.Signal{Type: signals.ControlPlaneUpgrade, Detail: fmt.Sprintf("%s: topology asks for %s, control plane at %s", what, topology, want), Objects: []string{name}}, nil
	case want != "" && running != "" && want != running:
		return &signals.Signal{Type: signals.ControlPlaneUpgrade, Detail: fmt.Sprintf("%s: control plane rolling out %s, machines at %s", what, want, running), Objects: []string{name}}, nil
	}
	return nil, nil
}

// unavailable says that a Cluster API read found nothing to read: no CRD,
// no object, or no right to read it.
func unavailable(err error) bool {
	return apimeta.IsNoMatchError(err) || apierrors.IsNotFound(err) || apierrors.IsForbidden(err)
}
