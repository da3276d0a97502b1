package chart

import (
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
)

// webhook.maxConcurrentReviews becomes --max-concurrent-reviews; unset (0)
// it is left to fluxgate's default, one per core.
func TestMaxConcurrentReviews(t *testing.T) {
	for _, tc := range []struct {
		name string
		vals map[string]any
		want string // the flag, or "" for none
	}{
		{name: "default", vals: nil},
		{name: "zero", vals: map[string]any{"webhook": map[string]any{"maxConcurrentReviews": 0}}},
		{name: "set", vals: map[string]any{"webhook": map[string]any{"maxConcurrentReviews": 8}}, want: "--max-concurrent-reviews=8"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			d := convert[appsv1.Deployment](t, render(t, tc.vals)["Deployment/fluxgate"])
			args := d.Spec.Template.Spec.Containers[0].Args
			got := slices.IndexFunc(args, func(a string) bool { return strings.HasPrefix(a, "--max-concurrent-reviews") })
			switch {
			case tc.want == "" && got >= 0:
				t.Errorf("args %v: want no --max-concurrent-reviews", args)
			case tc.want != "" && (got < 0 || args[got] != tc.want):
				t.Errorf("args %v: want %s", args, tc.want)
			}
		})
	}
}
