package audit

import (
	"context"
	"fmt"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/internal/relatedkinds"
	"github.com/fluxgate/fluxgate/manifest"
)

// Source is what Objects reports as the place an audited object was read
// from, in the File of its manifest.Object and in text output.
const Source = "cluster"

// Object is one live object prepared for evaluation, with what a report
// needs to name it.
type Object struct {
	manifest.Object
	UID types.UID
	// ResourceVersion is the object's as read, to tell that a namespace
	// is unchanged since its last audit.
	ResourceVersion string
}

// Collect lists the objects an audit evaluates, in namespace ns or, when
// ns is empty, in every namespace, ordered by namespace, kind and name.
// Each is rendered as it would be applied now: the fields the API server
// keeps for itself (status, managedFields, resourceVersion, uid,
// generation, creationTimestamp, the last-applied annotation) are left
// out, so that an audit finds what `fluxgate check` finds on the
// manifests, and a re-audit of an unchanged object is answered from the
// engine's decision cache.
func Collect(ctx context.Context, r client.Reader, ns string) ([]Object, error) {
	var out []Object
	for _, k := range relatedkinds.All {
		list := k.NewList()
		var opts []client.ListOption
		if ns != "" {
			opts = append(opts, client.InNamespace(ns))
		}
		if err := r.List(ctx, list, opts...); err != nil {
			return nil, fmt.Errorf("list %ss: %w", k.Kind, err)
		}
		for _, obj := range k.Items(list) {
			data, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
			if err != nil {
				return nil, fmt.Errorf("convert %s %s/%s: %w", k.Kind, obj.GetNamespace(), obj.GetName(), err)
			}
			data["apiVersion"], data["kind"] = k.GroupVersion().String(), k.Kind
			asApplied(data)
			out = append(out, Object{Object: manifest.Object{Data: data, File: Source}, UID: obj.GetUID(), ResourceVersion: obj.GetResourceVersion()})
		}
	}
	order := map[string]int{}
	for i, k := range relatedkinds.All {
		order[k.Kind] = i
	}
	sort.SliceStable(out, func(i, j int) bool {
		a, b := &out[i].Object, &out[j].Object
		if a.Namespace() != b.Namespace() {
			return a.Namespace() < b.Namespace()
		}
		if a.Kind() != b.Kind() {
			return order[a.Kind()] < order[b.Kind()]
		}
		return a.Name() < b.Name()
	})
	return out, nil
}

// asApplied removes what the API server adds to an object.
func asApplied(data map[string]any) {
	delete(data, "status")
	meta, _ := data["metadata"].(map[string]any)
	for _, f := range []string{"managedFields", "resourceVersion", "uid", "generation", "creationTimestamp", "selfLink"} {
		delete(meta, f)
	}
	if ann, ok := meta["annotations"].(map[string]any); ok {
		delete(ann, "kubectl.kubernetes.io/last-applied-configuration")
		delete(ann, "deployment.kubernetes.io/revision")
		if len(ann) == 0 {
			delete(meta, "annotations")
		}
	}
}

// Manifests returns the objects as check.Run takes them.
func Manifests(objs []Object) []manifest.Object {
	out := make([]manifest.Object, len(objs))
	for i := range objs {
		out[i] = objs[i].Object
	}
	return out
}
