package webhook

import (
	"context"
	"fmt"
	"sort"
	"sync"
	"sync/atomic"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	toolscache "k8s.io/client-go/tools/cache"
	ctrlcache "sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/internal/relatedkinds"
	"github.com/fluxgate/fluxgate/policy"
)

// CacheRelated is a RelatedSource that reads a controller-runtime cache:
// the objects of the namespace of every kind in relatedkinds.All
// (Deployments, StatefulSets, DaemonSets, PodDisruptionBudgets,
// HorizontalPodAutoscalers, Services and PersistentVolumeClaims). The
// Reader's scheme must know these types; the first List of each starts
// its informer.
//
// Converting objects for the policies is the expensive part, so each
// object is converted once per (UID, resourceVersion), and a namespace
// whose objects are all unchanged since its previous listing gets the
// same *policy.Related back. The memo holds only what the latest listing
// of each namespace returned, so it never outgrows the cache.
//
// Listing a namespace still copies every object of the seven kinds out of
// the cache on every request. After WatchChanges, the informers say when
// a namespace's objects change, and a namespace unchanged since its memo
// was made is answered from the memo without listing.
//
// Set Reader and use the value by pointer; the zero memo is ready. It is
// safe for concurrent use.
type CacheRelated struct {
	// Reader lists the objects, normally the manager's cache.
	Reader client.Reader

	mu   sync.Mutex
	memo map[string]*namespaceMemo

	// watching is set by WatchChanges; changes maps a namespace to the
	// *atomic.Uint64 its objects' events count up.
	watching atomic.Bool
	changes  sync.Map

	conversions atomic.Int64 // objects converted, for tests
	lists       atomic.Int64 // namespaces listed, for tests
}

var _ RelatedSource = (*CacheRelated)(nil)

// namespaceMemo is what the latest listing of one namespace produced. It
// is never modified once stored, so readers need no lock.
type namespaceMemo struct {
	objects map[memoKey]memoObject
	related *policy.Related
	// changes is the namespace's change count read before the listing
	// (WatchChanges); the memo is current while the count has not moved.
	changes uint64
}

type memoKey struct {
	kind string
	id   string // UID, or the name for objects without one
}

type memoObject struct {
	resourceVersion string
	object          map[string]any
}

// RelatedObjects returns an empty object of each kind CacheRelated lists,
// so that a manager can start their informers with its cache rather than
// on the first admission request.
func RelatedObjects() []client.Object {
	out := make([]client.Object, len(relatedkinds.All))
	for i, k := range relatedkinds.All {
		out[i] = k.New()
	}
	return out
}

// WatchChanges registers event handlers on the informers of the kinds
// CacheRelated lists (informers is normally the cache Reader reads, so
// the events follow its contents), after which a namespace whose objects
// have not changed since its last listing is not listed again. Call it
// once, before the informers start or after: an informer replays every
// object it holds to a new handler.
func (c *CacheRelated) WatchChanges(ctx context.Context, informers ctrlcache.Informers) error {
	handler := toolscache.ResourceEventHandlerFuncs{
		AddFunc:    c.changed,
		UpdateFunc: func(_, obj any) { c.changed(obj) },
		DeleteFunc: c.changed,
	}
	for _, k := range relatedkinds.All {
		inf, err := informers.GetInformer(ctx, k.New())
		if err != nil {
			return fmt.Errorf("watch %s for related objects: %w", k.Kind, err)
		}
		if _, err := inf.AddEventHandler(handler); err != nil {
			return fmt.Errorf("watch %s for related objects: %w", k.Kind, err)
		}
	}
	c.watching.Store(true)
	return nil
}

// changed counts an event of obj (or of the object a deletion tombstone
// holds) in its namespace.
func (c *CacheRelated) changed(obj any) {
	if t, ok := obj.(toolscache.DeletedFinalStateUnknown); ok {
		obj = t.Obj
	}
	o, ok := obj.(metav1.Object)
	if !ok {
		return
	}
	n, _ := c.changes.LoadOrStore(o.GetNamespace(), new(atomic.Uint64))
	n.(*atomic.Uint64).Add(1)
}

// changeCount is how many events namespace has had since WatchChanges.
func (c *CacheRelated) changeCount(namespace string) uint64 {
	if n, ok := c.changes.Load(namespace); ok {
		return n.(*atomic.Uint64).Load()
	}
	return 0
}

