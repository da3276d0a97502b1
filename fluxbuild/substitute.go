package fluxbuild

import (
	"context"
	"encoding/base64"
	"fmt"
	"maps"
	"regexp"
	"slices"
	"strings"

	"github.com/fluxcd/pkg/envsubst"
	"github.com/fluxcd/pkg/kustomize"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/api/resource"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/kustomize/kyaml/yaml"

	"github.com/fluxgate/fluxgate/manifest"
)

// substituteMarker is Flux's label and annotation that turns substitution
// off for one object.
const substituteMarker = "kustomize.toolkit.fluxcd.io/substitute"

// substitute applies u's postBuild to the resources of m (in place) with
// Flux's substitution and returns them as objects of the cluster. report
// records what cannot be resolved (once per Kustomization).
func (b *builder) substitute(c *cluster, u *unit, m resmap.ResMap, report bool) ([]manifest.Object, error) {
	ks := u.ks
	if _, ok := nested(ks.Data, "spec", "postBuild").(map[string]any); ok {
		obj, unresolved := b.prepare(c, ks, report)
		vars, err := kustomize.LoadVariables(b.ctx, c.pool, obj)
		if err != nil {
			return nil, err
		}
		for k, v := range stringMap(nested(ks.Data, "spec", "postBuild", "substitute")) {
			vars[k] = strings.ReplaceAll(v, "\n", "")
		}
		always := nested(ks.Data, "spec", "postBuild", "substituteStrategy") == "Always"
		missing := map[string]bool{}
		for _, r := range m.Resources() {
			if r.GetLabels()[substituteMarker] == kustomize.DisabledValue || r.GetAnnotations()[substituteMarker] == kustomize.DisabledValue {
				continue
			}
			var texts []string
			if scan(r.Document(), &texts); len(texts) == 0 {
				// Flux's envsubst would only re-encode it.
				continue
			}
			// Variables live in keys and values: the scalars holding a "$".
			for _, v := range missingVars(strings.Join(texts, "\n"), vars) {
				missing[v] = true
			}
			if _, err := kustomize.SubstituteVariables(b.ctx, c.pool, obj, r,
				kustomize.SubstituteWithStrict(false), kustomize.SubstituteWithAlways(always)); err != nil {
				return nil, fmt.Errorf("post build failed for '%s/%s': %w", r.GetGvk(), r.GetName(), err)
			}
		}
		if report {
			for _, v := range slices.Sorted(maps.Keys(missing)) {
				c.warn(ks, unresolvedMessage(v, ks, vars, always, unresolved))
			}
		}
	}
	display := b.opts.Display(u.rel)
	objs, err := toObjects(m, display)
	if err != nil {
		return nil, err
	}
	origin := "Kustomization " + namespaceOf(ks) + "/" + ks.Name()
	for i := range objs {
		objs[i].Line = 0
		objs[i].Set = c.dir + ":" + u.rel
		objs[i].Cluster = c.dir
		objs[i].Origin = origin
	}
	return objs, nil
}

func unresolvedMessage(v string, ks manifest.Object, vars map[string]string, always bool, unresolved []string) string {
	var b strings.Builder
	fmt.Fprintf(&b, "variable ${%s} is not set by Kustomization %s/%s", v, namespaceOf(ks), ks.Name())
	if len(unresolved) > 0 {
		fmt.Fprintf(&b, " (unresolved: %s)", strings.Join(unresolved, "; "))
	}
	if len(vars) > 0 || always {
		b.WriteString(": Flux substitutes an empty string")
	} else {
		b.WriteString(": no variable is set, so Flux leaves it as written")
	}
	return b.String()
}

// prepare returns ks as Flux's substitution reads it, with every
// substituteFrom reference the cluster cannot resolve offline reported
// (when report is set) and marked optional, so that the rest still
// resolves; unresolved says why each was left out.
func (b *builder) prepare(c *cluster, ks manifest.Object, report bool) (obj unstructured.Unstructured, unresolved []string) {
	obj = toUnstructured(ks.Data)
	refs, ok, _ := unstructured.NestedSlice(obj.Object, "spec", "postBuild", "substituteFrom")
	if !ok {
		return obj, nil
	}
	for i, r := range refs {
		ref, _ := r.(map[string]any)
		if ref == nil {
			continue
		}
		kind, _ := ref["kind"].(string)
		name, _ := ref["name"].(string)
		optional, _ := ref["optional"].(bool)
		key := kind + "/" + namespaceOf(ks) + "/" + name
		if c.pool.objs[key] != nil || optional {
			continue
		}
		why := fmt.Sprintf("%s %s/%s is not among the objects of cluster %s", kind, namespaceOf(ks), name, c.dir)
		if c.pool.encrypted[key] {
			why = fmt.Sprintf("%s %s/%s is SOPS-encrypted and cannot be read offline", kind, namespaceOf(ks), name)
		}
		unresolved = append(unresolved, why)
		if report {
			c.warn(ks, fmt.Sprintf("postBuild.substituteFrom: %s; its variables are unresolved", why))
		}
		ref["optional"] = true
		refs[i] = ref
	}
	_ = unstructured.SetNestedSlice(obj.Object, refs, "spec", "postBuild", "substituteFrom")
	return obj, unresolved
}

