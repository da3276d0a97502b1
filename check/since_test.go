package check

import (
	"fmt"
	"testing"
)

func TestReportSince(t *testing.T) {
	r := func(cluster, policy, action, msg string) Result {
		return Result{Cluster: cluster, Origin: "Kustomization flux-system/apps", Kind: "Deployment", Namespace: "podinfo", Name: "podinfo",
			Policy: policy, Action: action, Message: msg, File: "apps/" + cluster}
	}
	tests := []struct {
		name       string
		now, base  []Result
		want       []string
		deny, warn int
	}{
		{name: "nothing new", now: []Result{r("a", "p", "deny", "m")}, base: []Result{r("a", "p", "deny", "m")}},
		{name: "another cluster is new", now: []Result{r("a", "p", "deny", "m"), r("b", "p", "deny", "m")}, base: []Result{r("a", "p", "deny", "m")},
			want: []string{"b p deny m"}, deny: 1},
		{name: "a changed message is new", now: []Result{r("a", "p", "warn", "m2")}, base: []Result{r("a", "p", "warn", "m")},
			want: []string{"a p warn m2"}, warn: 1},
		{name: "a repeated finding counts", now: []Result{r("a", "p", "deny", "m"), r("a", "p", "deny", "m")}, base: []Result{r("a", "p", "deny", "m")},
			want: []string{"a p deny m"}, deny: 1},
		{name: "a moved file is not new", now: []Result{{Cluster: "a", Policy: "p", Action: "deny", Message: "m", File: "new.yaml"}},
			base: []Result{{Cluster: "a", Policy: "p", Action: "deny", Message: "m", File: "old.yaml"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := &Report{Results: tt.now, Summary: Summary{Objects: 7}}
			got := now.Since(&Report{Results: tt.base})
			var rs []string
			for _, x := range got.Results {
				rs = append(rs, fmt.Sprintf("%s %s %s %s", x.Cluster, x.Policy, x.Action, x.Message))
			}
			if fmt.Sprint(rs) != fmt.Sprint(tt.want) || got.Summary.Deny != tt.deny || got.Summary.Warn != tt.warn || got.Summary.Objects != 7 {
				t.Errorf("Since = %v %+v, want %v deny %d warn %d", rs, got.Summary, tt.want, tt.deny, tt.warn)
			}
			if got.Denied() != (tt.deny > 0) {
				t.Errorf("Denied() = %v", got.Denied())
			}
		})
	}
}