// Related lists the related objects of namespace.
func (c *CacheRelated) Related(ctx context.Context, namespace string) (*policy.Related, error) {
	if c.Reader == nil {
		return nil, fmt.Errorf("CacheRelated has no Reader")
	}
	// Read before listing: an event during the listing moves the count
	// past the memo's, and the next request lists again.
	watching := c.watching.Load()
	var changes uint64
	if watching {
		changes = c.changeCount(namespace)
		c.mu.Lock()
		prev := c.memo[namespace]
		c.mu.Unlock()
		if prev != nil && prev.changes == changes {
			return prev.related, nil
		}
	}
	c.lists.Add(1)
	var all []listed
	for _, k := range relatedkinds.All {
		l := k.NewList()
		// The objects are only read, never modified, so the cache may hand
		// out its own copies.
		if err := c.Reader.List(ctx, l, client.InNamespace(namespace), client.UnsafeDisableDeepCopy); err != nil {
			return nil, fmt.Errorf("list %s in namespace %s: %w", k.Kind, namespace, err)
		}
		for _, o := range k.Items(l) {
			all = append(all, listed{gvk: k.GroupVersionKind, obj: o})
		}
	}

	c.mu.Lock()
	prev := c.memo[namespace]
	c.mu.Unlock()

	// Most requests find their namespace as the previous one left it: then
	// the memo answers without building anything.
	if prev.holds(all) {
		if watching && prev.changes != changes {
			c.store(namespace, &namespaceMemo{objects: prev.objects, related: prev.related, changes: changes})
		}
		return prev.related, nil
	}

	next := &namespaceMemo{objects: make(map[memoKey]memoObject, len(all)), changes: changes}
	for _, it := range all {
		key := keyOf(it.gvk, it.obj)
		rv := it.obj.GetResourceVersion()
		if old, ok := prev.lookup(key); ok && rv != "" && old.resourceVersion == rv {
			next.objects[key] = old
			continue
		}
		m, err := convert(it.gvk, it.obj)
		if err != nil {
			return nil, err
		}
		c.conversions.Add(1)
		next.objects[key] = memoObject{resourceVersion: rv, object: m}
	}
	if len(next.objects) == 0 {
		c.mu.Lock()
		delete(c.memo, namespace)
		c.mu.Unlock()
		return nil, nil
	}

	objs := make([]map[string]any, 0, len(next.objects))
	keys := make([]memoKey, 0, len(next.objects))
	for k := range next.objects {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool {
		if keys[i].kind != keys[j].kind {
			return keys[i].kind < keys[j].kind
		}
		return keys[i].id < keys[j].id
	})
	for _, k := range keys {
		objs = append(objs, next.objects[k].object)
	}
	rel, err := policy.NewRelated(objs...)
	if err != nil {
		return nil, fmt.Errorf("related objects of namespace %s: %w", namespace, err)
	}
	next.related = rel
	c.store(namespace, next)
	return rel, nil
}

// store makes m the memo of namespace.
func (c *CacheRelated) store(namespace string, m *namespaceMemo) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.memo == nil {
		c.memo = map[string]*namespaceMemo{}
	}
	c.memo[namespace] = m
}

// keyOf is the memo key of obj, of kind gvk.
func keyOf(gvk schema.GroupVersionKind, obj client.Object) memoKey {
	if uid := obj.GetUID(); uid != "" {
		return memoKey{kind: gvk.Kind, id: string(uid)}
	}
	return memoKey{kind: gvk.Kind, id: "name:" + obj.GetName()}
}

// listed is an object a listing returned, and its kind.
type listed struct {
	gvk schema.GroupVersionKind
	obj client.Object
}

// holds reports whether m holds exactly the objects all, each at its
// resourceVersion.
func (m *namespaceMemo) holds(all []listed) bool {
	if m == nil || len(m.objects) != len(all) {
		return false
	}
	for _, it := range all {
		old, ok := m.objects[keyOf(it.gvk, it.obj)]
		if rv := it.obj.GetResourceVersion(); !ok || rv == "" || old.resourceVersion != rv {
			return false
		}
	}
	return true
}

func (m *namespaceMemo) lookup(k memoKey) (memoObject, bool) {
	if m == nil {
		return memoObject{}, false
	}
	o, ok := m.objects[k]
	return o, ok
}

// convert renders a typed object the way the API server would serve it:
// apiVersion and kind set (the cache's typed objects carry neither), and
// without managedFields, which no policy reads and which would only make
// the conversion to Rego values slower.
func convert(gvk schema.GroupVersionKind, obj client.Object) (map[string]any, error) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(obj)
	if err != nil {
		return nil, fmt.Errorf("convert %s %s/%s: %w", gvk.Kind, obj.GetNamespace(), obj.GetName(), err)
	}
	m["apiVersion"], m["kind"] = gvk.GroupVersion().String(), gvk.Kind
	if meta, ok := m["metadata"].(map[string]any); ok {
		delete(meta, "managedFields")
	}
	return m, nil
}