// notSet matches the strict-mode error of Flux's envsubst.
var notSet = regexp.MustCompile(`variable not set \(strict mode\): "([^"]*)"`)

// missingVars returns the variables data refers to without a default that
// vars does not set, found with Flux's own parser in strict mode.
func missingVars(data string, vars map[string]string) []string {
	known := maps.Clone(vars)
	if known == nil {
		known = map[string]string{}
	}
	var missing []string
	for range 1000 {
		_, err := envsubst.Eval(data, func(s string) (string, bool) {
			v, ok := known[s]
			return v, ok
		})
		if err == nil {
			break
		}
		m := notSet.FindStringSubmatch(err.Error())
		if m == nil {
			break
		}
		missing = append(missing, m[1])
		known[m[1]] = ""
	}
	return missing
}

// pool holds a cluster's ConfigMaps, Secrets and GitRepositories. It is
// the client.Client Flux's substitution reads substituteFrom objects
// through; only Get is served.
type pool struct {
	client.Client
	objs      map[string]map[string]any // by Kind/namespace/name
	encrypted map[string]bool
}

func newPool() *pool {
	return &pool{objs: map[string]map[string]any{}, encrypted: map[string]bool{}}
}

// add records r if it is a ConfigMap, a Secret, a GitRepository or an
// ArtifactGenerator.
func (p *pool) add(r *resource.Resource) {
	kind := r.GetKind()
	switch kind {
	case "ConfigMap", "Secret", "GitRepository":
	case generatorKind:
		if !strings.HasPrefix(r.GetApiVersion(), generatorGroup) {
			return
		}
	default:
		return
	}
	data, err := r.Map()
	if err != nil {
		return
	}
	key := kind + "/" + r.GetNamespace() + "/" + r.GetName()
	if _, ok := data["sops"]; ok {
		p.encrypted[key] = true
		return
	}
	p.objs[key] = data
}

// addObject records a loaded ArtifactGenerator.
func (p *pool) addObject(o manifest.Object) {
	p.objs[o.Kind()+"/"+namespaceOf(o)+"/"+o.Name()] = o.Data
}

// url returns the spec.url of the GitRepository ref names, or "".
func (p *pool) url(ref sourceRef) string {
	s, _ := nested(p.objs["GitRepository/"+ref.namespace+"/"+ref.name], "spec", "url").(string)
	return s
}

// Get serves ConfigMaps and Secrets of the repository; anything else is
// not found.
func (p *pool) Get(_ context.Context, key client.ObjectKey, obj client.Object, _ ...client.GetOption) error {
	var kind string
	switch obj.(type) {
	case *corev1.ConfigMap:
		kind = "ConfigMap"
	case *corev1.Secret:
		kind = "Secret"
	default:
		return fmt.Errorf("fluxgate reads only ConfigMaps and Secrets, not %T", obj)
	}
	data := p.objs[kind+"/"+key.Namespace+"/"+key.Name]
	if data == nil {
		return apierrors.NewNotFound(schema.GroupResource{Resource: strings.ToLower(kind) + "s"}, key.Name)
	}
	norm := map[string]any{"apiVersion": "v1", "kind": kind, "metadata": data["metadata"]}
	values := map[string]any{}
	for k, v := range asMap(data["data"]) {
		values[k] = fmt.Sprint(v)
	}
	if kind == "Secret" {
		for k, v := range asMap(data["stringData"]) {
			values[k] = base64.StdEncoding.EncodeToString([]byte(fmt.Sprint(v)))
		}
	}
	norm["data"] = values
	if err := runtime.DefaultUnstructuredConverter.FromUnstructured(norm, obj); err != nil {
		return fmt.Errorf("read %s %s: %w", kind, key, err)
	}
	return nil
}

