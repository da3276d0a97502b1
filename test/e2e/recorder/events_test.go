package recorder

import (
	"slices"
	"testing"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
)

// TestEvents checks which events each change of an object makes.
func TestEvents(t *testing.T) {
	tests := []struct {
		name   string
		stream []obs
		want   []string
	}{
		{
			name: "node cordon, NotReady, Ready, uncordon",
			stream: []obs{
				{0, node("n1", false, true), false},
				{1, node("n1", true, true), false},
				{1, node("n1", true, true), false}, // no change
				{2, node("n1", true, false), false},
				{3, node("n1", false, true), false},
				{4, node("n1", false, true), true},
			},
			want: []string{
				"node n1 seen: Ready, schedulable",
				"node n1 cordoned",
				"node n1 NotReady",
				"node n1 uncordoned",
				"node n1 Ready",
				"node n1 deleted",
			},
		},
		{
			name: "deployment ready replicas and scale",
			stream: []obs{
				{0, deploy("web", 3, 0), false},
				{1, deploy("web", 3, 3), false},
				{2, deploy("web", 3, 3), false},
				{3, deploy("web", 4, 3), false},
			},
			want: []string{
				"deployment apps/web seen: ready 0/3",
				"deployment apps/web ready 3/3",
				"deployment apps/web ready 3/4",
			},
		},
		{
			name: "kustomization suspend, resume and apply at once",
			stream: []obs{
				{0, ks("apps", false, "main@sha1:1"), false},
				{1, ks("apps", true, "main@sha1:1"), false},
				{2, ks("apps", false, "main@sha1:2"), false},
			},
			want: []string{
				`kustomization flux-system/apps seen: active, applied "main@sha1:1"`,
				"kustomization flux-system/apps suspended",
				"kustomization flux-system/apps resumed",
				"kustomization flux-system/apps applied main@sha1:2",
			},
		},
		{
			name: "pdb seen once per spec",
			stream: []obs{
				{0, pdb("web", "2", ""), false},
				{1, pdb("web", "2", ""), false},
				{2, pdb("web", "", "25%"), false},
			},
			want: []string{"pdb apps/web-pdb minAvailable 2", "pdb apps/web-pdb maxUnavailable 25%"},
		},
		{
			name:   "other objects are ignored",
			stream: []obs{{0, "a string", false}, {0, &unstructured.Unstructured{}, false}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got []string
			for _, e := range replay(Options{}, tt.stream).Timeline() {
				got = append(got, e.Describe())
			}
			if !slices.Equal(got, tt.want) {
				t.Errorf("events:\n%q\nwant:\n%q", got, tt.want)
			}
		})
	}
}

// TestUnstructuredKustomization checks that what a dynamic watch
// delivers reads like the typed object.
func TestUnstructuredKustomization(t *testing.T) {
	m, err := runtime.DefaultUnstructuredConverter.ToUnstructured(ks("apps", true, "main@sha1:9"))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: m}
	u.SetAPIVersion("kustomize.toolkit.fluxcd.io/v1")
	u.SetKind("Kustomization")
	r := New(Options{})
	r.ObserveAt(t0, u)
	got := r.Current().Kustomizations["flux-system/apps"]
	if want := (KustomizationState{Suspended: true, Revision: "main@sha1:9"}); got != want {
		t.Fatalf("state %+v, want %+v", got, want)
	}
}

// TestTimelineOrder checks that an event observed late still lands in
// time order.
func TestTimelineOrder(t *testing.T) {
	r := replay(Options{}, []obs{
		{2, node("b", false, true), false},
		{1, node("a", false, true), false},
		{3, node("c", false, true), false},
	})
	var got []string
	for _, e := range r.Timeline() {
		got = append(got, e.Object)
	}
	if want := []string{"a", "b", "c"}; !slices.Equal(got, want) {
		t.Fatalf("order %v, want %v", got, want)
	}
}
