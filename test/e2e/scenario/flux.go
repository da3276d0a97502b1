package scenario

import (
	"context"
	"fmt"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ArtifactName is the ExternalArtifact every Kustomization reads.
const ArtifactName = "fleet"

// Publish makes rev the artifact kustomize-controller sees.
func (e *Env) Publish(ctx context.Context, rev string) error {
	return e.PublishAs(ctx, ArtifactName, rev)
}

// PublishAs makes rev the content of the ExternalArtifact
// flux-system/artifact, so that a scenario's sources do not move under
// another's.
func (e *Env) PublishAs(ctx context.Context, artifact, rev string) error {
	if _, err := e.Source.Publish(ctx, e.Client, FluxNamespace, artifact, rev); err != nil {
		return fmt.Errorf("publish %s as %s: %w", rev, artifact, err)
	}
	return nil
}

// Kustomization returns a Flux Kustomization applying path of the
// artifact flux-system/fleet.
func Kustomization(namespace, name, path string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": namespace},
		"spec": map[string]any{
			"interval": "10m", "retryInterval": "2s", "timeout": "1m", "prune": true, "path": path,
			"sourceRef": map[string]any{"kind": "ExternalArtifact", "name": ArtifactName, "namespace": FluxNamespace},
		},
	}}
}

// KustomizationOf returns a Flux Kustomization applying path of the
// ExternalArtifact flux-system/artifact.
func KustomizationOf(artifact, namespace, name, path string) *unstructured.Unstructured {
	return KustomizationFrom(namespace, name, path, types.NamespacedName{Namespace: FluxNamespace, Name: artifact})
}

// KustomizationState is what a Kustomization reports.
type KustomizationState struct {
	Suspended           bool
	LastAppliedRevision string
	Ready               string // True, False or Unknown
	Message             string
}

// GetKustomization reads a Kustomization's state.
func (e *Env) GetKustomization(ctx context.Context, key types.NamespacedName) (KustomizationState, error) {
	ks := &unstructured.Unstructured{}
	ks.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	ks.SetKind("Kustomization")
	if err := e.Client.Get(ctx, key, ks); err != nil {
		return KustomizationState{}, fmt.Errorf("read Kustomization %s: %w", key, err)
	}
	var st KustomizationState
	st.Suspended, _, _ = unstructured.NestedBool(ks.Object, "spec", "suspend")
	st.LastAppliedRevision, _, _ = unstructured.NestedString(ks.Object, "status", "lastAppliedRevision")
	conds, _, _ := unstructured.NestedSlice(ks.Object, "status", "conditions")
	st.Ready = "Unknown"
	for _, c := range conds {
		if c, ok := c.(map[string]any); ok && c["type"] == "Ready" {
			st.Ready, _ = c["status"].(string)
			st.Message, _ = c["message"].(string)
		}
	}
	return st, nil
}

// WaitKustomizations polls every key until ok holds for all of them.
func (e *Env) WaitKustomizations(ctx context.Context, keys []types.NamespacedName, timeout time.Duration, ok func(KustomizationState) bool) error {
	return poll(ctx, timeout, func(ctx context.Context) error {
		for _, k := range keys {
			st, err := e.GetKustomization(ctx, k)
			if err != nil {
				return err
			}
			if !ok(st) {
				return fmt.Errorf("%s: %+v", k, st)
			}
		}
		return nil
	})
}

// Guard creates a cluster-scoped MaintenanceGuard with spec.
func (e *Env) Guard(ctx context.Context, name string, spec map[string]any) error {
	g := guard(name)
	g.Object["spec"] = spec
	if err := e.Client.Create(ctx, g); err != nil {
		return fmt.Errorf("create MaintenanceGuard %s: %w", name, err)
	}
	return nil
}

// DeleteGuard deletes a MaintenanceGuard and waits until its finalizer
// (resuming what it paused) is done.
func (e *Env) DeleteGuard(ctx context.Context, name string) error {
	if err := client.IgnoreNotFound(e.Client.Delete(ctx, guard(name))); err != nil {
		return fmt.Errorf("delete MaintenanceGuard %s: %w", name, err)
	}
	return poll(ctx, time.Minute, func(ctx context.Context) error {
		err := e.Client.Get(ctx, types.NamespacedName{Name: name}, guard(name))
		if apierrors.IsNotFound(err) {
			return nil
		}
		return fmt.Errorf("MaintenanceGuard %s still there (%v)", name, err)
	})
}

func guard(name string) *unstructured.Unstructured {
	g := &unstructured.Unstructured{Object: map[string]any{}}
	g.SetAPIVersion("fluxgate.dev/v1alpha1")
	g.SetKind("MaintenanceGuard")
	g.SetName(name)
	return g
}

// poll runs check every 200 ms until it returns nil, failing with its
// last error after timeout.
func poll(ctx context.Context, timeout time.Duration, check func(context.Context) error) error {
	ctx, cancel := context.WithTimeout(ctx, timeout)
	defer cancel()
	for {
		err := check(ctx)
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("not within %s: %w", timeout, err)
		case <-time.After(200 * time.Millisecond):
		}
	}
}
