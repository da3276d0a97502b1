package helmrelease

import (
	"bytes"
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"net/url"
	"os"
	"path"
	"path/filepath"
	"strings"

	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chart/loader"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/ignore"
	"helm.sh/helm/v3/pkg/registry"
	"helm.sh/helm/v3/pkg/repo"

	"github.com/fluxgate/fluxgate/manifest"
)

// chart loads the chart a HelmRelease names, with spec.chart.spec.valuesFiles
// applied as its values.
func (r *renderer) chart(ctx context.Context, hr *manifest.Object, s *spec) (*chart.Chart, error) {
	if s.ChartRef != nil {
		ref := s.ChartRef
		ns := ref.Namespace
		if ns == "" {
			ns = hr.Namespace()
		}
		if ref.Kind != "OCIRepository" {
			return nil, fmt.Errorf("spec.chartRef: kind %q is not supported (OCIRepository is)", ref.Kind)
		}
		src := r.lookup(hr, ref.Kind, ns, ref.Name)
		if src == nil {
			return nil, fmt.Errorf("OCIRepository %s/%s not found among the objects checked", ns, ref.Name)
		}
		return r.ociRepositoryChart(ctx, src)
	}
	if s.Chart == nil || s.Chart.Spec.SourceRef == nil || s.Chart.Spec.Chart == "" {
		return nil, errors.New("neither spec.chart.spec (chart and sourceRef) nor spec.chartRef is set")
	}
	cs := &s.Chart.Spec
	ref := cs.SourceRef
	ns := ref.Namespace
	if ns == "" {
		ns = hr.Namespace()
	}
	var ch *chart.Chart
	var err error
	switch ref.Kind {
	case "GitRepository":
		ch, err = r.localChart(cs.Chart)
	case "HelmRepository":
		src := r.lookup(hr, ref.Kind, ns, ref.Name)
		if src == nil {
			return nil, fmt.Errorf("HelmRepository %s/%s not found among the objects checked", ns, ref.Name)
		}
		ch, err = r.helmRepositoryChart(ctx, src, cs.Chart, cs.Version)
	default:
		return nil, fmt.Errorf("spec.chart.spec.sourceRef: kind %q is not supported (GitRepository, HelmRepository are)", ref.Kind)
	}
	if err != nil {
		return nil, err
	}
	if len(cs.ValuesFiles) > 0 {
		if err := r.applyValuesFiles(ch, ref.Kind == "GitRepository", cs); err != nil {
			return nil, err
		}
	}
	return ch, nil
}

// inRoot returns p, relative to the repository root, as a path in the
// file system, never above root.
func (r *renderer) inRoot(p string) string {
	clean := path.Clean("/" + filepath.ToSlash(p))
	return filepath.Join(r.root, filepath.FromSlash(clean))
}

// readRootFile reads a file of the repository being checked.
func (r *renderer) readRootFile(p string) ([]byte, error) {
	full := r.inRoot(p)
	if r.opts.FS != nil {
		return r.opts.FS.ReadFile(full)
	}
	return os.ReadFile(full)
}

// localChart loads the chart directory at p in the repository being
// checked (a GitRepository source).
func (r *renderer) localChart(p string) (*chart.Chart, error) {
	dir := r.inRoot(p)
	if r.opts.FS == nil {
		if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
			return nil, fmt.Errorf("chart %q of the GitRepository: no such directory in the repository checked (%s)", p, r.root)
		}
		ch, err := loader.LoadDir(dir)
		if err != nil {
			return nil, fmt.Errorf("chart %q of the GitRepository (the repository checked, at %s): %w", p, r.root, err)
		}
		return ch, nil
	}
	if !r.opts.FS.IsDir(dir) {
		return nil, fmt.Errorf("chart %q of the GitRepository: no such directory in the repository checked", p)
	}
	// The chart's .helmignore applies, as loader.LoadDir applies it on disk.
	rules := ignore.Empty()
	if data, err := r.opts.FS.ReadFile(filepath.Join(dir, ignore.HelmIgnore)); err == nil {
		if rules, err = ignore.Parse(bytes.NewReader(data)); err != nil {
			return nil, fmt.Errorf("chart %q of the GitRepository (the repository checked): %s: %w", p, ignore.HelmIgnore, err)
		}
	}
	rules.AddDefaults()
	var files []*loader.BufferedFile
	err := r.opts.FS.Walk(dir, func(name string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, name)
		if err != nil || rel == "." {
			return err
		}
		rel = filepath.ToSlash(rel)
		if info.IsDir() {
			if rules.Ignore(rel, info) {
				return filepath.SkipDir
			}
			return nil
		}
		if rules.Ignore(rel, info) {
			return nil
		}
		data, err := r.opts.FS.ReadFile(name)
		if err != nil {
			return err
		}
		files = append(files, &loader.BufferedFile{Name: rel, Data: data})
		return nil
	})
	if err == nil {
		var ch *chart.Chart
		if ch, err = loader.LoadFiles(files); err == nil {
			return ch, nil
		}
	}
	return nil, fmt.Errorf("chart %q of the GitRepository (the repository checked): %w", p, err)
}

