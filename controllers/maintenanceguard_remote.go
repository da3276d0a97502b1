package controllers

import (
	"context"
	"errors"
	"fmt"
	"os"
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

	"github.com/fluxcd/pkg/apis/meta"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/maintenance/workloadidentity"
)

// remoteTimeout bounds every request to a remote cluster.
const remoteTimeout = 10 * time.Second

// remoteClients builds and keeps one client per kubeconfig Secret or
// kubeConfig ConfigMap version, so that a guard of a remote cluster does
// not parse its kubeconfig, open new connections or request a token on
// every reconcile.
type remoteClients struct {
	mu      sync.Mutex
	clients map[types.UID]remoteClient
	// hubAudiences are the audiences of the tokens the hub issues by
	// default, learnt once: a kubeConfig ConfigMap may not ask for them.
	hubAudiences []string
}

type remoteClient struct {
	resourceVersion string
	client          client.Client
	// tokens are the ServiceAccount tokens of a client built from a
	// kubeConfig ConfigMap; nil for a kubeconfig.
	tokens *workloadidentity.TokenSource
}

func (rc *remoteClients) get(uid types.UID, resourceVersion string) (remoteClient, bool) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	c, ok := rc.clients[uid]
	return c, ok && c.resourceVersion == resourceVersion
}

func (rc *remoteClients) put(uid types.UID, c remoteClient) {
	rc.mu.Lock()
	defer rc.mu.Unlock()
	if rc.clients == nil {
		rc.clients = map[types.UID]remoteClient{}
	}
	rc.clients[uid] = c
}

// validCluster checks spec.cluster: a kubeConfig names exactly one of a
// Secret and a ConfigMap (the CRD says so too, but a guard written
// before that rule existed may not).
func validCluster(g *v1alpha1.MaintenanceGuard) error {
	if g.Spec.Cluster == nil {
		return nil
	}
	kc := g.Spec.Cluster.KubeConfig
	if (kc.SecretRef == nil) == (kc.ConfigMapRef == nil) {
		return errors.New("spec.cluster.kubeConfig: exactly one of configMapRef or secretRef must be specified")
	}
	return nil
}

