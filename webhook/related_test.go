package webhook

import (
	"context"
	"strings"
	"sync"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

func typedDeployment(ns, name string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{
			Namespace: ns, Name: name, UID: types.UID(ns + "-" + name + "-uid"),
		},
		Spec: appsv1.DeploymentSpec{
			Replicas: &replicas,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: name, Image: "nginx:1.27.3"}}},
			},
		},
	}
}

func typedBudget(ns, name, app string, minAvailable int) *policyv1.PodDisruptionBudget {
	v := intstr.FromInt(minAvailable)
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name, UID: types.UID(ns + "-" + name + "-pdb-uid")},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: &v,
			Selector:     &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
}

func newFakeCache(t *testing.T, funcs *interceptor.Funcs, objs ...client.Object) client.WithWatch {
	t.Helper()
	b := fake.NewClientBuilder().WithScheme(clientgoscheme.Scheme).WithObjects(objs...)
	if funcs != nil {
		b = b.WithInterceptorFuncs(*funcs)
	}
	return b.Build()
}

func TestCacheRelatedMemo(t *testing.T) {
	ctx := context.Background()
	minReplicas := int32(2)
	c := newFakeCache(t, nil,
		typedDeployment("shop", "web", 3),
		typedBudget("shop", "web", "web", 2),
		&autoscalingv2.HorizontalPodAutoscaler{
			ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web", UID: "hpa-uid"},
			Spec: autoscalingv2.HorizontalPodAutoscalerSpec{
				ScaleTargetRef: autoscalingv2.CrossVersionObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Name: "web"},
				MinReplicas:    &minReplicas, MaxReplicas: 5,
			},
		},
		&appsv1.StatefulSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "db", UID: "sts-uid"}},
		&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "agent", UID: "ds-uid"}},
		typedDeployment("blog", "api", 2),
	)
	cr := &CacheRelated{Reader: c}

	step := func(name string, ns string, wantConversions int64, wantSame bool, prev any) any {
		t.Helper()
		before := cr.conversions.Load()
		rel, err := cr.Related(ctx, ns)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got := cr.conversions.Load() - before; got != wantConversions {
			t.Errorf("%s: %d conversions, want %d", name, got, wantConversions)
		}
		if same := prev != nil && any(rel) == prev; same != wantSame {
			t.Errorf("%s: same *policy.Related = %v, want %v", name, same, wantSame)
		}
		return rel
	}
	memoSize := func(ns string) int {
		cr.mu.Lock()
		defer cr.mu.Unlock()
		if m := cr.memo[ns]; m != nil {
			return len(m.objects)
		}
		return -1
	}

	r1 := step("first listing", "shop", 5, false, nil)
	r2 := step("unchanged", "shop", 0, true, r1)
	step("other namespace", "blog", 1, false, nil)

	var dep appsv1.Deployment
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "web"}, &dep); err != nil {
		t.Fatal(err)
	}
	dep.Spec.Replicas = new(int32(4))
	if err := c.Update(ctx, &dep); err != nil {
		t.Fatal(err)
	}
	r3 := step("one object changed", "shop", 1, false, r2)

	if err := c.Delete(ctx, &autoscalingv2.HorizontalPodAutoscaler{ObjectMeta: metav1.ObjectMeta{Namespace: "shop", Name: "web"}}); err != nil {
		t.Fatal(err)
	}
	step("one object deleted", "shop", 0, false, r3)
	if got := memoSize("shop"); got != 4 {
		t.Errorf("memo of shop holds %d objects after a deletion, want 4", got)
	}

	if err := c.Delete(ctx, &appsv1.Deployment{ObjectMeta: metav1.ObjectMeta{Namespace: "blog", Name: "api"}}); err != nil {
		t.Fatal(err)
	}
	if rel, err := cr.Related(ctx, "blog"); err != nil || rel != nil {
		t.Errorf("empty namespace: %v, %v; want nil, nil", rel, err)
	}
	if got := memoSize("blog"); got != -1 {
		t.Errorf("memo of an empty namespace holds %d objects, want none", got)
	}
}

func TestCacheRelatedConcurrent(t *testing.T) {
	c := newFakeCache(t, nil, typedDeployment("shop", "web", 3), typedBudget("shop", "web", "web", 2))
	cr := &CacheRelated{Reader: c}
	var wg sync.WaitGroup
	for i := range 16 {
		wg.Go(func() {
			ns := []string{"shop", "blog"}[i%2]
			for range 20 {
				if _, err := cr.Related(context.Background(), ns); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}

func TestCacheRelatedErrors(t *testing.T) {
	if _, err := (&CacheRelated{}).Related(context.Background(), "shop"); err == nil {
		t.Error("no Reader: want an error")
	}
	c := newFakeCache(t, &interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if _, ok := list.(*autoscalingv2.HorizontalPodAutoscalerList); ok {
				return errCacheDown
			}
			return c.List(ctx, list, opts...)
		},
	})
	_, err := (&CacheRelated{Reader: c}).Related(context.Background(), "shop")
	if err == nil || !strings.Contains(err.Error(), "list HorizontalPodAutoscaler in namespace shop: cache not synced") {
		t.Errorf("err = %v", err)
	}
}

func TestConvert(t *testing.T) {
	dep := typedDeployment("shop", "web", 3)
	dep.ManagedFields = []metav1.ManagedFieldsEntry{{Manager: "kustomize-controller", Operation: metav1.ManagedFieldsOperationApply, APIVersion: "apps/v1"}}
	m, err := convert(appsv1.SchemeGroupVersion.WithKind("Deployment"), dep)
	if err != nil {
		t.Fatal(err)
	}
	meta := m["metadata"].(map[string]any)
	if m["apiVersion"] != "apps/v1" || m["kind"] != "Deployment" || meta["name"] != "web" {
		t.Errorf("converted = %v", m)
	}
	if _, ok := meta["managedFields"]; ok {
		t.Error("managedFields kept")
	}
}

// TestValidatorWithCacheRelated runs the built-in policies against
// related objects read from a (fake) cache: the converted typed objects
// must mean to the policies what the manifests do.
func TestValidatorWithCacheRelated(t *testing.T) {
	c := newFakeCache(t, nil, typedDeployment("shop", "web", 3), typedBudget("shop", "web-blocking", "web", 2))
	v := NewValidator(Options{Policies: builtinActive(t), Related: &CacheRelated{Reader: c}})
	web := obj(t, webDeployment)

	resp := v.Handle(context.Background(), request(t, admissionv1.Create, web, nil))
	if !resp.Allowed || len(resp.Warnings) != 0 {
		t.Errorf("3 replicas under minAvailable 2: allowed %v, warnings %q, result %+v", resp.Allowed, resp.Warnings, resp.Result)
	}

	resp = v.Handle(context.Background(), request(t, admissionv1.Update, set(clone(t, web), "spec.replicas", 2), web))
	if resp.Allowed || !strings.Contains(resp.Result.Message, "PodDisruptionBudget shop/web-blocking (spec.minAvailable: 2) allows no disruption") {
		t.Errorf("scale-down to 2: allowed %v, result %+v", resp.Allowed, resp.Result)
	}
}
