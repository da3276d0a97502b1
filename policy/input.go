package policy

import (
	"fmt"
	"maps"
	"slices"
	"strings"
	"sync"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Operation is the admission operation under review.
type Operation string

// The admission operations a policy may see.
const (
	OperationCreate Operation = "CREATE"
	OperationUpdate Operation = "UPDATE"
	OperationDelete Operation = "DELETE"
)

// GroupVersionKind names the kind of the object under review.
type GroupVersionKind struct {
	Group   string `json:"group"`
	Version string `json:"version"`
	Kind    string `json:"kind"`
}

// KindOf returns the group, version and kind of an object of apiVersion
// ("apps/v1", or "v1" for the core group) and kind.
func KindOf(apiVersion, kind string) GroupVersionKind {
	group, version, ok := strings.Cut(apiVersion, "/")
	if !ok {
		group, version = "", apiVersion
	}
	return GroupVersionKind{Group: group, Version: version, Kind: kind}
}

// UserInfo is the identity that sent the request.
type UserInfo struct {
	Username string   `json:"username"`
	Groups   []string `json:"groups,omitempty"`
}

// Request is the part of an admission request policies see, as
// input.request. Objects are decoded JSON (map[string]any, []any, string,
// float64, bool, nil).
type Request struct {
	UID       string           `json:"uid,omitempty"`
	Operation Operation        `json:"operation"`
	Kind      GroupVersionKind `json:"kind"`
	Namespace string           `json:"namespace"`
	Name      string           `json:"name"`
	Object    map[string]any   `json:"object"`
	OldObject map[string]any   `json:"oldObject"`
	UserInfo  UserInfo         `json:"userInfo"`
	DryRun    bool             `json:"dryRun"`
}

// RelatedKinds maps the kinds cross-object rules need to their keys in
// input.related.
var RelatedKinds = map[string]string{
	"PodDisruptionBudget":     "poddisruptionbudgets",
	"HorizontalPodAutoscaler": "horizontalpodautoscalers",
	"Deployment":              "deployments",
	"StatefulSet":             "statefulsets",
	"DaemonSet":               "daemonsets",
	"Service":                 "services",
	"PersistentVolumeClaim":   "persistentvolumeclaims",
}

// Related holds the objects of one namespace that cross-object rules need,
// hashed once so that many evaluations can share them. Build it with
// NewRelated; it is immutable and safe for concurrent use.
type Related struct {
	lists map[string][]relatedItem
	// nativeAll is every related object as native renders them, for
	// objects not among them.
	nativeAllOnce sync.Once
	nativeAll     map[string]any
	// terms are the objects as Rego values, for OPA's interpreter,
	// converted once when a query first runs on it.
	termsOnce sync.Once
	terms     map[*relatedItem]*ast.Term
	termsErr  error
}

type relatedItem struct {
	kind, name string
	object     map[string]any // as given to NewRelated, for Object
	hash       cacheKey       // canonical hash of object, for decision cache keys
	hashed     bool           // false when object's shape defeats the hash
}

// NewRelated holds objs for input.related. Objects of other kinds than
// RelatedKinds are ignored. The objects are shared, never modified.
func NewRelated(objs ...map[string]any) (*Related, error) {
	r := &Related{lists: make(map[string][]relatedItem, len(RelatedKinds))}
	for _, obj := range objs {
		kind, _ := obj["kind"].(string)
		key, ok := RelatedKinds[kind]
		if !ok {
			continue
		}
		meta, _ := obj["metadata"].(map[string]any)
		name, _ := meta["name"].(string)
		hash, hashed := hashOf(obj)
		r.lists[key] = append(r.lists[key], relatedItem{kind: kind, name: name, object: obj, hash: hash, hashed: hashed})
	}
	return r, nil
}

// Object returns the related object of kind (one of RelatedKinds) named
// name, as it was given to NewRelated, or nil when there is none. The map
// is shared with every other caller and must not be modified.
func (r *Related) Object(kind, name string) map[string]any {
	if r == nil {
		return nil
	}
	for _, it := range r.lists[RelatedKinds[kind]] {
		if it.kind == kind && it.name == name {
			return it.object
		}
	}
	return nil
}

// term renders input.related without the object under review: policies
// see it as input.request.object, and a stale cached copy of it must not
// count twice.
func (r *Related) term(kind, name string) (*ast.Term, error) {
	if r != nil {
		r.termsOnce.Do(func() {
			r.terms = map[*relatedItem]*ast.Term{}
			for _, items := range r.lists {
				for i := range items {
					v, err := ast.InterfaceToValue(items[i].object)
					if err != nil {
						r.termsErr = fmt.Errorf("convert related %s %s to Rego input: %w", items[i].kind, items[i].name, err)
						return
					}
					r.terms[&items[i]] = ast.NewTerm(v)
				}
			}
		})
		if r.termsErr != nil {
			return nil, r.termsErr
		}
	}
	obj := ast.NewObject()
	for _, key := range relatedKeys {
		list := []*ast.Term{}
		if r != nil {
			items := r.lists[key]
			for i := range items {
				if items[i].kind != kind || items[i].name != name {
					list = append(list, r.terms[&items[i]])
				}
			}
		}
		obj.Insert(ast.StringTerm(key), ast.ArrayTerm(list...))
	}
	return ast.NewTerm(obj), nil
}

// native renders input.related as term does, as the Go values the plan
// evaluator reads. For an object that is not among the related ones, as
// a new object is not, it is the same every time, made once.
func (r *Related) native(kind, name string) map[string]any {
	if r == nil {
		return r.nativeExcept(kind, name)
	}
	if r.Object(kind, name) != nil {
		return r.nativeExcept(kind, name)
	}
	r.nativeAllOnce.Do(func() { r.nativeAll = r.nativeExcept("", "") })
	return r.nativeAll
}

func (r *Related) nativeExcept(kind, name string) map[string]any {
	out := make(map[string]any, len(relatedKeys))
	for _, key := range relatedKeys {
		list := []any{}
		if r != nil {
			for _, it := range r.lists[key] {
				if it.kind != kind || it.name != name {
					list = append(list, it.object)
				}
			}
		}
		out[key] = list
	}
	return out
}

// writeKey adds to a decision cache key what term(kind, name) renders.
func (r *Related) writeKey(w *canonical, kind, name string) {
	for _, key := range relatedKeys {
		w.str(key)
		if r != nil {
			for _, it := range r.lists[key] {
				if it.kind == kind && it.name == name {
					continue
				}
				if !it.hashed {
					w.unknown = true
					return
				}
				w.tag('r', 0)
				w.raw(it.hash[:])
			}
		}
		w.tag('e', 0)
	}
}

// relatedKeys are the keys of input.related, in the order they are
// rendered and hashed.
var relatedKeys = slices.Sorted(maps.Values(RelatedKinds))

// Input is everything a policy evaluation needs. The Engine adds each
// policy's parameters as input.parameters.
type Input struct {
	Request Request
	// Related holds the related objects of the request's namespace; nil
	// means none. The object under review is left out automatically.
	Related *Related
	// Maintenance is the cluster's maintenance state, as input.maintenance.
	Maintenance Maintenance
	// Complete is true when Related holds every object of the namespace
	// that will exist (fluxgate check over a whole manifest set), false at
	// admission, where the cache may lag and Flux applies PDBs after the
	// workloads they protect. Policies see it as input.context.complete.
	Complete bool
}

// object returns the object the request is about: the new object, or the
// old one for DELETE.
func (r *Request) object() map[string]any {
	if r.Object != nil {
		return r.Object
	}
	return r.OldObject
}

// native renders the request as input.request with obj as its object, in
// the Go shapes ast.LazyObject converts field by field on first read:
// policies read a few fields of large objects, and a field never read is
// never converted (metadata.managedFields is left out altogether). Rego
// values (ast.Value) may be nested in it and are taken as they are.
func (r *Request) native(obj map[string]any) map[string]any {
	groups := make([]any, len(r.UserInfo.Groups))
	for i, g := range r.UserInfo.Groups {
		groups[i] = g
	}
	var object, oldObject any
	if obj != nil {
		object = withoutManagedFields(obj)
	}
	if r.OldObject != nil {
		oldObject = withoutManagedFields(r.OldObject)
	}
	return map[string]any{
		"uid":       r.UID,
		"operation": string(r.Operation),
		"kind":      map[string]any{"group": r.Kind.Group, "version": r.Kind.Version, "kind": r.Kind.Kind},
		"namespace": r.Namespace,
		"name":      r.Name,
		"object":    object,
		"oldObject": oldObject,
		"userInfo":  map[string]any{"username": r.UserInfo.Username, "groups": groups},
		"dryRun":    r.DryRun,
	}
}

func withoutManagedFields(obj map[string]any) map[string]any {
	meta, ok := obj["metadata"].(map[string]any)
	if !ok {
		return obj
	}
	if _, has := meta["managedFields"]; !has {
		return obj
	}
	m := make(map[string]any, len(meta))
	for k, v := range meta {
		if k != "managedFields" {
			m[k] = v
		}
	}
	o := make(map[string]any, len(obj))
	for k, v := range obj {
		o[k] = v
	}
	o["metadata"] = m
	return o
}

// Maintenance is what policies know of node maintenance and control-plane
// upgrades: the state of the cluster's maintenance guards.
type Maintenance struct {
	// Active is true while any guard holds Flux paused (or is settling).
	Active bool `json:"active"`
	// Guards lists the guards that are not idle.
	Guards []MaintenanceGuard `json:"guards"`
	// Releases are the Flux objects a guard lets through for one
	// reconcile (fluxgate.dev/reconcile-once): what they apply is not
	// frozen.
	Releases []FluxObject `json:"releases"`
}

// FluxObject names a Kustomization or HelmRelease.
type FluxObject struct {
	Kind      string `json:"kind"`
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
}

// MaintenanceGuard is one guard's state.
type MaintenanceGuard struct {
	Name    string   `json:"name"`
	Phase   string   `json:"phase"`
	Signals []string `json:"signals"`
}

// noMaintenance is input.maintenance when no guard is active; shared, as
// the plan evaluator never modifies its input.
var noMaintenance = map[string]any{"active": false, "guards": []any{}, "releases": []any{}}

func (m *Maintenance) toTerm() (*ast.Term, error) {
	v, err := ast.InterfaceToValue(m.native())
	if err != nil {
		return nil, fmt.Errorf("convert maintenance state to Rego input: %w", err)
	}
	return ast.NewTerm(v), nil
}

// native renders the state as input.maintenance.
func (m *Maintenance) native() map[string]any {
	if !m.Active && len(m.Guards) == 0 && len(m.Releases) == 0 {
		return noMaintenance
	}
	guards := make([]any, 0, len(m.Guards))
	for _, g := range m.Guards {
		signals := make([]any, len(g.Signals))
		for i, s := range g.Signals {
			signals[i] = s
		}
		guards = append(guards, map[string]any{"name": g.Name, "phase": g.Phase, "signals": signals})
	}
	releases := make([]any, 0, len(m.Releases))
	for _, r := range m.Releases {
		releases = append(releases, map[string]any{"kind": r.Kind, "namespace": r.Namespace, "name": r.Name})
	}
	return map[string]any{"active": m.Active, "guards": guards, "releases": releases}
}
