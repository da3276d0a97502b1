package pause

import (
	"sort"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
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
		for _, d := range dependencies(u) {
			if dep, ok := index[key{k.kind, d.Namespace, d.Name}]; ok {
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

// ResumeLevels groups objs into levels whose members depend only on
// objects of earlier levels: each level can be resumed concurrently and
// the whole still in dependsOn order.
func ResumeLevels(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	type key struct{ kind, ns, name string }
	level := map[key]int{}
	var levels [][]*unstructured.Unstructured
	for _, u := range ResumeOrder(objs) {
		l := 0
		for _, d := range dependencies(u) {
			// A dependency not seen yet is outside objs, or closes a cycle
			// that ResumeOrder broke: it does not hold this object back.
			if dl, ok := level[key{u.GetKind(), d.Namespace, d.Name}]; ok && dl+1 > l {
				l = dl + 1
			}
		}
		level[key{u.GetKind(), u.GetNamespace(), u.GetName()}] = l
		for len(levels) <= l {
			levels = append(levels, nil)
		}
		levels[l] = append(levels[l], u)
	}
	return levels
}

// dependencies reads spec.dependsOn; a reference without a namespace is
// in the object's own.
func dependencies(u *unstructured.Unstructured) []types.NamespacedName {
	deps, _, _ := unstructured.NestedSlice(u.Object, "spec", "dependsOn")
	out := make([]types.NamespacedName, 0, len(deps))
	for _, d := range deps {
		ref, _ := d.(map[string]any)
		name, _ := ref["name"].(string)
		ns, _ := ref["namespace"].(string)
		if ns == "" {
			ns = u.GetNamespace()
		}
		out = append(out, types.NamespacedName{Namespace: ns, Name: name})
	}
	return out
}
