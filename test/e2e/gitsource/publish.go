package gitsource

import (
	"context"
	"fmt"

	"github.com/fluxcd/pkg/apis/meta"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/util/retry"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// ExternalArtifactGVK is the kind Publish writes: a Kustomization reads
// it with sourceRef {kind: ExternalArtifact, name: <name>}.
var ExternalArtifactGVK = sourcev1.GroupVersion.WithKind(sourcev1.ExternalArtifactKind)

// Publish makes revision's tarball available (see Server.Artifact) and
// publishes it as the ExternalArtifact namespace/name, which it creates
// if needed. It returns the artifact published.
func (s *Server) Publish(ctx context.Context, c client.Client, namespace, name, revision string) (Artifact, error) {
	art, err := s.Artifact(revision)
	if err != nil {
		return Artifact{}, err
	}
	if err := Publish(ctx, c, namespace, name, art); err != nil {
		return Artifact{}, err
	}
	return art, nil
}

// Publish writes art as status.artifact (url, revision, digest, path,
// size, lastUpdateTime = now) of the ExternalArtifact namespace/name,
// with a Ready=True condition, through the status subresource; it creates
// the object first if it does not exist (status in a create is dropped).
// It works with any client whose RESTMapper serves the ExternalArtifact
// CRD: the object is unstructured, so the client's scheme needs no Flux
// types. kustomize-controller fetches a revision once per new revision
// string; republishing the same artifact changes nothing for it.
func Publish(ctx context.Context, c client.Client, namespace, name string, art Artifact) error {
	key := client.ObjectKey{Namespace: namespace, Name: name}
	if err := ensure(ctx, c, key); err != nil {
		return err
	}
	err := retry.RetryOnConflict(retry.DefaultRetry, func() error {
		obj := newExternalArtifact()
		if err := c.Get(ctx, key, obj); err != nil {
			return err
		}
		status, err := statusOf(art, obj.GetGeneration())
		if err != nil {
			return err
		}
		obj.Object["status"] = status
		return c.Status().Update(ctx, obj)
	})
	if err != nil {
		return fmt.Errorf("publish %s to ExternalArtifact %s: %w", art.Revision, key, err)
	}
	return nil
}

// ensure creates the ExternalArtifact key unless it exists.
func ensure(ctx context.Context, c client.Client, key client.ObjectKey) error {
	obj := newExternalArtifact()
	err := c.Get(ctx, key, obj)
	if err == nil {
		return nil
	}
	if !apierrors.IsNotFound(err) {
		return fmt.Errorf("read ExternalArtifact %s: %w", key, err)
	}
	obj.SetNamespace(key.Namespace)
	obj.SetName(key.Name)
	obj.Object["spec"] = map[string]any{}
	if err := c.Create(ctx, obj); err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create ExternalArtifact %s: %w", key, err)
	}
	return nil
}

func newExternalArtifact() *unstructured.Unstructured {
	obj := &unstructured.Unstructured{}
	obj.SetGroupVersionKind(ExternalArtifactGVK)
	return obj
}

// statusOf renders the status an ExternalArtifact gets for art.
func statusOf(art Artifact, generation int64) (map[string]any, error) {
	now := metav1.Now()
	size := art.Size
	status := sourcev1.ExternalArtifactStatus{
		Artifact: &meta.Artifact{
			URL:            art.URL,
			Revision:       art.Revision,
			Digest:         art.Digest,
			Path:           art.Path,
			Size:           &size,
			LastUpdateTime: now,
		},
		Conditions: []metav1.Condition{{
			Type:               meta.ReadyCondition,
			Status:             metav1.ConditionTrue,
			Reason:             meta.SucceededReason,
			Message:            "stored artifact for revision '" + art.Revision + "'",
			ObservedGeneration: generation,
			LastTransitionTime: now,
		}},
	}
	out, err := runtime.DefaultUnstructuredConverter.ToUnstructured(&status)
	if err != nil {
		return nil, fmt.Errorf("render the status of %s: %w", art.Revision, err)
	}
	return out, nil
}