// applyValuesFiles replaces the chart's values with the merge of the
// values files listed, as source-controller does: paths in the repository
// for a GitRepository, files of the chart for a HelmRepository.
func (r *renderer) applyValuesFiles(ch *chart.Chart, fromRoot bool, cs *chartSpec) error {
	merged := map[string]any{}
	for _, f := range cs.ValuesFiles {
		var data []byte
		var err error
		if fromRoot {
			data, err = r.readRootFile(f)
		} else {
			err = fs.ErrNotExist
			for _, raw := range ch.Raw {
				if raw.Name == path.Clean(f) {
					data, err = raw.Data, nil
				}
			}
		}
		if errors.Is(err, fs.ErrNotExist) && cs.IgnoreMissingValuesFiles {
			continue
		}
		if err != nil {
			return fmt.Errorf("values file %s: %w", f, err)
		}
		vals, err := chartutil.ReadValues(data)
		if err != nil {
			return fmt.Errorf("values file %s: %w", f, err)
		}
		merged = mergeMaps(merged, vals)
	}
	ch.Values = merged
	return nil
}

// helmRepositoryChart fetches the newest version of a chart that satisfies
// constraint from a HelmRepository object's repository.
func (r *renderer) helmRepositoryChart(ctx context.Context, src *manifest.Object, name, constraint string) (*chart.Chart, error) {
	var s struct {
		URL      string `json:"url"`
		Type     string `json:"type"`
		Insecure bool   `json:"insecure"`
	}
	if err := decode(src, &s); err != nil {
		return nil, fmt.Errorf("HelmRepository %s: %w", nsName(src), err)
	}
	if constraint == "" {
		constraint = "*"
	}
	if s.Type == "oci" || strings.HasPrefix(s.URL, "oci://") {
		ch, err := r.ociChart(ctx, strings.TrimSuffix(s.URL, "/")+"/"+name, constraint, "", s.Insecure)
		if err != nil {
			return nil, fmt.Errorf("HelmRepository %s: %w", nsName(src), err)
		}
		return ch, nil
	}
	ch, err := r.httpChart(ctx, s.URL, name, constraint)
	if err != nil {
		return nil, fmt.Errorf("HelmRepository %s: %w", nsName(src), err)
	}
	return ch, nil
}

// httpChart fetches a chart from an HTTP Helm repository: its index, then
// the archive of the version chosen.
func (r *renderer) httpChart(ctx context.Context, repoURL, name, constraint string) (*chart.Chart, error) {
	if repoURL == "" {
		return nil, errors.New("spec.url is empty")
	}
	base := strings.TrimSuffix(repoURL, "/") + "/"
	indexURL := base + "index.yaml"
	idx, err := r.index(ctx, indexURL)
	if err != nil {
		return nil, err
	}
	cv, err := idx.Get(name, constraint)
	if err != nil {
		return nil, fmt.Errorf("no version of chart %q satisfies %q in %s", name, constraint, indexURL)
	}
	if len(cv.URLs) == 0 {
		return nil, fmt.Errorf("chart %s %s has no URL in %s", name, cv.Version, indexURL)
	}
	u, err := url.Parse(cv.URLs[0])
	if err != nil {
		return nil, fmt.Errorf("chart %s %s: URL: %w", name, cv.Version, err)
	}
	b, err := url.Parse(base)
	if err != nil {
		return nil, fmt.Errorf("repository URL %s: %w", repoURL, err)
	}
	chartURL := b.ResolveReference(u).String()
	p, err := r.cache.file(ctx, "charts", chartURL, chartURL, true)
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(p)
	if err != nil {
		return nil, fmt.Errorf("chart %s %s from %s: %w", name, cv.Version, chartURL, err)
	}
	return ch, nil
}

