package helmrelease

import (
	"context"
	"crypto/sha256"
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

const repoDir = "testdata/repo"

// helmRepo serves testdata/remote-chart, packaged in the test at each
// version given, as an HTTP Helm repository on 127.0.0.1, and counts the
// requests it answers.
type helmRepo struct {
	*httptest.Server
	requests atomic.Int64
}

func newHelmRepo(t *testing.T, versions ...string) *helmRepo {
	t.Helper()
	dir := t.TempDir()
	idx := repo.NewIndexFile()
	for _, v := range versions {
		ch, err := loader.LoadDir("testdata/remote-chart")
		if err != nil {
			t.Fatal(err)
		}
		ch.Metadata.Version = v
		p, err := chartutil.Save(ch, dir)
		if err != nil {
			t.Fatal(err)
		}
		data, err := os.ReadFile(p)
		if err != nil {
			t.Fatal(err)
		}
		// Relative URLs, as `helm repo index` writes them.
		if err := idx.MustAdd(ch.Metadata, filepath.Base(p), "", fmt.Sprintf("sha256:%x", sha256.Sum256(data))); err != nil {
			t.Fatal(err)
		}
	}
	if err := idx.WriteFile(filepath.Join(dir, "index.yaml"), 0o644); err != nil {
		t.Fatal(err)
	}
	h := &helmRepo{}
	files := http.FileServer(http.Dir(dir))
	h.Server = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.requests.Add(1)
		files.ServeHTTP(w, r)
	}))
	t.Cleanup(h.Close)
	return h
}