// remote returns the reader of the cluster a guard watches: nil for the
// cluster fluxgate runs in, else a direct client of the remote cluster
// from the kubeconfig Secret or the kubeConfig ConfigMap its spec.cluster
// names. Reads go straight to the remote API (no informers there), so the
// guard polls it.
func (r *MaintenanceGuardReconciler) remote(ctx context.Context, g *v1alpha1.MaintenanceGuard) (client.Reader, error) {
	if g.Spec.Cluster == nil {
		return nil, nil
	}
	if ref := g.Spec.Cluster.KubeConfig.ConfigMapRef; ref != nil {
		return r.remoteByIdentity(ctx, *ref)
	}
	ref := g.Spec.Cluster.KubeConfig.SecretRef
	var secret corev1.Secret
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &secret); err != nil {
		return nil, fmt.Errorf("read the kubeconfig Secret %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	if c, ok := r.remotes.get(secret.UID, secret.ResourceVersion); ok {
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
	r.remotes.put(secret.UID, remoteClient{resourceVersion: secret.ResourceVersion, client: c})
	return c, nil
}

// remoteByIdentity returns a client of the cluster a kubeConfig ConfigMap
// describes (Flux's spec.kubeConfig.configMapRef, workload identity),
// kept while the ConfigMap does not change; see package
// workloadidentity for what is supported. A token is obtained on every
// call (from the client's cache of it), so that a refused token is
// reported as such rather than as an unreachable cluster.
func (r *MaintenanceGuardReconciler) remoteByIdentity(ctx context.Context, ref v1alpha1.ConfigMapReference) (client.Reader, error) {
	var cm corev1.ConfigMap
	if err := r.APIReader.Get(ctx, client.ObjectKey{Namespace: ref.Namespace, Name: ref.Name}, &cm); err != nil {
		return nil, fmt.Errorf("read the kubeConfig ConfigMap %s/%s: %w", ref.Namespace, ref.Name, err)
	}
	c, ok := r.remotes.get(cm.UID, cm.ResourceVersion)
	if !ok {
		cfg, err := workloadidentity.Parse(&cm)
		if err != nil {
			return nil, err
		}
		sa := types.NamespacedName{Namespace: cm.Namespace, Name: cfg.ServiceAccountName}
		if cfg.ServiceAccountName == "" {
			// As Flux uses its controller's identity: the guard's own.
			if sa, err = r.ownServiceAccount(); err != nil {
				return nil, &workloadidentity.Error{Kind: workloadidentity.KindCredentials,
					Err: fmt.Errorf("the kubeConfig ConfigMap %s/%s names no %s, so the guard would use its own ServiceAccount, which it cannot tell: %w", cm.Namespace, cm.Name, meta.KubeConfigKeyServiceAccountName, err)}
			}
		}
		hub, err := r.hubAudiences(ctx, sa)
		if err != nil {
			return nil, err
		}
		if err := workloadidentity.CheckAudiences(cfg.Audiences, hub); err != nil {
			return nil, fmt.Errorf("the kubeConfig ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		tokens := &workloadidentity.TokenSource{Client: directReads{Client: r.Client, reader: r.APIReader}, Config: cfg, Namespace: cm.Namespace, Own: r.ServiceAccount}
		// The timeout: a remote API that stops answering must not hold a
		// reconcile.
		cl, err := client.New(workloadidentity.RESTConfig(cfg, tokens, remoteTimeout), client.Options{Scheme: r.Client.Scheme()})
		if err != nil {
			return nil, fmt.Errorf("a client of the cluster of ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
		}
		r.Log.V(1).Info("built a client of a remote cluster from a kubeConfig ConfigMap", "configMap", ref.Namespace+"/"+ref.Name,
			"provider", cfg.Provider, "host", cfg.Host, "serviceAccount", sa.String(), "audiences", cfg.Audiences)
		c = remoteClient{resourceVersion: cm.ResourceVersion, client: cl, tokens: tokens}
		r.remotes.put(cm.UID, c)
	}
	if _, err := c.tokens.Token(ctx); err != nil {
		return nil, fmt.Errorf("the kubeConfig ConfigMap %s/%s: %w", cm.Namespace, cm.Name, err)
	}
	return c.client, nil
}

// directReads is a client whose reads go to the API server: Flux's auth
// package reads the ServiceAccount a ConfigMap names through the client
// it is given, and the manager's client would start an informer on every
// ServiceAccount of the cluster for it.
type directReads struct {
	client.Client
	reader client.Reader
}

func (d directReads) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	return d.reader.Get(ctx, key, obj, opts...)
}

func (d directReads) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	return d.reader.List(ctx, list, opts...)
}

// ownServiceAccount is the guard's own ServiceAccount: the reconciler's
// ServiceAccount when set, else the subject of the pod's token.
func (r *MaintenanceGuardReconciler) ownServiceAccount() (types.NamespacedName, error) {
	if r.ServiceAccount.Name != "" {
		return r.ServiceAccount, nil
	}
	return workloadidentity.ServiceAccountFromTokenFile(workloadidentity.TokenFile)
}

// hubAudiences returns the audiences the hub's API server accepts, learnt
// once: from the pod's own token, as Flux does, else from a token of sa
// requested with the API server's default audiences (outside a pod).
func (r *MaintenanceGuardReconciler) hubAudiences(ctx context.Context, sa types.NamespacedName) ([]string, error) {
	r.remotes.mu.Lock()
	known := r.remotes.hubAudiences
	r.remotes.mu.Unlock()
	if known != nil {
		return known, nil
	}
	var token string
	if b, err := os.ReadFile(workloadidentity.TokenFile); err == nil {
		token = strings.TrimSpace(string(b))
	} else {
		if token, _, err = workloadidentity.RequestToken(ctx, r.Client, sa, nil); err != nil {
			return nil, fmt.Errorf("learn the hub's own token audiences: %w", err)
		}
	}
	claims, err := workloadidentity.ParseToken(token)
	if err != nil {
		return nil, fmt.Errorf("learn the hub's own token audiences: %w", err)
	}
	if len(claims.Audiences) == 0 {
		return nil, errors.New("learn the hub's own token audiences: a token of the hub has no aud claim")
	}
	r.remotes.mu.Lock()
	r.remotes.hubAudiences = claims.Audiences
	r.remotes.mu.Unlock()
	return claims.Audiences, nil
}

// markRemote records whether the remote cluster answered, with a reason
// that tells a provider the guard does not implement, a ConfigMap that
// cannot work and a refused token from a cluster that does not answer.
func markRemote(g *v1alpha1.MaintenanceGuard, err error) {
	if g.Spec.Cluster == nil {
		apimeta.RemoveStatusCondition(&g.Status.Conditions, v1alpha1.RemoteClusterReachableCondition)
		return
	}
	c := metav1.Condition{Type: v1alpha1.RemoteClusterReachableCondition, Status: metav1.ConditionTrue, ObservedGeneration: g.Generation,
		Reason: v1alpha1.RemoteClusterAnsweredReason, Message: "the remote cluster's API answered"}
	if err != nil {
		c.Status, c.Reason = metav1.ConditionFalse, v1alpha1.RemoteClusterUnreachableReason
		msg := err.Error()
		var wi *workloadidentity.Error
		switch {
		case errors.As(err, &wi) && wi.Kind == workloadidentity.KindProviderNotSupported:
			c.Reason = v1alpha1.ProviderNotSupportedReason
		case errors.As(err, &wi) && wi.Kind == workloadidentity.KindInvalid:
			c.Reason = v1alpha1.InvalidKubeConfigReason
		case errors.As(err, &wi) && wi.Kind == workloadidentity.KindCredentials:
			c.Reason = v1alpha1.CredentialsUnavailableReason
		case apierrors.IsUnauthorized(err) && g.Spec.Cluster.KubeConfig.ConfigMapRef != nil:
			msg += " (the remote cluster refused the ServiceAccount token: it must trust the hub's ServiceAccount issuer and accept the ConfigMap's audiences)"
		}
		c.Message = truncate(msg+"; the guard neither starts nor ends a pause until it answers again", 1024)
	}
	apimeta.SetStatusCondition(&g.Status.Conditions, c)
}

// appliesHere says whether a Flux object is one the guard may pause: the
// objects that apply to the guard's cluster. Those with spec.kubeConfig
// apply to the cluster of that kubeconfig Secret or ConfigMap, in their
// own namespace; the others to this one.
func appliesHere(g *v1alpha1.MaintenanceGuard, u *unstructured.Unstructured) bool {
	_, hasKubeConfig, _ := unstructured.NestedMap(u.Object, "spec", "kubeConfig")
	if g.Spec.Cluster == nil {
		return !hasKubeConfig
	}
	if !hasKubeConfig {
		return false
	}
	kc := g.Spec.Cluster.KubeConfig
	switch {
	case kc.SecretRef != nil:
		name, _, _ := unstructured.NestedString(u.Object, "spec", "kubeConfig", "secretRef", "name")
		return name == kc.SecretRef.Name && u.GetNamespace() == kc.SecretRef.Namespace
	case kc.ConfigMapRef != nil:
		name, _, _ := unstructured.NestedString(u.Object, "spec", "kubeConfig", "configMapRef", "name")
		return name == kc.ConfigMapRef.Name && u.GetNamespace() == kc.ConfigMapRef.Namespace
	}
	return false
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
	// Cluster API writes kubeconfig Secrets; a ConfigMap names no Cluster.
	if g.Spec.Cluster == nil || g.Spec.Cluster.KubeConfig.SecretRef == nil {
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
