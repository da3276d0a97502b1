package helmrelease

import (
	"bytes"
	"fmt"
	"sync"

	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
	"sigs.k8s.io/yaml"
)

// kustomizePostRenderer applies a HelmRelease's spec.postRenderers to the
// rendered manifest, in order, as helm-controller does: each kustomize
// post-renderer's patches and images over the manifest as its one
// resource.
type kustomizePostRenderer struct {
	renderers []map[string]any
}

// kustomizeMu serialises kustomize runs: kustomize keeps global state.
var kustomizeMu sync.Mutex

// Run implements Helm's postrender.PostRenderer.
func (p *kustomizePostRenderer) Run(in *bytes.Buffer) (*bytes.Buffer, error) {
	out := in
	for i, pr := range p.renderers {
		k, _ := pr["kustomize"].(map[string]any)
		if k == nil {
			continue
		}
		res, err := kustomizeOnce(out.Bytes(), k)
		if err != nil {
			return nil, fmt.Errorf("spec.postRenderers[%d]: %w", i, err)
		}
		out = bytes.NewBuffer(res)
	}
	return out, nil
}

// kustomizeOnce builds a kustomization of the manifest with the patches
// and images of one kustomize post-renderer.
func kustomizeOnce(manifest []byte, k map[string]any) (out []byte, err error) {
	kust := map[string]any{
		"apiVersion": "kustomize.config.k8s.io/v1beta1",
		"kind":       "Kustomization",
		"resources":  []string{"resources.yaml"},
	}
	for _, field := range []string{"patches", "images"} {
		if v, ok := k[field]; ok {
			kust[field] = v
		}
	}
	data, err := yaml.Marshal(kust)
	if err != nil {
		return nil, fmt.Errorf("kustomization: %w", err)
	}
	fsys := filesys.MakeFsInMemory()
	if err := fsys.WriteFile("/post/kustomization.yaml", data); err != nil {
		return nil, err
	}
	if err := fsys.WriteFile("/post/resources.yaml", manifest); err != nil {
		return nil, err
	}
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	m, err := krusty.MakeKustomizer(&krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsRootOnly,
		PluginConfig:     types.DisabledPluginConfig(),
	}).Run(fsys, "/post")
	if err != nil {
		return nil, fmt.Errorf("kustomize: %w", err)
	}
	return m.AsYaml()
}
