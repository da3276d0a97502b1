package chart

import (
	"bytes"
	"os"
	"path/filepath"
	"slices"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	rbacv1 "k8s.io/api/rbac/v1"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// The audit's Reports: the RBAC to write them unless turned off, and the
// OpenReports CRD only when asked, kept on uninstall.
func TestAuditReportsValues(t *testing.T) {
	tests := []struct {
		name      string
		reports   map[string]any
		wantCRD   bool
		wantRBAC  bool
		wantAudit string
	}{
		{"defaults: publish where the CRD exists", nil, false, true, "--audit-interval=10m"},
		{"install the CRD", map[string]any{"installCRD": true}, true, true, "--audit-interval=10m"},
		{"reports off", map[string]any{"enabled": false, "installCRD": true}, false, false, "--audit-interval=10m"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			vals := map[string]any{}
			if tc.reports != nil {
				vals["audit"] = map[string]any{"reports": tc.reports}
			}
			objs := render(t, vals)
			crd, hasCRD := objs["CustomResourceDefinition/reports.openreports.io"]
			if hasCRD != tc.wantCRD {
				t.Fatalf("CRD rendered %v, want %v", hasCRD, tc.wantCRD)
			}
			if hasCRD && crd.GetAnnotations()["helm.sh/resource-policy"] != "keep" {
				t.Errorf("CRD annotations %v: want helm.sh/resource-policy: keep", crd.GetAnnotations())
			}
			role := convert[rbacv1.ClusterRole](t, objs["ClusterRole/"+releaseName])
			rbac := slices.ContainsFunc(role.Rules, func(r rbacv1.PolicyRule) bool { return slices.Contains(r.APIGroups, "openreports.io") })
			if rbac != tc.wantRBAC {
				t.Errorf("openreports.io rule granted %v, want %v", rbac, tc.wantRBAC)
			}
			d := convert[appsv1.Deployment](t, objs["Deployment/"+releaseName])
			if !slices.Contains(d.Spec.Template.Spec.Containers[0].Args, tc.wantAudit) {
				t.Errorf("args %v, want %s", d.Spec.Template.Spec.Containers[0].Args, tc.wantAudit)
			}
		})
	}
}

// The CRD the chart ships is the reports-api module's, byte for byte.
func TestReportsCRDMatchesModule(t *testing.T) {
	dir, err := testenv.IntegrationCRDs()
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(filepath.Join(dir, "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(filepath.Join(chartDir, "files", "openreports.io_reports.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Error("charts/fluxgate/files/openreports.io_reports.yaml differs from the reports-api module's CRD: run make manifests")
	}
}