// parse reads YAML documents as objects of file.
func parse(t *testing.T, file, yaml string) []manifest.Object {
	t.Helper()
	dir := t.TempDir()
	p := filepath.Join(dir, "objects.yaml")
	if err := os.WriteFile(p, []byte(yaml), 0o644); err != nil {
		t.Fatal(err)
	}
	objs, err := manifest.LoadPaths([]string{p}, nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := range objs {
		objs[i].File = file
	}
	return objs
}

// remoteReleases are a HelmRepository served by srv and HelmReleases of
// its chart "api".
func remoteReleases(t *testing.T, srv *helmRepo) []manifest.Object {
	return parse(t, "remote.yaml", `apiVersion: source.toolkit.fluxcd.io/v1
kind: HelmRepository
metadata:
  name: charts
  namespace: flux-system
spec:
  interval: 1h
  url: `+srv.URL+`/
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: api
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      version: "^1.0.0"
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
  values:
    image:
      tag: "2.1"
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: api-old
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      version: "<1.1.0"
      valuesFiles: [values.yaml, values-canary.yaml]
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: api-none
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      version: "3.x"
      sourceRef:
        kind: HelmRepository
        name: charts
        namespace: flux-system
---
apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata:
  name: no-source
  namespace: apps
spec:
  interval: 10m
  chart:
    spec:
      chart: api
      sourceRef:
        kind: HelmRepository
        name: elsewhere
`)
}

// gist is what a test compares of a rendered object.
func gist(o manifest.Object) string {
	s := fmt.Sprintf("%s %s/%s origin=%q file=%s", o.Kind(), o.Namespace(), o.Name(), o.Origin, o.File)
	if o.Kind() == "Deployment" {
		spec, _ := o.Data["spec"].(map[string]any)
		tmpl, _ := spec["template"].(map[string]any)
		pod, _ := tmpl["spec"].(map[string]any)
		containers, _ := pod["containers"].([]any)
		c, _ := containers[0].(map[string]any)
		meta, _ := o.Data["metadata"].(map[string]any)
		labels, _ := meta["labels"].(map[string]any)
		ru, _ := spec["strategy"].(map[string]any)["rollingUpdate"].(map[string]any)
		s += fmt.Sprintf(" replicas=%v maxUnavailable=%v image=%v chart=%v owner=%v/%v",
			spec["replicas"], ru["maxUnavailable"], c["image"], labels["chart"], labels[LabelNamespace], labels[LabelName])
	}
	return s
}

func loadRepo(t *testing.T) []manifest.Object {
	t.Helper()
	objs, err := manifest.LoadPaths([]string{repoDir}, nil)
	if err != nil {
		t.Fatalf("walking a repository with a chart directory: %v", err)
	}
	return objs
}

func TestRenderAll(t *testing.T) {
	srv := newHelmRepo(t, "0.9.0", "1.0.0", "1.1.0", "2.0.0")
	objs := append(loadRepo(t), remoteReleases(t, srv)...)
	rendered, findings, err := RenderAll(context.Background(), objs, repoDir, Options{CacheDir: t.TempDir(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}

	byOrigin := map[string][]string{}
	sets := map[string]string{}
	for _, o := range rendered {
		byOrigin[o.Origin] = append(byOrigin[o.Origin], gist(o))
		if s, ok := sets[o.Origin]; ok && s != o.Set {
			t.Errorf("%s: objects in sets %q and %q", o.Origin, s, o.Set)
		}
		sets[o.Origin] = o.Set
	}
	web, blog := `origin="HelmRelease apps/web" file=testdata/repo/apps/web.yaml`, `origin="HelmRelease apps/blog" file=testdata/repo/apps/blog.yaml`
	api, apiOld := `origin="HelmRelease apps/api" file=remote.yaml`, `origin="HelmRelease apps/api-old" file=remote.yaml`
	tests := []struct {
		name    string
		release string
		want    []string
	}{
		{
			// values.yaml < valuesFrom ConfigMap < valuesFrom Secret at
			// targetPath < spec.values; optional missing ConfigMap skipped;
			// targetNamespace names the release and holds its objects.
			name: "local chart through the GitRepository, values and valuesFrom", release: "HelmRelease apps/web",
			want: []string{
				"PodDisruptionBudget shop/shop-web " + web,
				"Service shop/shop-web " + web,
				"Deployment shop/shop-web " + web + " replicas=3 maxUnavailable=0 image=registry.example/web:1.28.1 chart=web-0.3.0 owner=apps/web",
			},
		},
		{
			name: "releaseName, the HelmRelease's namespace", release: "HelmRelease apps/blog",
			want: []string{
				"Service apps/blog-site " + blog,
				"Deployment apps/blog-site " + blog + " replicas=1 maxUnavailable=1 image=nginx:1.27 chart=web-0.3.0 owner=apps/blog",
			},
		},
		{
			name: "valuesFiles of the GitRepository, merged in order, a missing one ignored", release: "HelmRelease apps/valuesfiles",
			want: []string{
				`PodDisruptionBudget shop/shop-valuesfiles origin="HelmRelease apps/valuesfiles" file=testdata/repo/apps/valuesfiles.yaml`,
				`Service shop/shop-valuesfiles origin="HelmRelease apps/valuesfiles" file=testdata/repo/apps/valuesfiles.yaml`,
				`Deployment shop/shop-valuesfiles origin="HelmRelease apps/valuesfiles" file=testdata/repo/apps/valuesfiles.yaml replicas=2 maxUnavailable=0 image=nginx:1.27-prod chart=web-0.3.0 owner=apps/valuesfiles`,
			},
		},
		{
			name: "post-renderers: kustomize patches and images, in order", release: "HelmRelease apps/patched",
			want: []string{
				`Service apps/patched origin="HelmRelease apps/patched" file=testdata/repo/apps/patched.yaml`,
				`Deployment apps/patched origin="HelmRelease apps/patched" file=testdata/repo/apps/patched.yaml replicas=1 maxUnavailable=0 image=mirror.example/nginx:1.27-patched chart=web-0.3.0 owner=apps/patched`,
			},
		},
		{
			name: "Helm repository: newest version satisfying ^1.0.0", release: "HelmRelease apps/api",
			want: []string{"Deployment apps/api " + api + " replicas=2 maxUnavailable=1 image=images.example/api:2.1 chart=api-1.1.0 owner=apps/api"},
		},
		{
			name: "Helm repository: newest version satisfying <1.1.0, valuesFiles of the chart", release: "HelmRelease apps/api-old",
			want: []string{"Deployment apps/api-old " + apiOld + " replicas=4 maxUnavailable=1 image=images.example/api:2.0 chart=api-1.0.0 owner=apps/api-old"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := byOrigin[tt.release]; strings.Join(got, "\n") != strings.Join(tt.want, "\n") {
				t.Errorf("rendered\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(tt.want, "\n"))
			}
		})
	}
	if len(byOrigin) != len(tests) {
		t.Errorf("rendered releases %v, want the %d above", keys(byOrigin), len(tests))
	}

	wantFindings := map[string]string{
		"apps/missing-chart": `HelmRelease apps/missing-chart could not be rendered, so its workloads are not checked: chart "./charts/nope" of the GitRepository: no such directory in the repository checked (testdata/repo)`,
		"apps/bad-values":    "values don't meet the specifications of the schema(s) in the following chart(s): web: - at '/replicas': got string, want integer",
		"apps/api-none":      `no version of chart "api" satisfies "3.x"`,
		"apps/no-source":     "HelmRepository apps/elsewhere not found among the objects checked",
	}
	for _, f := range findings {
		t.Logf("%s: %s", nsName(&f.Object), f.Message)
	}
	if len(findings) != len(wantFindings) {
		t.Errorf("got %d findings, want %d: %+v", len(findings), len(wantFindings), findings)
	}
	for _, f := range findings {
		want, ok := wantFindings[nsName(&f.Object)]
		if !ok || f.Action != policy.ActionDeny || f.Object.Kind() != "HelmRelease" || !strings.Contains(f.Message, want) {
			t.Errorf("finding on %s %s: %s %q; want deny containing %q", f.Object.Kind(), nsName(&f.Object), f.Action, f.Message, want)
		}
	}
}

func keys(m map[string][]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

// TestRenderAllOffline: offline, nothing is fetched; a chart not in the
// cache is reported, one cached by an earlier run is rendered, and local
// charts need no cache.
func TestRenderAllOffline(t *testing.T) {
	srv := newHelmRepo(t, "1.0.0")
	objs := append(loadRepo(t), remoteReleases(t, srv)...)
	cacheDir := t.TempDir()
	tests := []struct {
		name        string
		warm        bool // an online run fills the cache first
		wantRelease bool
	}{
		{name: "empty cache: the remote chart is reported, not passed"},
		{name: "cache filled online: rendered without the network", warm: true, wantRelease: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.warm {
				if _, _, err := RenderAll(context.Background(), objs, repoDir, Options{CacheDir: cacheDir, HTTPClient: srv.Client()}); err != nil {
					t.Fatal(err)
				}
			}
			before := srv.requests.Load()
			rendered, findings, err := RenderAll(context.Background(), objs, repoDir, Options{CacheDir: cacheDir, Offline: true})
			if err != nil {
				t.Fatal(err)
			}
			if n := srv.requests.Load() - before; n != 0 {
				t.Errorf("offline run made %d requests", n)
			}
			origins := map[string]bool{}
			for _, o := range rendered {
				origins[o.Origin] = true
			}
			if !origins["HelmRelease apps/web"] || !origins["HelmRelease apps/blog"] {
				t.Errorf("local charts not rendered offline: %v", origins)
			}
			if origins["HelmRelease apps/api"] != tt.wantRelease {
				t.Errorf("remote release rendered = %v, want %v", origins["HelmRelease apps/api"], tt.wantRelease)
			}
			var apiFinding string
			for _, f := range findings {
				if nsName(&f.Object) == "apps/api" {
					apiFinding = f.Message
				}
			}
			if tt.wantRelease != (apiFinding == "") || (!tt.wantRelease && !strings.Contains(apiFinding, "index.yaml: not fetched (--offline)")) {
				t.Errorf("finding on apps/api: %q", apiFinding)
			}
		})
	}
}

// TestRenderAllDownloads: an index is fetched once per run however many
// HelmReleases read it, and refreshed on every online run; a chart archive
// is fetched once, then read from the cache.
func TestRenderAllDownloads(t *testing.T) {
	srv := newHelmRepo(t, "1.0.0", "1.1.0")
	objs := remoteReleases(t, srv) // three releases of one repository, two versions
	cacheDir := t.TempDir()
	tests := []struct {
		name         string
		wantRequests int64
	}{
		{name: "empty cache: the index once, each archive once", wantRequests: 3},
		{name: "cache filled: the index again, no archive", wantRequests: 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			before := srv.requests.Load()
			rendered, _, err := RenderAll(context.Background(), objs, repoDir, Options{CacheDir: cacheDir, HTTPClient: srv.Client()})
			if err != nil {
				t.Fatal(err)
			}
			if len(rendered) != 2 {
				t.Errorf("rendered %d objects, want the Deployments of api and api-old", len(rendered))
			}
			if n := srv.requests.Load() - before; n != tt.wantRequests {
				t.Errorf("%d requests, want %d", n, tt.wantRequests)
			}
		})
	}
}

// TestRenderedWorkloadsAreChecked runs the policies over the repository
// with its releases rendered: their workloads are judged with the
// HelmRelease as origin, and releases that could not be rendered deny.
func TestRenderedWorkloadsAreChecked(t *testing.T) {
	ctx := context.Background()
	srv := newHelmRepo(t, "1.0.0", "1.1.0")
	objs := append(loadRepo(t), remoteReleases(t, srv)...)
	rendered, findings, err := RenderAll(ctx, objs, repoDir, Options{CacheDir: t.TempDir(), HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := policy.LoadConfig("")
	if err != nil {
		t.Fatal(err)
	}
	mods, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(ctx, mods)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.NewEngine(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	rep, err := check.Run(ctx, eng, append(objs, rendered...), findings...)
	if err != nil {
		t.Fatal(err)
	}
	got := map[string]bool{}
	for _, r := range rep.Results {
		got[fmt.Sprintf("%s %s %s %s/%s origin=%q", r.Action, r.Policy, r.Kind, r.Namespace, r.Name, r.Origin)] = true
	}
	for _, want := range []string{
		`deny rollout-strategy Deployment apps/blog-site origin="HelmRelease apps/blog"`,
		`deny rollout-strategy Deployment apps/api origin="HelmRelease apps/api"`,
		`deny pdb-coverage Deployment apps/api origin="HelmRelease apps/api"`,
		`deny fluxgate HelmRelease apps/missing-chart origin=""`,
		`deny fluxgate HelmRelease apps/bad-values origin=""`,
	} {
		if !got[want] {
			t.Errorf("missing result %s", want)
		}
	}
	for r := range got {
		if strings.Contains(r, "shop/shop-web") && strings.HasPrefix(r, "deny") {
			t.Errorf("the compliant release is denied: %s", r)
		}
	}
	if !rep.Denied() {
		t.Error("report not denied")
	}
}

func TestReleaseName(t *testing.T) {
	long := strings.Repeat("a", 30)
	tests := []struct {
		name, spec, want string
	}{
		{name: "name", spec: "{}", want: "web"},
		{name: "targetNamespace prefix", spec: `{"targetNamespace": "shop"}`, want: "shop-web"},
		{name: "releaseName wins", spec: `{"targetNamespace": "shop", "releaseName": "site"}`, want: "site"},
		{name: "shortened past 53 characters", spec: `{"targetNamespace": "` + long + `"}`, want: long + "-web"},
		{name: "shortened past 53 characters", spec: `{"releaseName": "` + long + long + `"}`, want: (long + long)[:40] + "-" + fmt.Sprintf("%x", sha256.Sum256([]byte(long+long)))[:12]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			hr := parse(t, "hr.yaml", "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: apps}\nspec: "+tt.spec+"\n")[0]
			var s spec
			if err := decode(&hr, &s); err != nil {
				t.Fatal(err)
			}
			if got := releaseName(&hr, &s); got != tt.want {
				t.Errorf("releaseName = %q, want %q", got, tt.want)
			}
		})
	}
}

func TestValues(t *testing.T) {
	sources := `apiVersion: v1
kind: ConfigMap
metadata: {name: base, namespace: apps}
data:
  values.yaml: "a: {b: 1, c: 2}\nlist: [1, 2]\n"
  custom: "a: {c: 3}\n"
  broken: "a: [\n"
binaryData:
  bin: YToge2I6IDR9Cg==
---
apiVersion: v1
kind: Secret
metadata: {name: creds, namespace: apps}
data:
  password: czNjcmV0LHdpdGgsY29tbWFz
---
apiVersion: v1
kind: Secret
metadata: {name: sealed, namespace: apps}
data:
  values.yaml: ENC[AES256_GCM,data:xyz]
sops:
  version: 3.9.0
---
apiVersion: v1
kind: ConfigMap
metadata: {name: other-namespace, namespace: elsewhere}
data:
  values.yaml: "x: 1\n"
`
	tests := []struct {
		name       string
		valuesFrom string
		values     string
		want       string
		wantErr    string
	}{
		{name: "default key merged, spec.values on top", valuesFrom: `[{kind: ConfigMap, name: base}]`, values: `{a: {c: 9}, list: [3]}`, want: "map[a:map[b:1 c:9] list:[3]]"},
		{name: "later reference merges over earlier", valuesFrom: `[{kind: ConfigMap, name: base}, {kind: ConfigMap, name: base, valuesKey: custom}]`, want: "map[a:map[b:1 c:3] list:[1 2]]"},
		{name: "targetPath sets one value, commas kept", valuesFrom: `[{kind: Secret, name: creds, valuesKey: password, targetPath: db.auth.password}]`, want: "map[db:map[auth:map[password:s3cret,with,commas]]]"},
		{name: "binaryData", valuesFrom: `[{kind: ConfigMap, name: base, valuesKey: bin}]`, want: "map[a:map[b:4]]"},
		{name: "optional missing object and key skipped", valuesFrom: `[{kind: ConfigMap, name: nope, optional: true}, {kind: ConfigMap, name: base, valuesKey: nope, optional: true}]`, want: "map[]"},
		{name: "missing object", valuesFrom: `[{kind: ConfigMap, name: nope}]`, wantErr: `spec.valuesFrom[0]: ConfigMap apps/nope key "values.yaml" not found among the objects checked (not optional)`},
		{name: "object of another namespace is not used", valuesFrom: `[{kind: ConfigMap, name: other-namespace}]`, wantErr: "ConfigMap apps/other-namespace"},
		{name: "missing key", valuesFrom: `[{kind: Secret, name: creds}]`, wantErr: `Secret apps/creds key "values.yaml" not found`},
		{name: "broken YAML", valuesFrom: `[{kind: ConfigMap, name: base, valuesKey: broken}]`, wantErr: `spec.valuesFrom[0]: ConfigMap apps/base key "broken"`},
		{name: "SOPS-encrypted Secret", valuesFrom: `[{kind: Secret, name: sealed}]`, wantErr: "Secret apps/sealed is SOPS-encrypted"},
		{name: "unsupported kind", valuesFrom: `[{kind: Bucket, name: base}]`, wantErr: `kind "Bucket" is not supported`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if tt.values == "" {
				tt.values = "{}"
			}
			objs := parse(t, "v.yaml", sources+"---\napiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: apps}\nspec:\n  valuesFrom: "+tt.valuesFrom+"\n  values: "+tt.values+"\n")
			r, err := newRenderer(objs, repoDir, Options{CacheDir: t.TempDir()})
			if err != nil {
				t.Fatal(err)
			}
			hr := &objs[len(objs)-1]
			var s spec
			if err := decode(hr, &s); err != nil {
				t.Fatal(err)
			}
			got, err := r.values(hr, &s)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if fmt.Sprint(got) != tt.want {
				t.Errorf("values %v, want %s", got, tt.want)
			}
		})
	}
}

// TestRenderAllGitRevision renders the HelmReleases of a Git revision, read
// without a work tree from a bare repository built in the test: the
// GitRepository's chart comes from the revision's tree, not from the disk,
// with its .helmignore applied as on disk (the chart's draft template is
// not rendered).
func TestRenderAllGitRevision(t *testing.T) {
	work := t.TempDir()
	if err := os.CopyFS(work, os.DirFS(repoDir)); err != nil {
		t.Fatal(err)
	}
	r, err := git.PlainInit(work, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Fluxgate Test", Email: "test@example.com", When: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)}
	if _, err := wt.Commit("Add apps", &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
	bare := filepath.Join(t.TempDir(), "fleet.git")
	if _, err := git.PlainClone(bare, true, &git.CloneOptions{URL: work}); err != nil {
		t.Fatal(err)
	}
	// The work tree changes after the commit: only the revision counts.
	if err := os.RemoveAll(filepath.Join(work, "charts")); err != nil {
		t.Fatal(err)
	}

	objs, fsys, err := manifest.LoadGitTree(context.Background(), bare, "master", "apps")
	if err != nil {
		t.Fatal(err)
	}
	rendered, findings, err := RenderAll(context.Background(), objs, "/", Options{CacheDir: t.TempDir(), Offline: true, FS: fsys})
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, o := range rendered {
		if o.Kind() == "Deployment" {
			got = append(got, gist(o))
		}
	}
	want := []string{
		`Deployment apps/blog-site origin="HelmRelease apps/blog" file=git:master:apps/blog.yaml replicas=1 maxUnavailable=1 image=nginx:1.27 chart=web-0.3.0 owner=apps/blog`,
		`Deployment apps/patched origin="HelmRelease apps/patched" file=git:master:apps/patched.yaml replicas=1 maxUnavailable=0 image=mirror.example/nginx:1.27-patched chart=web-0.3.0 owner=apps/patched`,
		`Deployment shop/shop-valuesfiles origin="HelmRelease apps/valuesfiles" file=git:master:apps/valuesfiles.yaml replicas=2 maxUnavailable=0 image=nginx:1.27-prod chart=web-0.3.0 owner=apps/valuesfiles`,
		`Deployment shop/shop-web origin="HelmRelease apps/web" file=git:master:apps/web.yaml replicas=3 maxUnavailable=0 image=registry.example/web:1.28.1 chart=web-0.3.0 owner=apps/web`,
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("rendered\n%s\nwant\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
	if len(findings) != 2 || !strings.Contains(findings[0].Message, `chart "./charts/nope" of the GitRepository: no such directory`) {
		t.Errorf("findings %+v, want missing-chart and bad-values", findings)
	}
}

// BenchmarkRenderAll renders 20 HelmReleases of the repository's local
// chart, as the benchmark repository holds.
func BenchmarkRenderAll(b *testing.B) {
	var docs []string
	for i := range 20 {
		docs = append(docs, fmt.Sprintf(`apiVersion: helm.toolkit.fluxcd.io/v2
kind: HelmRelease
metadata: {name: web-%d, namespace: apps}
spec:
  chart:
    spec:
      chart: ./charts/web
      sourceRef: {kind: GitRepository, name: flux-system, namespace: flux-system}
  values: {replicas: 3, budget: true}
`, i))
	}
	dir := b.TempDir()
	p := filepath.Join(dir, "releases.yaml")
	if err := os.WriteFile(p, []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		b.Fatal(err)
	}
	objs, err := manifest.LoadPaths([]string{p}, nil)
	if err != nil {
		b.Fatal(err)
	}
	opts := Options{CacheDir: b.TempDir(), Offline: true}
	b.ReportAllocs()
	for b.Loop() {
		rendered, findings, err := RenderAll(context.Background(), objs, repoDir, opts)
		if err != nil || len(findings) != 0 || len(rendered) != 60 {
			b.Fatalf("%d objects, findings %v, %v", len(rendered), findings, err)
		}
	}
}

// TestRenderAllWithoutCacheDir: without a user cache directory (no HOME,
// as in some CI containers) local charts still render, and only a chart
// to download is reported.
func TestRenderAllWithoutCacheDir(t *testing.T) {
	srv := newHelmRepo(t, "1.0.0")
	t.Setenv("HOME", "")
	t.Setenv("XDG_CACHE_HOME", "")
	objs := append(loadRepo(t), remoteReleases(t, srv)...)
	rendered, findings, err := RenderAll(context.Background(), objs, repoDir, Options{HTTPClient: srv.Client()})
	if err != nil {
		t.Fatal(err)
	}
	origins := map[string]bool{}
	for _, o := range rendered {
		origins[o.Origin] = true
	}
	if !origins["HelmRelease apps/web"] || origins["HelmRelease apps/api"] {
		t.Errorf("rendered %v, want the local charts only", origins)
	}
	for _, f := range findings {
		if nsName(&f.Object) == "apps/api" && !strings.Contains(f.Message, "helm chart cache") {
			t.Errorf("finding on apps/api: %q", f.Message)
		}
	}
}
