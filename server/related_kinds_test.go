package server

import (
	"sort"
	"strings"
	"testing"

	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"

	"github.com/fluxgate/fluxgate/policy"
)

// Every kind the policies read as a related object has its informer
// started with the cache, so /readyz waits for it and no request waits
// for a first list.
func TestRelatedKindsAreCachedAtStart(t *testing.T) {
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	cached := map[string]bool{}
	for _, obj := range relatedKinds {
		gvk, err := apiutil.GVKForObject(obj, scheme)
		if err != nil {
			t.Fatal(err)
		}
		cached[gvk.Kind] = true
	}
	var missing []string
	for kind := range policy.RelatedKinds {
		if !cached[kind] {
			missing = append(missing, kind)
		}
	}
	sort.Strings(missing)
	if len(missing) > 0 {
		t.Fatalf("related kinds without an informer at start: %s", strings.Join(missing, ", "))
	}
}
