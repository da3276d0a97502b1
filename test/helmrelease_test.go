package test

import (
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-git/go-git/v5"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// serveChart packages the chart in dir at version and serves it from an
// HTTP Helm repository on 127.0.0.1; requests counts what it answers.
func serveChart(t *testing.T, dir, version string, requests *atomic.Int64) *httptest.Server {
	t.Helper()
	out := t.TempDir()
	ch, err := loader.LoadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	ch.Metadata.Version = version
	p, err := chartutil.Save(ch, out)
	if err != nil {
		t.Fatal(err)
	}
	data, err := os.ReadFile(p)
	if err != nil {
		t.Fatal(err)
	}
	idx := repo.NewIndexFile()
	if err := idx.MustAdd(ch.Metadata, filepath.Base(p), "", fmt.Sprintf("sha256:%x", sha256.Sum256(data))); err != nil {
		t.Fatal(err)
	}
	if err := idx.WriteFile(filepath.Join(out, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	files := http.FileServer(http.Dir(out))
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(srv.Close)
	return srv
}

// TestCheckHelmReleases runs `fluxgate check` over a repository of
// HelmReleases (helmrelease/testdata/repo: a chart directory in the tree,
// releases of it through the GitRepository, two that cannot be rendered)
// plus one release of a chart served by a Helm repository started here:
// rendered workloads are checked and located at their HelmRelease, the
// releases that cannot be rendered are denied, and --offline fetches
// nothing, reporting a chart not in the cache and rendering one that is.
func TestCheckHelmReleases(t *testing.T) {
	var requests atomic.Int64
	srv := serveChart(t, "../helmrelease/testdata/remote-chart", "1.2.0", &requests)
	dir := t.TempDir()
	if err := os.CopyFS(dir, os.DirFS("../helmrelease/testdata/repo")); err != nil {
		t.Fatal(err)
	}
	remote := `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata: {name: charts, namespace: flux-system}
spec: {interval: 1h, url: "` + srv.URL + `"}
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: api, namespace: apps}
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      version: 1.x
      sourceRef: {kind: HelmRepository, name: charts, namespace: flux-system}
`
	if err := os.WriteFile(filepath.Join(dir, "apps", "remote.yaml"), []byte(remote), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(dir)
	cache := t.TempDir() // XDG_CACHE_HOME, shared by the cases in order
	t.Setenv("XDG_CACHE_HOME", cache)
	t.Setenv("HOME", cache)

	local := []string{
		`deny rollout-strategy Deployment apps/blog-site origin="HelmRelease apps/blog" file=apps/blog.yaml`,
		`deny fluxgate HelmRelease apps/missing-chart origin="" file=apps/broken.yaml`,
		`deny fluxgate HelmRelease apps/bad-values origin="" file=apps/broken.yaml`,
	}
	remoteDenied := `deny rollout-strategy Deployment apps/api origin="HelmRelease apps/api" file=apps/remote.yaml`
	remoteUnfetched := `deny fluxgate HelmRelease apps/api origin="" file=apps/remote.yaml`
	tests := []struct {
		name         string
		args         []string
		want         []string // among the results
		wantNot      []string
		wantRequests bool
	}{
		{name: "offline, empty cache: the remote chart is reported", args: []string{"--offline"},
			want: append(local, remoteUnfetched), wantNot: []string{remoteDenied}},
		{name: "online: the remote chart is fetched and checked", want: append(local, remoteDenied),
			wantNot: []string{remoteUnfetched}, wantRequests: true},
		{name: "offline after an online run: rendered from the cache", args: []string{"--offline"},
			want: append(local, remoteDenied), wantNot: []string{remoteUnfetched}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := requests.Load()
			rep, res := checkJSON(t, append([]string{"."}, tt.args...)...)
			if res.code != 1 {
				t.Fatalf("exit %d, want 1\nstderr: %s\nstdout: %s", res.code, res.stderr, res.stdout)
			}
			got := map[string]bool{}
			for _, r := range rep.Results {
				got[fmt.Sprintf("%s %s %s %s/%s origin=%q file=%s", r.Action, r.Policy, r.Kind, r.Namespace, r.Name, r.Origin, r.File)] = true
				if r.Action == "deny" && r.Namespace == "shop" {
					t.Errorf("the compliant release is denied: %+v", r)
				}
				if r.Policy == "fluxgate" && r.Name == "api" && !strings.Contains(r.Message, "not fetched (--offline)") {
					t.Errorf("unfetched chart reported as %q", r.Message)
				}
			}
			for _, w := range tt.want {
				if !got[w] {
					t.Errorf("missing result %s", w)
				}
			}
			for _, w := range tt.wantNot {
				if got[w] {
					t.Errorf("unexpected result %s", w)
				}
			}
			if n := requests.Load() - before; (n > 0) != tt.wantRequests {
				t.Errorf("%d requests to the Helm repository", n)
			}
			if t.Failed() {
				t.Logf("results: %s", res.stdout)
			}
		})
	}
}

// TestCheckHelmReleasesSyncRoot: a Flux repository kept in a folder of a
// larger Git work tree renders its local charts from the folder its
// flux-system sync points back at, as the Flux step takes it, not from the
// top of the work tree.
func TestCheckHelmReleasesSyncRoot(t *testing.T) {
	top := t.TempDir()
	if _, err := git.PlainInit(top, false); err != nil {
		t.Fatal(err)
	}
	fleet := filepath.Join(top, "fleet")
	if err := os.CopyFS(fleet, os.DirFS("../helmrelease/testdata/repo")); err != nil {
		t.Fatal(err)
	}
	sync := `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata: {name: flux-system, namespace: flux-system}
spec:
  interval: 10m
  path: ./clusters/prod
  prune: true
  sourceRef: {kind: GitRepository, name: flux-system}
`
	if err := os.WriteFile(filepath.Join(fleet, "clusters", "prod", "flux-system", "kustomization-sync.yaml"), []byte(sync), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(top)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	rep, res := checkJSON(t, "--offline", "fleet")
	if res.code == 0 {
		t.Fatalf("exit 0, want 1: %s", res.stdout)
	}
	checked := false
	for _, r := range rep.Results {
		if r.Policy == "fluxgate" && strings.Contains(r.Message, "no such directory") && r.Name != "missing-chart" {
			t.Errorf("chart looked up outside the Flux repository: %s", r.Message)
		}
		checked = checked || (r.Policy == "rollout-strategy" && r.Name == "blog-site" && r.Origin == "HelmRelease apps/blog")
	}
	if !checked {
		t.Errorf("the local chart's workload was not checked: %s", res.stdout)
	}
}

// TestCheckHelmReleasesGit: with --git, local charts come from the
// revision checked (here of a bare clone, as CI keeps repositories), not
// from any work tree.
func TestCheckHelmReleasesGit(t *testing.T) {
	work, _ := gitRepo(t, "../helmrelease/testdata/repo", "Add apps")
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := git.PlainClone(bare, true, &git.CloneOptions{URL: work}); err != nil {
		t.Fatal(err)
	}
	t.Chdir(t.TempDir())
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	rep, res := checkJSON(t, "--offline", "--git", bare, "--ref", "master")
	if res.code == 0 {
		t.Fatalf("exit 0, want 1: %s", res.stdout)
	}
	var got []string
	for _, r := range rep.Results {
		if r.Policy == "rollout-strategy" || r.Policy == "fluxgate" {
			got = append(got, fmt.Sprintf("%s %s %s %s origin=%q", r.Policy, r.Kind, r.Name, r.File, r.Origin))
		}
	}
	want := []string{
		`fluxgate HelmRelease missing-chart git:master:apps/broken.yaml origin=""`,
		`fluxgate HelmRelease bad-values git:master:apps/broken.yaml origin=""`,
		`rollout-strategy Deployment blog-site git:master:apps/blog.yaml origin="HelmRelease apps/blog"`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("results\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// TestCheckHelmReleasesOutsideGit renders a release of podinfo's own chart
// (downloaded by `make upstream-manifests`) from a Flux repository that is
// not in a Git work tree (an exported tarball, a CI artifact), checked by
// its path from the directory above: the chart is found under that path,
// as the Flux step takes it, not under the current directory.
func TestCheckHelmReleasesOutsideGit(t *testing.T) {
	up, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	top := t.TempDir()
	if err := os.CopyFS(filepath.Join(top, "fleet", "charts", "podinfo"), os.DirFS(filepath.Join(up, "podinfo-chart", "charts", "podinfo"))); err != nil {
		t.Fatal(err)
	}
	release := `apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: podinfo, namespace: apps}
spec:
  interval: 10m
  chart:
    spec:
      chart: ./charts/podinfo
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values: {replicaCount: 2}
`
	if err := os.MkdirAll(filepath.Join(top, "fleet", "apps"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(top, "fleet", "apps", "podinfo.yaml"), []byte(release), 0o644); err != nil {
		t.Fatal(err)
	}
	t.Chdir(top)
	t.Setenv("XDG_CACHE_HOME", t.TempDir())
	rep, res := checkJSON(t, "--offline", "fleet")
	var got []string
	for _, r := range rep.Results {
		if r.Action == "deny" {
			got = append(got, fmt.Sprintf("%s %s %s %s/%s origin=%q file=%s: %s", r.Action, r.Policy, r.Kind, r.Namespace, r.Name, r.Origin, r.File, r.Message))
		}
	}
	want := []string{
		`deny pdb-coverage Deployment apps/podinfo origin="HelmRelease apps/podinfo" file=fleet/apps/podinfo.yaml: Deployment apps/podinfo: 2 expected pods but no PodDisruptionBudget selects pods labelled app.kubernetes.io/name=podinfo; add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow so node drains evict at most one pod at a time`,
		`deny rollout-strategy Deployment apps/podinfo origin="HelmRelease apps/podinfo" file=fleet/apps/podinfo.yaml: Deployment apps/podinfo: spec.strategy.rollingUpdate.maxUnavailable is 1; set it to 0 so no ready pod is removed before its replacement is ready`,
	}
	if res.code != 1 || strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("exit %d, denials\n%s\nwant\n%s\nstderr: %s", res.code, strings.Join(got, "\n"), strings.Join(want, "\n"), res.stderr)
	}
}
