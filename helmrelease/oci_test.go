package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync/atomic"
	"testing"

	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/registry"
)

// ociRegistry is a read-only OCI distribution registry on 127.0.0.1 (plain
// HTTP) holding testdata/remote-chart as the repository "charts/api", one
// manifest per version given, as `helm push` stores charts.
type ociRegistry struct {
	*httptest.Server
	requests atomic.Int64
}

func newOCIRegistry(t *testing.T, versions ...string) *ociRegistry {
	t.Helper()
	blobs := map[string][]byte{}
	manifests := map[string][]byte{} // by tag and by digest
	var tags []string
	add := func(data []byte) string {
		d := fmt.Sprintf("sha256:%x", sha256.Sum256(data))
		blobs[d] = data
		return d
	}
	for _, v := range versions {
		ch, err := loader.LoadDir("testdata/remote-chart")
		if err != nil {
			t.Fatal(err)
		}
		ch.Metadata.Version = v
		p, err := chartutil.Save(ch, t.TempDir())
		if err != nil {
			t.Fatal(err)
		}
		archive, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		config, err := json.Marshal(ch.Metadata)
		if err != nil {
			t.Fatal(err)
		}
		m, err := json.Marshal(map[string]any{
			"schemaVersion": 2,
			"mediaType":     "application/vnd.oci.image.manifest.v1+json",
			"config":        map[string]any{"mediaType": registry.ConfigMediaType, "digest": add(config), "size": len(config)},
			"layers":        []any{map[string]any{"mediaType": registry.ChartLayerMediaType, "digest": add(archive), "size": len(archive)}},
		})
		if err != nil {
			t.Fatal(err)
		}
		manifests[v] = m
		manifests[fmt.Sprintf("sha256:%x", sha256.Sum256(m))] = m
		tags = append(tags, v)
	}
	reg := &ociRegistry{}
	reg.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		reg.requests.Add(1)
		const prefix = "/v2/charts/api/"
		switch {
		case r.URL.Path == "/v2/":
			w.WriteHeader(http.StatusOK)
		case r.URL.Path == prefix+"tags/list":
			w.Header().Set("Content-Type", "application/json")
			_ = json.NewEncoder(w).Encode(map[string]any{"name": "charts/api", "tags": tags})
		case strings.HasPrefix(r.URL.Path, prefix+"manifests/"):
			m, ok := manifests[strings.TrimPrefix(r.URL.Path, prefix+"manifests/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Type", "application/vnd.oci.image.manifest.v1+json")
			w.Header().Set("Docker-Content-Digest", fmt.Sprintf("sha256:%x", sha256.Sum256(m)))
			w.Header().Set("Content-Length", fmt.Sprint(len(m)))
			if r.Method != http.MethodHead {
				_, _ = w.Write(m)
			}
		case strings.HasPrefix(r.URL.Path, prefix+"blobs/"):
			b, ok := blobs[strings.TrimPrefix(r.URL.Path, prefix+"blobs/")]
			if !ok {
				http.NotFound(w, r)
				return
			}
			w.Header().Set("Content-Length", fmt.Sprint(len(b)))
			if r.Method != http.MethodHead {
				_, _ = w.Write(b)
			}
		default:
			http.NotFound(w, r)
		}
	}))
	t.Cleanup(reg.Close)
	return reg
}

// TestRenderAllOCI renders charts pulled from an OCI registry started by
// the test: through a HelmRepository of type oci (newest tag satisfying
// the version) and through an OCIRepository named by spec.chartRef
// (semver, tag and digest references), then offline from the cache.
func TestRenderAllOCI(t *testing.T) {
	t.Setenv("HOME", t.TempDir()) // no registry credentials of the user
	reg := newOCIRegistry(t, "1.0.0", "1.4.2", "2.0.0")
	host := strings.TrimPrefix(reg.URL, "http://")
	digest := func() string {
		req, _ := http.NewRequest(http.MethodHead, reg.URL+"/v2/charts/api/manifests/2.0.0", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.Header.Get("Docker-Content-Digest")
	}()
	objs := parse(t, "oci.yaml", `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: oci-charts, namespace: apps}
spec: {type: oci, insecure: true, url: "oci://`+host+`/charts"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: from-helmrepository, namespace: apps}
spec:
  chart:
    spec:
      chart: api
      version: "~1.0"
      sourceRef: {kind: HelmRepository, name: oci-charts}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: api-semver, namespace: apps}
spec: {insecure: true, url: "oci://`+host+`/charts/api", ref: {semver: "1.x"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: from-semver, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: api-semver}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: api-tag, namespace: apps}
spec: {insecure: true, url: "oci://`+host+`/charts/api", ref: {tag: "1.0.0"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: from-tag, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: api-tag}
---
apiVersion: source.toolkit.fluxcd.io/v1
kind: OCIRepository
metadata: {name: api-digest, namespace: apps}
spec: {insecure: true, url: "oci://`+host+`/charts/api", ref: {digest: "`+digest+`"}}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: from-digest, namespace: apps}
spec:
  chartRef: {kind: OCIRepository, name: api-digest}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: no-such-version, namespace: apps}
spec:
  chart:
    spec:
      chart: api
      version: ">=3"
      sourceRef: {kind: HelmRepository, name: oci-charts}
`)
	cacheDir := t.TempDir()
	want := map[string]string{
		"HelmRelease apps/from-helmrepository": "api-1.0.0",
		"HelmRelease apps/from-semver":         "api-1.4.2",
		"HelmRelease apps/from-tag":            "api-1.0.0",
		"HelmRelease apps/from-digest":         "api-2.0.0",
	}
	tests := []struct {
		name    string
		offline bool
	}{
		{name: "online"},
		{name: "offline, from the cache", offline: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := reg.requests.Load()
			rendered, findings, err := RenderAll(context.Background(), objs, repoDir, Options{CacheDir: cacheDir, Offline: tt.offline})
			if err != nil {
				t.Fatal(err)
			}
			got := map[string]string{}
			for _, o := range rendered {
				if o.Kind() == "Deployment" {
					labels, _ := o.Data["metadata"].(map[string]any)["labels"].(map[string]any)
					got[o.Origin], _ = labels["chart"].(string)
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("charts rendered %v, want %v", got, want)
			}
			if len(findings) != 1 || nsName(&findings[0].Object) != "apps/no-such-version" {
				t.Errorf("findings %+v, want one on apps/no-such-version", findings)
			}
			if n := reg.requests.Load() - before; tt.offline && n != 0 {
				t.Errorf("offline run made %d requests", n)
			}
		})
	}
}
