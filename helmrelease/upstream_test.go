package helmrelease

import (
	"context"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/manifest"
)

// TestRenderAllUpstreamCharts renders real charts (downloaded by `make
// upstream-manifests`) as a repository holding them would, backing what
// docs/check.md says of the release: hooks included but test hooks left
// out (ingress-nginx's admission Jobs, podinfo's test Pods), CRDs kept
// cluster-scoped (cert-manager), the chart's kubeVersion checked against
// the Kubernetes rendered for, and dependencies not vendored denied.
func TestRenderAllUpstreamCharts(t *testing.T) {
	up, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	release := func(name, ns, chart, values string) string {
		return `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: ` + name + `, namespace: ` + ns + `}
spec:
  chart:
    spec:
      chart: ` + chart + `
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values: ` + values + `
`
	}
	objs := parse(t, "releases.yaml", strings.Join([]string{
		release("ingress-nginx", "ingress-nginx", "ingress-nginx-chart/charts/ingress-nginx", "{}"),
		release("podinfo", "podinfo", "podinfo-chart/charts/podinfo", "{}"),
		release("cert-manager", "cert-manager", "cert-manager/deploy/charts/cert-manager", "{crds: {enabled: true}}"),
	}, "---\n"))

	rendered, findings, err := RenderAll(context.Background(), objs, up, Options{CacheDir: t.TempDir(), Offline: true})
	if err != nil {
		t.Fatal(err)
	}
	if len(findings) != 0 {
		t.Fatalf("findings %+v", findings)
	}
	got := map[string][]string{}
	for _, o := range rendered {
		got[o.Origin] = append(got[o.Origin], o.Kind()+" "+o.Namespace()+"/"+o.Name())
	}
	for origin, want := range map[string][]string{
		"HelmRelease ingress-nginx/ingress-nginx": {"Job ingress-nginx/ingress-nginx-admission-create", "Job ingress-nginx/ingress-nginx-admission-patch"},
		"HelmRelease podinfo/podinfo":             {"Deployment podinfo/podinfo", "Service podinfo/podinfo"},
		"HelmRelease cert-manager/cert-manager":   {"CustomResourceDefinition /certificates.cert-manager.io", "Job cert-manager/cert-manager-startupapicheck"},
	} {
		for _, w := range want {
			if !slices.Contains(got[origin], w) {
				t.Errorf("%s: %s not rendered; got %v", origin, w, got[origin])
			}
		}
	}
	if p := got["HelmRelease podinfo/podinfo"]; len(p) != 2 {
		t.Errorf("podinfo rendered %v, want its Deployment and Service only (no test hook)", p)
	}

	t.Run("kubeVersion of the chart", func(t *testing.T) {
		_, findings, err := RenderAll(context.Background(), objs[1:2], up, Options{CacheDir: t.TempDir(), Offline: true, KubeVersion: "v1.22.0"})
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 1 || !strings.Contains(findings[0].Message, "kubeVersion") {
			t.Errorf("findings %+v, want podinfo's kubeVersion (>=1.23.0-0) not met", findings)
		}
	})

	t.Run("dependencies not vendored", func(t *testing.T) {
		root := t.TempDir()
		chart := filepath.Join(root, "podinfo")
		if err := os.CopyFS(chart, os.DirFS(filepath.Join(up, "podinfo-chart", "charts", "podinfo"))); err != nil {
			t.Fatal(err)
		}
		f, err := os.OpenFile(filepath.Join(chart, manifest.ChartFile), os.O_APPEND|os.O_WRONLY, 0)
		if err != nil {
			t.Fatal(err)
		}
		_, err = f.WriteString("\ndependencies:\n  - name: redis\n    version: 1.x\n    repository: https://charts.example\n")
		if cerr := f.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			t.Fatal(err)
		}
		hr := parse(t, "podinfo.yaml", release("podinfo", "podinfo", "podinfo", "{}"))
		_, findings, err := RenderAll(context.Background(), hr, root, Options{CacheDir: t.TempDir(), Offline: true})
		if err != nil {
			t.Fatal(err)
		}
		if len(findings) != 1 || !strings.Contains(findings[0].Message, "dependencies not vendored in charts/") {
			t.Errorf("findings %+v, want the missing redis dependency", findings)
		}
	})
}