// sourceRef is a Kustomization's spec.sourceRef, namespace defaulted.
type sourceRef struct{ kind, namespace, name string }

func (s sourceRef) String() string { return s.kind + " " + s.namespace + "/" + s.name }

func sourceOf(ks manifest.Object) sourceRef {
	ref := asMap(nested(ks.Data, "spec", "sourceRef"))
	s := sourceRef{namespace: namespaceOf(ks)}
	s.kind, _ = ref["kind"].(string)
	s.name, _ = ref["name"].(string)
	if ns, _ := ref["namespace"].(string); ns != "" {
		s.namespace = ns
	}
	return s
}

// toObjects converts the resources of a build into objects filed under
// display. Resources are decoded from their YAML nodes, as
// [manifest.Object.Data] holds values; one with a timestamp or binary
// scalar, which manifest keeps as written, is encoded and read instead.
func toObjects(m resmap.ResMap, display string) ([]manifest.Object, error) {
	out := make([]manifest.Object, 0, m.Size())
	for _, r := range m.Resources() {
		if scan(r.Document(), nil) {
			data, err := r.AsYAML()
			if err != nil {
				return nil, fmt.Errorf("encode %s: %w", r.CurId(), err)
			}
			objs, err := parse(data, display)
			if err != nil {
				return nil, err
			}
			out = append(out, objs...)
			continue
		}
		data, err := r.Map()
		if err != nil {
			return nil, fmt.Errorf("decode %s: %w", r.CurId(), err)
		}
		out = append(out, manifest.Object{Data: jsonValue(data).(map[string]any), File: display})
	}
	return out, nil
}

// jsonValue converts decoded YAML to the values manifest.Object.Data
// holds: integers as int64 (float64 when they do not fit).
func jsonValue(v any) any {
	switch x := v.(type) {
	case map[string]any:
		for k, e := range x {
			x[k] = jsonValue(e)
		}
		return x
	case []any:
		for i, e := range x {
			x[i] = jsonValue(e)
		}
		return x
	case int:
		return int64(x)
	case uint64:
		return float64(x)
	}
	return v
}

// scan reports whether a YAML node tree has a scalar that is a timestamp
// or binary, and appends to texts (when not nil) the keys and values that
// hold a "$".
func scan(n *yaml.Node, texts *[]string) (special bool) {
	if n == nil {
		return false
	}
	if n.Kind == yaml.ScalarNode {
		if texts != nil && strings.Contains(n.Value, "$") {
			*texts = append(*texts, n.Value)
		}
		switch n.ShortTag() {
		case "!!timestamp", "!!binary":
			return true
		}
		return false
	}
	for _, c := range n.Content {
		if scan(c, texts) {
			special = true
		}
	}
	return special
}

// parse reads the YAML stream of a build into objects filed under display.
func parse(data []byte, display string) ([]manifest.Object, error) {
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile("/build.yaml", data); err != nil {
		return nil, err
	}
	objs, err := manifest.LoadFS(fsys, "/build.yaml", display)
	if err != nil {
		return nil, fmt.Errorf("read the build of %s: %w", display, err)
	}
	for i := range objs {
		objs[i].File = display
	}
	return objs, nil
}

func isKustomization(data map[string]any) bool {
	v, _ := data["apiVersion"].(string)
	return data["kind"] == "Kustomization" && strings.HasPrefix(v, kustomizeGroup)
}

func specPath(data map[string]any) string {
	s, _ := nested(data, "spec", "path").(string)
	return s
}

// namespaceOf returns the object's namespace, flux-system when unset (where
// `flux create` puts Kustomizations).
func namespaceOf(o manifest.Object) string {
	if ns := o.Namespace(); ns != "" {
		return ns
	}
	return syncName
}

func objectID(o manifest.Object) string { return namespaceOf(o) + "/" + o.Name() }

func toUnstructured(data map[string]any) unstructured.Unstructured {
	return unstructured.Unstructured{Object: runtime.DeepCopyJSON(data)}
}

func nested(m map[string]any, fields ...string) any {
	var v any = m
	for _, f := range fields {
		mm, ok := v.(map[string]any)
		if !ok {
			return nil
		}
		v = mm[f]
	}
	return v
}

func asMap(v any) map[string]any {
	m, _ := v.(map[string]any)
	return m
}

func stringMap(v any) map[string]string {
	out := map[string]string{}
	for k, x := range asMap(v) {
		out[k] = fmt.Sprint(x)
	}
	return out
}