// index returns the Helm repository index at indexURL, fetched and parsed
// once per run however many HelmReleases read it.
func (r *renderer) index(ctx context.Context, indexURL string) (*repo.IndexFile, error) {
	if idx, ok := r.indexes[indexURL]; ok {
		return idx, nil
	}
	p, err := r.cache.file(ctx, "index", indexURL, indexURL, false)
	if err != nil {
		return nil, err
	}
	idx, err := repo.LoadIndexFile(p)
	if err != nil {
		return nil, fmt.Errorf("index %s: %w", indexURL, err)
	}
	r.indexes[indexURL] = idx
	return idx, nil
}

// ociRepositoryChart pulls the chart an OCIRepository object names
// (spec.url and spec.ref: digest, semver or tag, default "latest").
func (r *renderer) ociRepositoryChart(ctx context.Context, src *manifest.Object) (*chart.Chart, error) {
	var s struct {
		URL string `json:"url"`
		Ref struct {
			Tag    string `json:"tag"`
			SemVer string `json:"semver"`
			Digest string `json:"digest"`
		} `json:"ref"`
		Insecure bool `json:"insecure"`
	}
	if err := decode(src, &s); err != nil {
		return nil, fmt.Errorf("OCIRepository %s: %w", nsName(src), err)
	}
	tag := s.Ref.Tag
	if tag == "" && s.Ref.SemVer == "" && s.Ref.Digest == "" {
		tag = "latest"
	}
	var ch *chart.Chart
	var err error
	switch {
	case s.Ref.Digest != "":
		if !strings.HasPrefix(s.URL, "oci://") {
			return nil, fmt.Errorf("OCIRepository %s: %q is not an oci:// URL", nsName(src), s.URL)
		}
		ch, err = r.ociPull(ctx, s.URL, "@"+s.Ref.Digest, s.Insecure)
	case s.Ref.SemVer != "":
		ch, err = r.ociChart(ctx, s.URL, s.Ref.SemVer, "", s.Insecure)
	default:
		ch, err = r.ociChart(ctx, s.URL, "", tag, s.Insecure)
	}
	if err != nil {
		return nil, fmt.Errorf("OCIRepository %s: %w", nsName(src), err)
	}
	return ch, nil
}

// ociChart pulls the chart at an oci:// reference, tagged tag or, when tag
// is empty, with the newest tag satisfying constraint.
func (r *renderer) ociChart(ctx context.Context, ref, constraint, tag string, insecure bool) (*chart.Chart, error) {
	if !strings.HasPrefix(ref, "oci://") {
		return nil, fmt.Errorf("%q is not an oci:// URL", ref)
	}
	if tag == "" {
		tags, err := r.ociTags(ctx, ref, insecure)
		if err != nil {
			return nil, err
		}
		// Helm's index picks the newest version satisfying a constraint.
		idx := repo.NewIndexFile()
		for _, t := range tags {
			idx.Entries["chart"] = append(idx.Entries["chart"], &repo.ChartVersion{Metadata: &chart.Metadata{Name: "chart", Version: t}})
		}
		idx.SortEntries()
		if cv, err := idx.Get("chart", constraint); err == nil {
			tag = cv.Version
		}
		if tag == "" {
			return nil, fmt.Errorf("no tag of %s satisfies %q", ref, constraint)
		}
	}
	return r.ociPull(ctx, ref, ":"+tag, insecure)
}

// registryClient is a Helm registry client, with the credentials of the
// user's Docker or Helm configuration.
func registryClient(insecure bool) (*registry.Client, error) {
	opts := []registry.ClientOption{registry.ClientOptWriter(io.Discard)}
	if insecure {
		opts = append(opts, registry.ClientOptPlainHTTP())
	}
	c, err := registry.NewClient(opts...)
	if err != nil {
		return nil, fmt.Errorf("registry client: %w", err)
	}
	return c, nil
}

