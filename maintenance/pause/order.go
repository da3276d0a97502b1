package pause

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// ResumeOrder sorts objs so that every object comes after the objects of
// the same kind it depends on (spec.dependsOn), the order Flux needs:
// resuming a dependant first would make it wait, or fail, on a dependency
// that is still suspended. Objects are otherwise ordered by namespace and
// name; a dependency cycle is broken in that order rather than dropped.
func ResumeOrder(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	type key struct{ kind, ns, name string }
	keyOf := func(u *unstructured.Unstructured) key { return key{u.GetKind(), u.GetNamespace(), u.GetName()} }
	sorted := append([]*unstructured.Unstructured(nil), objs...)
	sort.SliceStable(sorted, func(i, j int) bool {
		a, b := keyOf(sorted[i]), keyOf(sorted[j])
		if a.kind != b.kind {
			return a.kind < b.kind
		}
		if a.ns != b.ns {
			return a.ns < b.ns
		}
		return a.name < b.name
	})
	index := make(map[key]*unstructured.Unstructured, len(sorted))
	for _, u := range sorted {
		index[keyOf(u)] = u
	}
	const (
		unvisited = iota
		visiting
		done
	)
	mark := make(map[key]int, len(sorted))
	out := make([]*unstructured.Unstructured, 0, len(sorted))
	var visit func(u *unstructured.Unstructured)
	visit = func(u *unstructured.Unstructured) {
		k := keyOf(u)
		if mark[k] != unvisited {
			return // done, or a cycle: break it here
		}
		mark[k] = visiting
		deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
		for _, d := range deps {
			ref, _ := d.(map[string]any)
			name, _ := ref["name"].(string)
			ns, _ := ref["namespace"].(string)
			if ns == "" {
				ns = k.ns
			}
			if dep, ok := index[key{k.kind, ns, name}]; ok {
				visit(dep)
			}
		}
		mark[k] = done
		out = append(out, u)
	}
	for _, u := range sorted {
		visit(u)
	}
	return out
}
