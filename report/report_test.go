package report

import (
	"bytes"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/check"
)

// TestWriteNamesClusterAndOrigin: every format names the cluster and the
// Flux object an object came from, and says nothing of them for objects
// read directly.
func TestWriteNamesClusterAndOrigin(t *testing.T) {
	rep := &check.Report{Results: []check.Result{
		{Policy: "pdb-coverage", Action: "deny", Kind: "Deployment", Namespace: "infra", Name: "ingress", File: "infrastructure",
			Message: "no budget", Cluster: "clusters/production", Origin: "Kustomization flux-system/infrastructure"},
		{Policy: "pdb-coverage", Action: "deny", Kind: "Deployment", Namespace: "infra", Name: "ingress", File: "infrastructure",
			Message: "no budget", Cluster: "clusters/staging", Origin: "Kustomization flux-system/infrastructure"},
		{Policy: "readiness-probe", Action: "warn", Kind: "Deployment", Namespace: "loose", Name: "loose", File: "loose.yaml", Line: 1,
			Message: "no probe"},
	}, Summary: check.Summary{Objects: 3, Deny: 2, Warn: 1}}
	tests := []struct {
		format  string
		want    []string
		notWant string
	}{
		{format: "text", want: []string{
			"infrastructure [pdb-coverage] Deployment infra/ingress (cluster clusters/production, Kustomization flux-system/infrastructure)",
			"infrastructure [pdb-coverage] Deployment infra/ingress (cluster clusters/staging, Kustomization flux-system/infrastructure)",
			"loose.yaml:1 [readiness-probe] Deployment loose/loose\n",
		}, notWant: "loose/loose ("},
		{format: "junit", want: []string{
			`name="Deployment infra/ingress (cluster clusters/production, Kustomization flux-system/infrastructure)"`,
			`name="Deployment infra/ingress (cluster clusters/staging, Kustomization flux-system/infrastructure)"`,
			`name="Deployment loose/loose"`,
		}, notWant: "loose/loose ("},
		{format: "sarif", want: []string{
			`"Deployment infra/ingress (cluster clusters/production, Kustomization flux-system/infrastructure): no budget"`,
			`"Deployment infra/ingress (cluster clusters/staging, Kustomization flux-system/infrastructure): no budget"`,
			`"Deployment loose/loose: no probe"`,
		}},
		{format: "json", want: []string{`"cluster": "clusters/production"`, `"origin": "Kustomization flux-system/infrastructure"`}},
	}
	for _, tt := range tests {
		t.Run(tt.format, func(t *testing.T) {
			var b bytes.Buffer
			if err := Write(&b, tt.format, rep); err != nil {
				t.Fatal(err)
			}
			for _, w := range tt.want {
				if !strings.Contains(b.String(), w) {
					t.Errorf("output lacks %q:\n%s", w, b.String())
				}
			}
			if tt.notWant != "" && strings.Contains(b.String(), tt.notWant) {
				t.Errorf("output has %q:\n%s", tt.notWant, b.String())
			}
		})
	}
}
