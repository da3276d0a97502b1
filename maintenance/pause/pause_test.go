package pause

import (
	"context"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
)

var now = time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)

func ks(ns, name string, suspend bool, annotations map[string]string, deps ...string) *unstructured.Unstructured {
	u := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1",
		"kind":       "Kustomization",
		"metadata":   map[string]any{"name": name, "namespace": ns},
		"spec":       map[string]any{"interval": "10m", "path": "./apps", "prune": true},
	}}
	if suspend {
		_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
	}
	if annotations != nil {
		u.SetAnnotations(annotations)
	}
	var dependsOn []any
	for _, d := range deps {
		dependsOn = append(dependsOn, map[string]any{"name": d})
	}
	if dependsOn != nil {
		_ = unstructured.SetNestedSlice(u.Object, dependsOn, "spec", "dependsOn")
	}
	return u
}

func suspendedBy(u *unstructured.Unstructured, manager string) *unstructured.Unstructured {
	u.SetManagedFields([]metav1.ManagedFieldsEntry{{
		Manager: manager, Operation: metav1.ManagedFieldsOperationApply,
		FieldsV1: metav1.NewFieldsV1(`{"f:spec":{"f:interval":{},"f:suspend":{}}}`),
	}})
	return u
}

func TestClassify(t *testing.T) {
	held := map[string]string{PausedByAnnotation: "maint"}
	tests := []struct {
		name string
		obj  *unstructured.Unstructured
		want State
	}{
		{"free", ks("a", "x", false, nil), Free},
		{"suspended by a person", ks("a", "x", true, nil), HumanSuspended},
		{"person removed the guard's annotation", ks("a", "x", true, map[string]string{PausedAtAnnotation: "t"}), HumanSuspended},
		{"held", ks("a", "x", true, held), Held},
		{"held by another guard", ks("a", "x", true, map[string]string{PausedByAnnotation: "other"}), HeldByOthers},
		{"held by both", ks("a", "x", true, map[string]string{PausedByAnnotation: "maint,other"}), Held},
		{"parent reverted", suspendedBy(ks("a", "x", false, held), "kustomize-controller"), Reverted},
		{"person resumed with flux resume", suspendedBy(ks("a", "x", false, held), "flux"), HumanResumed},
		{"person resumed with kubectl", ks("a", "x", false, held), HumanResumed},
		{"another guard's pause reverted", suspendedBy(ks("a", "x", false, map[string]string{PausedByAnnotation: "other"}), "kustomize-controller"), Free},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Classify(tt.obj, "maint"); got != tt.want {
				t.Fatalf("Classify = %s, want %s", got, tt.want)
			}
		})
	}
}

func newPauser(t *testing.T, objs ...*unstructured.Unstructured) (*Pauser, client.Client) {
	t.Helper()
	var init []client.Object
	for _, o := range objs {
		init = append(init, o.DeepCopy())
	}
	c := fake.NewClientBuilder().WithScheme(runtime.NewScheme()).WithObjects(init...).Build()
	return &Pauser{Client: c, Guard: "maint", FieldManager: "fluxgate-maintenance-guard"}, c
}

func get(t *testing.T, c client.Client, ns, name string) *unstructured.Unstructured {
	t.Helper()
	u := &unstructured.Unstructured{}
	u.SetGroupVersionKind(Kustomization)
	if err := c.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, u); err != nil {
		t.Fatal(err)
	}
	return u
}

