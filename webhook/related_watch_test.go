package webhook

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	toolscache "k8s.io/client-go/tools/cache"
	"sigs.k8s.io/controller-runtime/pkg/cache/informertest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller/controllertest"
)

// After WatchChanges, a namespace is listed again only once an event of
// one of its related objects arrived: added, updated or deleted (a
// deletion's tombstone included), in that namespace, of any related kind.
func TestCacheRelatedWatchChanges(t *testing.T) {
	ctx := context.Background()
	c := newFakeCache(t, nil, typedDeployment("shop", "web", 3), typedBudget("shop", "web", "web", 2), typedDeployment("blog", "api", 2))
	informers := &informertest.FakeInformers{Scheme: clientgoscheme.Scheme}
	cr := &CacheRelated{Reader: c}
	if err := cr.WatchChanges(ctx, informers); err != nil {
		t.Fatal(err)
	}
	informer := func(obj client.Object) *controllertest.FakeInformer {
		t.Helper()
		inf, err := informers.FakeInformerFor(ctx, obj)
		if err != nil {
			t.Fatal(err)
		}
		return inf
	}
	deployments, services := informer(&appsv1.Deployment{}), informer(&corev1.Service{})

	var last any
	for _, step := range []struct {
		name   string
		event  func()
		ns     string
		listed bool // the namespace was listed again
		same   bool // the same *policy.Related as the step before
	}{
		{name: "first request", ns: "shop", listed: true},
		{name: "no event", ns: "shop", same: true},
		{name: "event in another namespace", event: func() { deployments.Add(typedDeployment("blog", "new", 1)) }, ns: "shop", same: true},
		{name: "a Service added", event: func() {
			services.Add(&corev1.Service{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}})
		}, ns: "shop", listed: true, same: true}, // the fake cache itself has no such Service
		{name: "memo current again", ns: "shop", same: true},
		{name: "a Deployment updated", event: func() {
			deployments.Update(typedDeployment("shop", "web", 3), typedDeployment("shop", "web", 4))
		}, ns: "shop", listed: true, same: true},
		{name: "a Deployment deleted", event: func() {
			deployments.Delete(typedDeployment("shop", "web", 3))
		}, ns: "shop", listed: true, same: true},
		{name: "a deletion's tombstone", event: func() {
			cr.changed(toolscache.DeletedFinalStateUnknown{Key: "shop/web", Obj: typedDeployment("shop", "web", 3)})
		}, ns: "shop", listed: true, same: true},
		{name: "the cache changed, then its event", event: func() {
			var dep appsv1.Deployment
			if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, &dep); err != nil {
				t.Fatal(err)
			}
			old := dep.DeepCopy()
			dep.Spec.Replicas = new(int32(5))
			if err := c.Update(ctx, &dep); err != nil {
				t.Fatal(err)
			}
			deployments.Update(old, &dep)
		}, ns: "shop", listed: true, same: false},
		{name: "and no event since", ns: "shop", same: true},
	} {
		if step.event != nil {
			step.event()
		}
		before := cr.lists.Load()
		rel, err := cr.Related(ctx, step.ns)
		if err != nil {
			t.Fatalf("%s: %v", step.name, err)
		}
		if listed := cr.lists.Load() > before; listed != step.listed {
			t.Errorf("%s: listed %v, want %v", step.name, listed, step.listed)
		}
		if same := last != nil && any(rel) == last; same != step.same {
			t.Errorf("%s: same *policy.Related %v, want %v", step.name, same, step.same)
		}
		last = rel
	}
}
