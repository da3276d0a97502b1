package policy

import (
	"container/list"
	"crypto/sha256"
	"encoding/binary"
	"encoding/json"
	"math"
	"slices"
	"strconv"
	"strings"
	"sync"
)

// Decisions are cached because the same request arrives again and again:
// kustomize-controller dry-runs every object of a Kustomization through
// the webhooks on every interval to detect drift, then applies what
// changed, and `fluxgate check` meets the same rendered object in every
// cluster that shares an overlay. Policies are pure functions of their
// input (the set refuses every nondeterministic built-in), so a decision
// for the same input is the same decision. The key is a SHA-256 over a
// canonical encoding of everything policies see: the request (its uid
// aside, which is new on every call and carries no meaning), the object
// and old object without metadata.managedFields, the related objects, the
// maintenance state and input.context; the cache belongs to one Engine,
// so a new policy set or configuration starts empty.

// decisionCacheSize bounds the cache: a Deployment's decision is a few
// kilobytes, so the cache stays within tens of megabytes, while a cluster
// whose Kustomizations apply more objects than this between two visits
// of the same object only loses hits, never correctness.
const decisionCacheSize = 8192

type cacheKey [sha256.Size]byte

type decisionCache struct {
	mu      sync.Mutex
	entries map[cacheKey]*list.Element
	order   *list.List // front: most recently used
}

type cacheEntry struct {
	key      cacheKey
	decision *Decision
}

func newDecisionCache() *decisionCache {
	return &decisionCache{entries: map[cacheKey]*list.Element{}, order: list.New()}
}

// get returns a copy of the cached decision for key.
func (c *decisionCache) get(key cacheKey) (*Decision, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	el, ok := c.entries[key]
	if !ok {
		return nil, false
	}
	c.order.MoveToFront(el)
	return el.Value.(*cacheEntry).decision.clone(), true
}

// put stores a copy of d under key, evicting the least recently used
// decision beyond decisionCacheSize.
func (c *decisionCache) put(key cacheKey, d *Decision) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if el, ok := c.entries[key]; ok {
		c.order.MoveToFront(el)
		return
	}
	c.entries[key] = c.order.PushFront(&cacheEntry{key: key, decision: d.clone()})
	for c.order.Len() > decisionCacheSize {
		last := c.order.Back()
		c.order.Remove(last)
		delete(c.entries, last.Value.(*cacheEntry).key)
	}
}

// clone copies the decision's slices; Mutated and the patch values are
// shared, as callers only read them.
func (d *Decision) clone() *Decision {
	out := *d
	out.Findings = slices.Clone(d.Findings)
	out.Patch = slices.Clone(d.Patch)
	return &out
}

// keyOf returns the cache key of a request of phase ph, and false when
// some value has a shape the canonical encoding does not know (then the
// request is simply not cached).
func keyOf(ph string, in *Input) (cacheKey, bool) {
	return requestKey(ph, in, func(w *canonical) {
		w.value(withoutManagedFields(in.Request.Object))
		w.value(withoutManagedFields(in.Request.OldObject))
	})
}

// rawKeyOf is keyOf for a RawInput: its objects are hashed as the bytes
// they arrived as, under a phase of its own, so that the two kinds of key
// never meet.
func rawKeyOf(ph string, r *RawInput) (cacheKey, bool) {
	return requestKey("raw "+ph, &r.Input, func(w *canonical) {
		w.bytes(r.Object)
		w.bytes(r.OldObject)
	})
}