// ociTags lists the semver tags of an OCI repository and
// caches them for offline use.
func (r *renderer) ociTags(ctx context.Context, ref string, insecure bool) ([]string, error) {
	p, err := r.cache.produce(ctx, "oci-tags", ref, ref, false, func() ([]byte, error) {
		c, err := registryClient(insecure)
		if err != nil {
			return nil, err
		}
		tags, err := c.Tags(strings.TrimPrefix(ref, "oci://"))
		if err != nil {
			return nil, fmt.Errorf("list tags of %s: %w", ref, err)
		}
		return json.Marshal(tags)
	})
	if err != nil {
		return nil, err
	}
	data, err := os.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("cached tags of %s: %w", ref, err)
	}
	var tags []string
	if err := json.Unmarshal(data, &tags); err != nil {
		return nil, fmt.Errorf("cached tags of %s: %w", ref, err)
	}
	return tags, nil
}

// ociPull pulls ref+suffix (":tag" or "@digest"), through the cache.
func (r *renderer) ociPull(ctx context.Context, ref, suffix string, insecure bool) (*chart.Chart, error) {
	full := ref + suffix
	p, err := r.cache.produce(ctx, "charts", full, full, strings.HasPrefix(suffix, "@"), func() ([]byte, error) {
		c, err := registryClient(insecure)
		if err != nil {
			return nil, err
		}
		res, err := c.Pull(strings.TrimPrefix(full, "oci://"), registry.PullOptWithChart(true))
		if err != nil {
			return nil, fmt.Errorf("pull %s: %w", full, err)
		}
		return res.Chart.Data, nil
	})
	if err != nil {
		return nil, err
	}
	ch, err := loader.Load(p)
	if err != nil {
		return nil, fmt.Errorf("chart %s: %w", full, err)
	}
	return ch, nil
}

// cache keeps downloads in a directory, one file per key.
type cache struct {
	dir     string
	dirErr  error // why there is no dir
	offline bool
	client  *http.Client
	fetched map[string]bool // entries fetched by this run, by path
}

// file returns the cached copy of the HTTP(S) resource at u, fetching it
// (again, unless immutable and already cached) when online.
func (c *cache) file(ctx context.Context, kind, key, u string, immutable bool) (string, error) {
	return c.produce(ctx, kind, key, u, immutable, func() ([]byte, error) { return c.get(ctx, u) })
}

// produce returns the path of the cache entry kind/key. Offline it is the
// existing entry or an error wrapping errNotFetched; online, fetch
// refreshes it once per run, except an immutable entry already present.
func (c *cache) produce(ctx context.Context, kind, key, what string, immutable bool, fetch func() ([]byte, error)) (string, error) {
	if c.dirErr != nil {
		return "", fmt.Errorf("%s: %w", what, c.dirErr)
	}
	sum := sha256.Sum256([]byte(key))
	p := filepath.Join(c.dir, kind, fmt.Sprintf("%x", sum[:16]))
	_, statErr := os.Stat(p)
	if c.offline {
		if statErr != nil {
			return "", fmt.Errorf("%s: %w", what, errNotFetched)
		}
		return p, nil
	}
	if statErr == nil && (immutable || c.fetched[p]) {
		return p, nil
	}
	if err := ctx.Err(); err != nil {
		return "", err
	}
	data, err := fetch()
	if err != nil {
		return "", err
	}
	if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
		return "", fmt.Errorf("cache %s: %w", what, err)
	}
	tmp, err := os.CreateTemp(filepath.Dir(p), ".download-*")
	if err != nil {
		return "", fmt.Errorf("cache %s: %w", what, err)
	}
	defer os.Remove(tmp.Name())
	if _, err := io.Copy(tmp, bytes.NewReader(data)); err != nil {
		tmp.Close()
		return "", fmt.Errorf("cache %s: %w", what, err)
	}
	if err := tmp.Close(); err != nil {
		return "", fmt.Errorf("cache %s: %w", what, err)
	}
	if err := os.Rename(tmp.Name(), p); err != nil {
		return "", fmt.Errorf("cache %s: %w", what, err)
	}
	c.fetched[p] = true
	return p, nil
}

// maxDownload bounds an index or chart download.
const maxDownload = 64 << 20

// get downloads u.
func (c *cache) get(ctx context.Context, u string) ([]byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	resp, err := c.client.Do(req)
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("fetch %s: %s", u, resp.Status)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, maxDownload+1))
	if err != nil {
		return nil, fmt.Errorf("fetch %s: %w", u, err)
	}
	if len(data) > maxDownload {
		return nil, fmt.Errorf("fetch %s: larger than %d bytes", u, maxDownload)
	}
	return data, nil
}
