package relatedkinds

import (
	"maps"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"

	"github.com/fluxgate/fluxgate/policy"
)

// The API readers read every kind the policies are given as related
// objects, and no other.
func TestAllAreThePoliciesRelatedKinds(t *testing.T) {
	var kinds []string
	for _, k := range All {
		kinds = append(kinds, k.Kind)
	}
	slices.Sort(kinds)
	if want := slices.Sorted(maps.Keys(policy.RelatedKinds)); !slices.Equal(kinds, want) {
		t.Fatalf("kinds %v, want policy.RelatedKinds %v", kinds, want)
	}
}

// Each kind makes objects and lists of its own type, and Items hands out
// the list's own items, so that reading them copies nothing.
func TestKindsMakeTheirTypes(t *testing.T) {
	scheme := clientgoscheme.Scheme
	for _, k := range All {
		obj, list := k.New(), k.NewList()
		if gvks, _, err := scheme.ObjectKinds(obj); err != nil || len(gvks) != 1 || gvks[0] != k.GroupVersionKind {
			t.Errorf("%s: New made a %v (%v)", k.GroupVersionKind, gvks, err)
		}
		wantList := k.GroupVersion().WithKind(k.Kind + "List")
		if gvks, _, err := scheme.ObjectKinds(list); err != nil || len(gvks) != 1 || gvks[0] != wantList {
			t.Errorf("%s: NewList made a %v (%v)", k.GroupVersionKind, gvks, err)
		}
		if items := k.Items(list); len(items) != 0 {
			t.Errorf("%s: an empty list has %d items", k.Kind, len(items))
		}
	}
	list := &appsv1.DeploymentList{Items: []appsv1.Deployment{{ObjectMeta: metav1.ObjectMeta{Name: "a"}}, {ObjectMeta: metav1.ObjectMeta{Name: "b"}}}}
	items := All[0].Items(list)
	if len(items) != 2 || items[1] != &list.Items[1] {
		t.Fatalf("items %v: want the addresses of the list's items", items)
	}
}