func TestPauseAndResume(t *testing.T) {
	ctx := context.Background()
	p, c := newPauser(t, ks("apps", "web", false, nil))
	obj := get(t, c, "apps", "web")
	if out, err := p.Pause(ctx, obj, "2 nodes cordoned: a, b", now); err != nil || out != Paused {
		t.Fatalf("Pause = %s, %v", out, err)
	}
	paused := get(t, c, "apps", "web")
	a := paused.GetAnnotations()
	if s, _, _ := unstructured.NestedBool(paused.Object, "spec", "suspend"); !s ||
		a[PausedByAnnotation] != "maint" || a[PausedAtAnnotation] != "2026-11-21T20:00:00Z" ||
		a[PauseReasonAnnotation] != "2 nodes cordoned: a, b" || a[FluxReconcileAnnotation] != "disabled" || a[ReconcileDisabledAnnotation] != "true" {
		t.Fatalf("paused object = %v, annotations %v", paused.Object["spec"], a)
	}
	if out, err := p.Pause(ctx, paused, "again", now); err != nil || out != Unchanged {
		t.Fatalf("second Pause = %s, %v", out, err)
	}
	if out, err := p.Resume(ctx, paused, now.Add(time.Hour)); err != nil || out != Resumed {
		t.Fatalf("Resume = %s, %v", out, err)
	}
	resumed := get(t, c, "apps", "web")
	a = resumed.GetAnnotations()
	if s, _, _ := unstructured.NestedBool(resumed.Object, "spec", "suspend"); s {
		t.Fatal("still suspended")
	}
	for _, k := range []string{PausedByAnnotation, PausedAtAnnotation, PauseReasonAnnotation, FluxReconcileAnnotation, ReconcileDisabledAnnotation} {
		if _, ok := a[k]; ok {
			t.Errorf("annotation %s left behind", k)
		}
	}
	if a[RequestedAtAnnotation] != "2026-11-21T21:00:00Z" {
		t.Errorf("requestedAt = %q", a[RequestedAtAnnotation])
	}
	if out, err := p.Resume(ctx, resumed, now); err != nil || out != Unchanged {
		t.Fatalf("second Resume = %s, %v: resumed twice", out, err)
	}
}

func TestHumanDecisionsAreKept(t *testing.T) {
	ctx := context.Background()
	t.Run("suspended by a person is never paused or resumed", func(t *testing.T) {
		p, c := newPauser(t, ks("apps", "web", true, nil))
		obj := get(t, c, "apps", "web")
		if out, _ := p.Pause(ctx, obj, "r", now); out != LeftAlone {
			t.Fatalf("Pause = %s", out)
		}
		if out, _ := p.Resume(ctx, obj, now); out != Unchanged {
			t.Fatalf("Resume = %s", out)
		}
		if got := get(t, c, "apps", "web"); len(got.GetAnnotations()) != 0 {
			t.Fatalf("annotations written: %v", got.GetAnnotations())
		}
	})
	t.Run("a person kept the reconcile switch the guard found", func(t *testing.T) {
		p, c := newPauser(t, ks("apps", "web", false, map[string]string{FluxReconcileAnnotation: "disabled"}))
		obj := get(t, c, "apps", "web")
		if _, err := p.Pause(ctx, obj, "r", now); err != nil {
			t.Fatal(err)
		}
		if _, err := p.Resume(ctx, obj, now); err != nil {
			t.Fatal(err)
		}
		if got := get(t, c, "apps", "web").GetAnnotations()[FluxReconcileAnnotation]; got != "disabled" {
			t.Fatalf("the person's reconcile: disabled was removed (%q)", got)
		}
	})
	t.Run("resumed by a person during the pause", func(t *testing.T) {
		p, c := newPauser(t, ks("apps", "web", false, map[string]string{PausedByAnnotation: "maint", FluxReconcileAnnotation: "disabled", ReconcileDisabledAnnotation: "true"}))
		obj := get(t, c, "apps", "web")
		if out, _ := p.Pause(ctx, obj, "r", now); out != LeftAlone {
			t.Fatalf("Pause = %s, want the person's resume kept", out)
		}
		if out, err := p.Resume(ctx, obj, now); err != nil || out != LeftAlone {
			t.Fatalf("Resume = %s, %v", out, err)
		}
		got := get(t, c, "apps", "web")
		if _, ok := got.GetAnnotations()[RequestedAtAnnotation]; ok || len(got.GetAnnotations()) != 0 {
			t.Fatalf("annotations = %v, want the guard's traces gone and no reconcile request", got.GetAnnotations())
		}
	})
}

func TestTwoGuards(t *testing.T) {
	ctx := context.Background()
	p, c := newPauser(t, ks("apps", "web", false, nil))
	other := &Pauser{Client: c, Guard: "other", FieldManager: "fluxgate-maintenance-guard"}
	obj := get(t, c, "apps", "web")
	if out, _ := p.Pause(ctx, obj, "r", now); out != Paused {
		t.Fatalf("first guard: %s", out)
	}
	if out, _ := other.Pause(ctx, obj, "r", now); out != Joined {
		t.Fatalf("second guard: %s", out)
	}
	if got := get(t, c, "apps", "web").GetAnnotations()[PausedByAnnotation]; got != "maint,other" {
		t.Fatalf("paused-by = %q", got)
	}
	if out, _ := p.Resume(ctx, obj, now); out != Released {
		t.Fatalf("first guard resumes: %s, want Released while the other holds it", out)
	}
	if s, _, _ := unstructured.NestedBool(get(t, c, "apps", "web").Object, "spec", "suspend"); !s {
		t.Fatal("resumed while another guard holds it")
	}
	if out, _ := other.Resume(ctx, obj, now); out != Resumed {
		t.Fatalf("second guard resumes: %s", out)
	}
}

