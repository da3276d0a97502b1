package manifest

import (
	"errors"
	"fmt"
	"path/filepath"
	"strings"
	"sync"

	"go.yaml.in/yaml/v3"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/krusty"
	"sigs.k8s.io/kustomize/api/types"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// kustomizeMu serialises kustomize builds: kustomize keeps global state (the
// OpenAPI schema) that is not safe for concurrent use.
var kustomizeMu sync.Mutex

// referenceFields are the kustomization fields whose entries may name other
// kustomization directories.
var referenceFields = []string{"resources", "bases", "components", "generators", "transformers", "validators"}

// kustomizationFile returns the path of dir's kustomization file, or "".
func (l *loader) kustomizationFile(dir string) string {
	for _, name := range konfig.RecognizedKustomizationFileNames() {
		p := filepath.Join(dir, name)
		if l.fsys.Exists(p) && !l.fsys.IsDir(p) {
			return p
		}
	}
	return ""
}

// KustomizationRefs returns the kustomization directories that the
// kustomization in dir, on fsys, names in its reference fields (resources,
// bases, components, generators, transformers, validators), as dir joined
// with each entry; see [LoadPaths] for how the walk uses them.
func KustomizationRefs(fsys filesys.FileSystem, dir string) []string {
	return newLoader(fsys).references(dir)
}

// references returns the kustomization directories that the kustomization
// in dir names in its reference fields. Entries that are files, remote
// URLs or inline configurations are ignored, and so is a kustomization file
// that cannot be parsed (building it reports the problem).
func (l *loader) references(dir string) []string {
	k := l.key(dir)
	if refs, ok := l.refs[k]; ok {
		return refs
	}
	var refs []string
	if file := l.kustomizationFile(dir); file != "" {
		var kust map[string]any
		if data, err := l.fsys.ReadFile(file); err == nil && yaml.Unmarshal(data, &kust) == nil {
			for _, field := range referenceFields {
				entries, _ := kust[field].([]any)
				for _, e := range entries {
					s, _ := e.(string)
					if s == "" || strings.Contains(s, "\n") {
						continue
					}
					p := s
					if !filepath.IsAbs(p) {
						p = filepath.Join(dir, s)
					}
					if l.fsys.IsDir(p) && l.kustomizationFile(p) != "" {
						refs = append(refs, p)
					}
				}
			}
		}
	}
	l.refs[k] = refs
	return refs
}

// nestedKustomizations returns the keys of the kustomization directories in
// dirs that another directory in dirs refers to, directly or through any
// chain of kustomization directories. Those are built as part of the
// directories referring to them, not on their own. A directory that refers
// to itself is never nested, so that kustomize gets to report the cycle.
func (l *loader) nestedKustomizations(dirs []string) map[string]bool {
	nested := make(map[string]bool)
	if len(dirs) < 2 {
		return nested
	}
	collected := make(map[string]bool, len(dirs))
	for _, d := range dirs {
		collected[l.key(d)] = true
	}
	cyclic := make(map[string]bool)
	for _, d := range dirs {
		self := l.key(d)
		seen := make(map[string]bool)
		stack := append([]string(nil), l.references(d)...)
		for len(stack) > 0 {
			p := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			k := l.key(p)
			if seen[k] {
				continue
			}
			seen[k] = true
			if k == self {
				cyclic[k] = true
				continue
			}
			if collected[k] {
				nested[k] = true
			}
			stack = append(stack, l.references(p)...)
		}
	}
	for k := range cyclic {
		delete(nested, k)
	}
	return nested
}

// build runs kustomize in dir (once) and returns the resulting objects as
// one set named display.
func (l *loader) build(dir, display string) ([]Object, error) {
	k := l.key(dir)
	if l.done[k] {
		return nil, nil
	}
	l.done[k] = true
	docs, err := kustomizeBuild(l.fsys, dir)
	if err != nil {
		return nil, &BuildError{Dir: display, Err: err}
	}
	var out []Object
	for _, doc := range docs {
		objs, err := readObjects(display, doc, display, true)
		if err != nil {
			var pe *ParseError
			if errors.As(err, &pe) {
				err = pe.Err
			}
			return nil, &BuildError{Dir: display, Err: fmt.Errorf("reading output: %w", err)}
		}
		for i := range objs {
			objs[i].Line = 0
		}
		out = append(out, objs...)
	}
	return out, nil
}

// kustomizeBuild builds the kustomization in dir the way Flux's
// kustomize-controller does — files may be loaded from outside dir, only
// builtin plugins run, Helm charts are not inflated, resources keep their
// input order — and returns each resulting resource as YAML.
func kustomizeBuild(fsys filesys.FileSystem, dir string) (docs [][]byte, err error) {
	kustomizeMu.Lock()
	defer kustomizeMu.Unlock()
	defer func() {
		if r := recover(); r != nil {
			err = fmt.Errorf("kustomize panicked: %v", r)
		}
	}()
	opts := &krusty.Options{
		Reorder:          krusty.ReorderOptionNone,
		LoadRestrictions: types.LoadRestrictionsNone,
		PluginConfig:     types.DisabledPluginConfig(),
	}
	m, err := krusty.MakeKustomizer(opts).Run(fsys, dir)
	if err != nil {
		return nil, err
	}
	for _, r := range m.Resources() {
		y, err := r.AsYAML()
		if err != nil {
			return nil, fmt.Errorf("encode %s: %w", r.CurId(), err)
		}
		docs = append(docs, y)
	}
	return docs, nil
}
