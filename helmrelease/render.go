package helmrelease

import (
	"context"
	"crypto/sha256"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart"
	"helm.sh/helm/v3/pkg/chartutil"
	"helm.sh/helm/v3/pkg/release"
	"helm.sh/helm/v3/pkg/repo"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// Group is the API group of Flux's HelmRelease.
const Group = "helm.toolkit.fluxcd.io"

// DefaultKubeVersion is the Kubernetes version charts are rendered for
// (.Capabilities.KubeVersion) unless [Options.KubeVersion] says otherwise:
// a current one, so that charts gating templates on the cluster's version
// render what they render today.
const DefaultKubeVersion = "v1.36.0"

// Helm-controller's labels on every object it applies, naming the
// HelmRelease.
const (
	LabelName      = Group + "/name"
	LabelNamespace = Group + "/namespace"
)

// Options tune how HelmReleases are rendered.
type Options struct {
	// Offline forbids network access: charts and indexes are read from
	// CacheDir only, and a HelmRelease whose chart is not there is
	// reported as not rendered.
	Offline bool

	// CacheDir holds downloaded indexes and charts; empty means
	// [DefaultCacheDir].
	CacheDir string

	// HTTPClient fetches indexes and charts of HTTP Helm repositories;
	// nil means http.DefaultClient.
	HTTPClient *http.Client

	// KubeVersion is the Kubernetes version charts see; empty means
	// [DefaultKubeVersion].
	KubeVersion string

	// FS is the file system root is in, for charts and values files of
	// GitRepository sources; nil means the disk.
	FS filesys.FileSystem
}

// DefaultCacheDir is "fluxgate/helm" under the user's cache directory
// ($XDG_CACHE_HOME or ~/.cache on Linux).
func DefaultCacheDir() (string, error) {
	dir, err := os.UserCacheDir()
	if err != nil {
		return "", fmt.Errorf("helm chart cache: %w", err)
	}
	return filepath.Join(dir, "fluxgate", "helm"), nil
}

// IsHelmRelease reports whether obj is a Flux HelmRelease (any version of
// the helm.toolkit.fluxcd.io group).
func IsHelmRelease(obj *manifest.Object) bool {
	return obj.Kind() == "HelmRelease" && strings.HasPrefix(obj.APIVersion(), Group+"/")
}

// RenderAll renders every HelmRelease among objs and returns the objects
// they produce, to be checked with objs, and a denying input finding for
// each HelmRelease that could not be rendered, saying why.
//
// root is the top of the repository being checked (in opts.FS): a
// GitRepository source is taken to be that repository, so a chart it names
// is the directory root/spec.chart.spec.chart. Sources (HelmRepository,
// OCIRepository), ConfigMaps and Secrets are looked up among objs, in the
// HelmRelease's cluster first, then among objects of no cluster.
//
// Each rendered object has the HelmRelease's File, Line and Cluster, the
// Origin "HelmRelease <namespace>/<name>", and a Set of its own per
// HelmRelease. The error is only for a cancelled ctx or a bad
// opts.KubeVersion.
func RenderAll(ctx context.Context, objs []manifest.Object, root string, opts Options) ([]manifest.Object, []check.InputFinding, error) {
	r, err := newRenderer(objs, root, opts)
	if err != nil {
		return nil, nil, err
	}
	var out []manifest.Object
	var findings []check.InputFinding
	for i := range objs {
		hr := &objs[i]
		if !IsHelmRelease(hr) {
			continue
		}
		if err := ctx.Err(); err != nil {
			return nil, nil, err
		}
		rendered, err := r.render(ctx, hr)
		if err != nil {
			if ctxErr := ctx.Err(); ctxErr != nil {
				return nil, nil, ctxErr
			}
			// One line: Helm's schema errors span several.
			msg := strings.Join(strings.Fields(fmt.Sprintf("HelmRelease %s could not be rendered, so its workloads are not checked: %v", nsName(hr), err)), " ")
			findings = append(findings, check.InputFinding{Object: *hr, Action: policy.ActionDeny, Message: msg})
			continue
		}
		out = append(out, rendered...)
	}
	return out, findings, nil
}

// renderer renders the HelmReleases of one set of objects.
type renderer struct {
	root    string
	opts    Options
	objects map[objKey]*manifest.Object
	kube    *chartutil.KubeVersion
	cache   *cache
	indexes map[string]*repo.IndexFile // Helm repository indexes read, by URL
}

// objKey finds an object by cluster, kind, namespace and name.
type objKey struct{ cluster, kind, namespace, name string }

func newRenderer(objs []manifest.Object, root string, opts Options) (*renderer, error) {
	if opts.KubeVersion == "" {
		opts.KubeVersion = DefaultKubeVersion
	}
	kv, err := chartutil.ParseKubeVersion(opts.KubeVersion)
	if err != nil {
		return nil, fmt.Errorf("kubernetes version %q: %w", opts.KubeVersion, err)
	}
	var cacheErr error // reported by the first download, if one is needed
	if opts.CacheDir == "" {
		opts.CacheDir, cacheErr = DefaultCacheDir()
	}
	if opts.HTTPClient == nil {
		opts.HTTPClient = http.DefaultClient
	}
	r := &renderer{root: root, opts: opts, objects: map[objKey]*manifest.Object{}, kube: kv, indexes: map[string]*repo.IndexFile{},
		cache: &cache{dir: opts.CacheDir, dirErr: cacheErr, offline: opts.Offline, client: opts.HTTPClient, fetched: map[string]bool{}}}
	for i := range objs {
		o := &objs[i]
		k := objKey{o.Cluster, o.Kind(), o.Namespace(), o.Name()}
		if _, dup := r.objects[k]; !dup {
			r.objects[k] = o
		}
	}
	return r, nil
}

// lookup finds an object in the cluster of from, else among objects of no
// cluster.
func (r *renderer) lookup(from *manifest.Object, kind, namespace, name string) *manifest.Object {
	if o := r.objects[objKey{from.Cluster, kind, namespace, name}]; o != nil {
		return o
	}
	return r.objects[objKey{"", kind, namespace, name}]
}

// spec is the part of a HelmRelease rendering depends on.
type spec struct {
	ReleaseName     string `json:"releaseName"`
	TargetNamespace string `json:"targetNamespace"`
	Chart           *struct {
		Spec chartSpec `json:"spec"`
	} `json:"chart"`
	ChartRef      *sourceRef       `json:"chartRef"`
	Values        map[string]any   `json:"values"`
	ValuesFrom    []valuesRef      `json:"valuesFrom"`
	PostRenderers []map[string]any `json:"postRenderers"`
}

type chartSpec struct {
	Chart                    string     `json:"chart"`
	Version                  string     `json:"version"`
	SourceRef                *sourceRef `json:"sourceRef"`
	ValuesFiles              []string   `json:"valuesFiles"`
	IgnoreMissingValuesFiles bool       `json:"ignoreMissingValuesFiles"`
}

type sourceRef struct {
	Kind      string `json:"kind"`
	Name      string `json:"name"`
	Namespace string `json:"namespace"`
}

type valuesRef struct {
	Kind       string `json:"kind"`
	Name       string `json:"name"`
	ValuesKey  string `json:"valuesKey"`
	TargetPath string `json:"targetPath"`
	Optional   bool   `json:"optional"`
}

// decode converts an object's spec into v.
func decode(obj *manifest.Object, v any) error {
	data, err := json.Marshal(obj.Data["spec"])
	if err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	if err := json.Unmarshal(data, v); err != nil {
		return fmt.Errorf("read spec: %w", err)
	}
	return nil
}

// render renders one HelmRelease.
func (r *renderer) render(ctx context.Context, hr *manifest.Object) ([]manifest.Object, error) {
	var s spec
	if err := decode(hr, &s); err != nil {
		return nil, err
	}
	ch, err := r.chart(ctx, hr, &s)
	if err != nil {
		return nil, err
	}
	if err := action.CheckDependencies(ch, ch.Metadata.Dependencies); err != nil {
		return nil, fmt.Errorf("chart %s: dependencies not vendored in charts/ (source-controller would build them): %w", ch.Name(), err)
	}
	vals, err := r.values(hr, &s)
	if err != nil {
		return nil, err
	}
	relName, relNS := releaseName(hr, &s), hr.Namespace()
	if s.TargetNamespace != "" {
		relNS = s.TargetNamespace
	}
	if relNS == "" {
		relNS = "default"
	}
	manifests, err := r.template(ctx, ch, vals, relName, relNS, s.PostRenderers)
	if err != nil {
		return nil, err
	}
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile("/rendered.yaml", []byte(manifests)); err != nil {
		return nil, fmt.Errorf("rendered manifests: %w", err)
	}
	objs, err := manifest.LoadFS(fsys, "/rendered.yaml", "chart "+ch.Name())
	if err != nil {
		return nil, fmt.Errorf("read rendered manifests: %w", err)
	}
	origin := "HelmRelease " + nsName(hr)
	set := origin + " (" + hr.Location() + ")"
	for i := range objs {
		o := &objs[i]
		meta, _ := o.Data["metadata"].(map[string]any)
		if meta == nil {
			meta = map[string]any{}
			o.Data["metadata"] = meta
		}
		if o.Namespace() == "" && !clusterScoped[o.Kind()] {
			meta["namespace"] = relNS
		}
		labels, _ := meta["labels"].(map[string]any)
		if labels == nil {
			labels = map[string]any{}
			meta["labels"] = labels
		}
		labels[LabelName], labels[LabelNamespace] = hr.Name(), hr.Namespace()
		o.File, o.Line, o.Set, o.Cluster, o.Origin = hr.File, hr.Line, set, hr.Cluster, origin
	}
	return objs, nil
}

// template renders ch like `helm template`: Helm's client-only install,
// values validated against the chart's schema, CRDs of crds/ included,
// hooks other than tests included, post-renderers applied to the
// manifest as Helm applies them.
func (r *renderer) template(ctx context.Context, ch *chart.Chart, vals map[string]any, name, namespace string, postRenderers []map[string]any) (string, error) {
	inst := action.NewInstall(&action.Configuration{Log: func(string, ...any) {}})
	inst.DryRun, inst.ClientOnly, inst.Replace, inst.IncludeCRDs = true, true, true, true
	inst.ReleaseName, inst.Namespace, inst.KubeVersion = name, namespace, r.kube
	if len(postRenderers) > 0 {
		inst.PostRenderer = &kustomizePostRenderer{renderers: postRenderers}
	}
	if vals == nil {
		vals = map[string]any{}
	}
	rel, err := inst.RunWithContext(ctx, ch, vals)
	if err != nil {
		return "", fmt.Errorf("render chart %s %s: %w", ch.Name(), ch.Metadata.Version, err)
	}
	docs := []string{rel.Manifest}
	for _, h := range rel.Hooks {
		if !slices.Contains(h.Events, release.HookTest) {
			docs = append(docs, h.Manifest)
		}
	}
	return strings.Join(docs, "\n---\n"), nil
}

// releaseName is the Helm release name helm-controller uses:
// spec.releaseName, else [<targetNamespace>-]<name>, shortened to Helm's
// 53 characters with a hash as helm-controller shortens it.
func releaseName(hr *manifest.Object, s *spec) string {
	name := hr.Name()
	switch {
	case s.ReleaseName != "":
		name = s.ReleaseName
	case s.TargetNamespace != "":
		name = s.TargetNamespace + "-" + name
	}
	const maxLength, hashLength = 53, 12
	if len(name) <= maxLength {
		return name
	}
	sum := fmt.Sprintf("%x", sha256.Sum256([]byte(name)))
	return name[:maxLength-(hashLength+1)] + "-" + sum[:hashLength]
}

// nsName is "<namespace>/<name>" of obj.
func nsName(obj *manifest.Object) string {
	return obj.Namespace() + "/" + obj.Name()
}

// errNotFetched is wrapped by errors about charts not in the cache while
// offline.
var errNotFetched = errors.New("not fetched (--offline)")

// clusterScoped are the kinds charts render that have no namespace; every
// other kind left without one gets the release's, where Helm creates it.
var clusterScoped = map[string]bool{
	"Namespace": true, "Node": true, "PersistentVolume": true, "CustomResourceDefinition": true,
	"ClusterRole": true, "ClusterRoleBinding": true, "StorageClass": true, "PriorityClass": true,
	"IngressClass": true, "RuntimeClass": true, "CSIDriver": true, "CSINode": true, "VolumeAttachment": true,
	"MutatingWebhookConfiguration": true, "ValidatingWebhookConfiguration": true, "APIService": true,
	"ValidatingAdmissionPolicy": true, "ValidatingAdmissionPolicyBinding": true,
	"MutatingAdmissionPolicy": true, "MutatingAdmissionPolicyBinding": true,
	"PodSecurityPolicy": true, "ClusterIssuer": true, "VolumeSnapshotClass": true, "GatewayClass": true,
	"FlowSchema": true, "PriorityLevelConfiguration": true, "CertificateSigningRequest": true,
}