// requestKey hashes everything of in that policies see, the objects
// written by objects.
func requestKey(ph string, in *Input, objects func(*canonical)) (cacheKey, bool) {
	w := newCanonical()
	defer w.release()
	r := &in.Request
	w.str(ph)
	w.str(string(r.Operation))
	w.str(r.Kind.Group)
	w.str(r.Kind.Version)
	w.str(r.Kind.Kind)
	w.str(r.Namespace)
	w.str(r.Name)
	w.str(r.UserInfo.Username)
	w.int(int64(len(r.UserInfo.Groups)))
	for _, g := range r.UserInfo.Groups {
		w.str(g)
	}
	w.bool(r.DryRun)
	w.bool(in.Complete)
	objects(w)
	w.bool(in.Maintenance.Active)
	w.int(int64(len(in.Maintenance.Guards)))
	for _, g := range in.Maintenance.Guards {
		w.str(g.Name)
		w.str(g.Phase)
		w.int(int64(len(g.Signals)))
		for _, s := range g.Signals {
			w.str(s)
		}
	}
	w.int(int64(len(in.Maintenance.Releases)))
	for _, rel := range in.Maintenance.Releases {
		w.str(rel.Kind)
		w.str(rel.Namespace)
		w.str(rel.Name)
	}
	in.Related.writeKey(w, r.Kind.Kind, r.Name)
	if w.unknown {
		return cacheKey{}, false
	}
	return w.sum(), true
}

// canonical writes JSON-shaped values with a type tag and a length
// before each, and object keys in sorted order, so that two values hash
// alike only when Rego would see the same document. It writes to a
// buffer hashed once at the end: a request's encoding is a few kilobytes
// of small writes, each of which would cost a call into the hash.
type canonical struct {
	buf     []byte
	members []member // scratch for sorting one object's members at a time
	unknown bool
}

var canonicals = sync.Pool{New: func() any { return &canonical{buf: make([]byte, 0, 8192)} }}

func newCanonical() *canonical { return canonicals.Get().(*canonical) }

// release pools w, unless a huge object grew its buffer.
func (w *canonical) release() {
	if cap(w.buf) > 1<<20 {
		return
	}
	clear(w.members)
	w.buf, w.members, w.unknown = w.buf[:0], w.members[:0], false
	canonicals.Put(w)
}

func (w *canonical) sum() cacheKey { return sha256.Sum256(w.buf) }

// member is one key and value of an object being written.
type member struct {
	key   string
	value any
}

func (w *canonical) tag(t byte, n uint64) {
	w.buf = binary.AppendUvarint(append(w.buf, t), n)
}

func (w *canonical) raw(b []byte) { w.buf = append(w.buf, b...) }

func (w *canonical) str(s string) {
	w.tag('s', uint64(len(s)))
	w.buf = append(w.buf, s...)
}

func (w *canonical) int(n int64) { w.tag('i', uint64(n)) }

// bytes hashes raw JSON as it is.
func (w *canonical) bytes(b []byte) {
	w.tag('b', uint64(len(b)))
	w.buf = append(w.buf, b...)
}

func (w *canonical) bool(b bool) {
	if b {
		w.tag('t', 0)
	} else {
		w.tag('f', 0)
	}
}

func (w *canonical) value(v any) {
	switch v := v.(type) {
	case nil:
		w.tag('n', 0)
	case map[string]any:
		if v == nil {
			w.tag('n', 0)
			return
		}
		// The members of nested objects are sorted above these in
		// w.members.
		base := len(w.members)
		for k, e := range v {
			w.members = append(w.members, member{k, e})
		}
		slices.SortFunc(w.members[base:], func(a, b member) int { return strings.Compare(a.key, b.key) })
		w.tag('o', uint64(len(v)))
		for i := base; i < base+len(v); i++ {
			m := w.members[i]
			w.str(m.key)
			w.value(m.value)
		}
		w.members = w.members[:base]
	case []any:
		w.tag('a', uint64(len(v)))
		for _, e := range v {
			w.value(e)
		}
	case string:
		w.str(v)
	case bool:
		w.bool(v)
	case float64:
		w.tag('d', math.Float64bits(v))
	case int:
		w.number(strconv.Itoa(v))
	case int64:
		w.number(strconv.FormatInt(v, 10))
	case json.Number:
		w.number(string(v))
	default:
		w.unknown = true
	}
}

// number hashes an integer or a JSON number by its text; the same number
// written differently (1, 1.0, float64 1) only misses the cache.
func (w *canonical) number(s string) {
	w.tag('N', uint64(len(s)))
	w.buf = append(w.buf, s...)
}

// hashOf returns the canonical hash of one object, and false when its
// shape is unknown to the encoding.
func hashOf(obj map[string]any) (cacheKey, bool) {
	w := newCanonical()
	defer w.release()
	w.value(obj)
	return w.sum(), !w.unknown
}
