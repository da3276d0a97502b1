package controllers

import (
	"sync"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/resourceversion"
)

// writtenTTL bounds how long a written object is remembered: the cache
// normally sees a write within milliseconds.
const writtenTTL = 2 * time.Minute

// written remembers the Flux objects the guard wrote until the cache has
// caught up with them. The guard reads from the cache, which lags its own
// writes; a reconcile right after a transition (which the writes' own
// watch events trigger) would otherwise judge the objects by their state
// before the write, and write them again only to fail on a conflict.
// Which of two states is newer is decided by resourceVersion, which
// Kubernetes defines as comparable within one resource
// (resourceversion.CompareResourceVersion).
type written struct {
	mu   sync.Mutex
	objs map[types.UID]writtenObject
}

type writtenObject struct {
	obj *unstructured.Unstructured
	at  time.Time
}

// remember records obj as the guard just wrote it (the API's response).
// The guard must not change obj afterwards.
func (w *written) remember(obj *unstructured.Unstructured) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.objs == nil {
		w.objs = map[types.UID]writtenObject{}
	}
	w.objs[obj.GetUID()] = writtenObject{obj: obj, at: time.Now()}
}

// newest returns, for each object read from the cache, the guard's own
// write of it when that is newer, else the object itself; entries the
// cache has caught up with, or that are older than writtenTTL, are
// forgotten. The returned objects must be treated as read only.
func (w *written) newest(objs []*unstructured.Unstructured) []*unstructured.Unstructured {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.objs) == 0 {
		return objs
	}
	now := time.Now()
	for uid, e := range w.objs {
		if now.Sub(e.at) > writtenTTL {
			delete(w.objs, uid)
		}
	}
	out := make([]*unstructured.Unstructured, len(objs))
	for i, u := range objs {
		out[i] = u
		e, ok := w.objs[u.GetUID()]
		if !ok {
			continue
		}
		cmp, err := resourceversion.CompareResourceVersion(u.GetResourceVersion(), e.obj.GetResourceVersion())
		if err == nil && cmp < 0 {
			c := *e.obj // a new struct: callers may replace its map, never change it
			out[i] = &c
			continue
		}
		delete(w.objs, u.GetUID())
	}
	return out
}
