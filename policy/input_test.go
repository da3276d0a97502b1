package policy

import "testing"

func TestKindOf(t *testing.T) {
	for _, tc := range []struct {
		apiVersion string
		want       GroupVersionKind
	}{
		{"apps/v1", GroupVersionKind{Group: "apps", Version: "v1", Kind: "K"}},
		{"v1", GroupVersionKind{Version: "v1", Kind: "K"}},
		{"kustomize.toolkit.fluxcd.io/v1", GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "K"}},
		{"", GroupVersionKind{Kind: "K"}},
	} {
		if got := KindOf(tc.apiVersion, "K"); got != tc.want {
			t.Errorf("KindOf(%q) = %+v, want %+v", tc.apiVersion, got, tc.want)
		}
	}
}