func TestConflictIsReported(t *testing.T) {
	ctx := context.Background()
	p, c := newPauser(t, ks("apps", "web", false, nil))
	stale := get(t, c, "apps", "web")
	fresh := stale.DeepCopy()
	fresh.SetLabels(map[string]string{"changed": "true"})
	if err := c.Update(ctx, fresh); err != nil {
		t.Fatal(err)
	}
	if _, err := p.Pause(ctx, stale, "r", now); err == nil || !strings.Contains(err.Error(), "changed while the guard wrote it") {
		t.Fatalf("err = %v, want a conflict", err)
	}
}

func TestResumeOrder(t *testing.T) {
	objs := []*unstructured.Unstructured{
		ks("apps", "frontend", true, nil, "backend"),
		ks("apps", "backend", true, nil, "database", "infra"),
		ks("apps", "database", true, nil),
		ks("apps", "a-cycle", true, nil, "b-cycle"),
		ks("apps", "b-cycle", true, nil, "a-cycle"),
		ks("flux-system", "infra", true, nil),
	}
	objs[1].Object["spec"].(map[string]any)["dependsOn"] = []any{map[string]any{"name": "database"}, map[string]any{"name": "infra", "namespace": "flux-system"}}
	var got []string
	for _, u := range ResumeOrder(objs) {
		got = append(got, u.GetNamespace()+"/"+u.GetName())
	}
	want := "apps/b-cycle apps/a-cycle apps/database flux-system/infra apps/backend apps/frontend"
	if strings.Join(got, " ") != want {
		t.Fatalf("order = %s\nwant    %s", strings.Join(got, " "), want)
	}
}

func TestResumeLevels(t *testing.T) {
	objs := []*unstructured.Unstructured{
		ks("apps", "frontend", true, nil, "backend"),
		ks("apps", "backend", true, nil, "database"),
		ks("apps", "database", true, nil),
		ks("apps", "worker", true, nil, "database"),
		ks("apps", "docs", true, nil),
	}
	var got []string
	for _, level := range ResumeLevels(objs) {
		var names []string
		for _, u := range level {
			names = append(names, u.GetName())
		}
		got = append(got, strings.Join(names, ","))
	}
	if want := "database,docs | backend,worker | frontend"; strings.Join(got, " | ") != want {
		t.Fatalf("levels = %s, want %s", strings.Join(got, " | "), want)
	}
}

// The merge patch of a pause names only what changed: the annotations
// added, changed or removed, and spec.suspend when it changes, always
// under the resourceVersion read.
func TestMergePatch(t *testing.T) {
	obj := func(suspend any, annotations map[string]string) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
		u.SetResourceVersion("42")
		u.SetAnnotations(annotations)
		if suspend != nil {
			u.Object["spec"].(map[string]any)["suspend"] = suspend
		}
		return u
	}
	tests := []struct {
		name          string
		before, after *unstructured.Unstructured
		want          string
	}{
		{"pause", obj(nil, map[string]string{"keep": "1"}), obj(true, map[string]string{"keep": "1", "by": "g"}),
			`{"metadata":{"annotations":{"by":"g"},"resourceVersion":"42"},"spec":{"suspend":true}}`},
		{"resume", obj(true, map[string]string{"by": "g", "at": "t"}), obj(false, map[string]string{"at": "u"}),
			`{"metadata":{"annotations":{"at":"u","by":null},"resourceVersion":"42"},"spec":{"suspend":false}}`},
		{"annotations only", obj(true, map[string]string{"by": "g"}), obj(true, map[string]string{"by": "g,h"}),
			`{"metadata":{"annotations":{"by":"g,h"},"resourceVersion":"42"}}`},
		{"nothing", obj(false, nil), obj(false, nil), `{"metadata":{"resourceVersion":"42"}}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := mergePatch(tt.before, tt.after)
			if err != nil {
				t.Fatal(err)
			}
			if string(got) != tt.want {
				t.Errorf("patch = %s, want %s", got, tt.want)
			}
		})
	}
}
