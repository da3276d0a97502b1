package fluxbuild

import (
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"sigs.k8s.io/yaml"
)

// The API group of source-watcher's ArtifactGenerator, whose artifacts
// are ExternalArtifacts of the generator's namespace.
const (
	generatorGroup = "source.extensions.fluxcd.io/"
	generatorKind  = "ArtifactGenerator"
	externalKind   = "ExternalArtifact"
)

// artifact is an ExternalArtifact reproduced from the repository: the
// tree an ArtifactGenerator's copy operations make of it.
type artifact struct {
	ref sourceRef
	dir string // the tree on disk
	// files maps each file of the tree (slash path relative to dir) to
	// the file of the repository it was copied from.
	files map[string]string
}

// errUnsupported marks a copy operation fluxgate does not reproduce.
var errUnsupported = errors.New("not reproduced by fluxgate")

// isGenerator reports whether data is an ArtifactGenerator.
func isGenerator(data map[string]any) bool {
	api, _ := data["apiVersion"].(string)
	kind, _ := data["kind"].(string)
	return kind == generatorKind && strings.HasPrefix(api, generatorGroup)
}

// generatorSource is one entry of an ArtifactGenerator's spec.sources.
type generatorSource struct {
	alias string
	ref   sourceRef
}

// generatorOf finds, among the cluster's ArtifactGenerators, the one
// producing the ExternalArtifact ref, and that artifact's spec. why
// explains a miss.
func (p *pool) generatorOf(ref sourceRef) (gen map[string]any, out map[string]any, why string) {
	var patterned []string
	for _, key := range slices.Sorted(maps.Keys(p.objs)) {
		g := p.objs[key]
		if !strings.HasPrefix(key, generatorKind+"/"+ref.namespace+"/") {
			continue
		}
		name := strings.TrimPrefix(key, generatorKind+"/"+ref.namespace+"/")
		if s, _ := nested(g, "spec", "pathPattern").(string); s != "" {
			patterned = append(patterned, ref.namespace+"/"+name)
			continue
		}
		arts, _ := nested(g, "spec", "artifacts").([]any)
		for _, a := range arts {
			if m := asMap(a); m["name"] == ref.name {
				return g, m, ""
			}
		}
	}
	if len(patterned) > 0 {
		return nil, nil, fmt.Sprintf("ArtifactGenerator %s discovers its artifacts with spec.pathPattern, which fluxgate does not reproduce", strings.Join(patterned, ", "))
	}
	return nil, nil, "no ArtifactGenerator among the objects of the cluster generates it"
}

// generatorSources returns gen's spec.sources, namespaces defaulted to
// the generator's.
func generatorSources(gen map[string]any) []generatorSource {
	ns, _ := nested(gen, "metadata", "namespace").(string)
	if ns == "" {
		ns = "default"
	}
	var out []generatorSource
	srcs, _ := nested(gen, "spec", "sources").([]any)
	for _, s := range srcs {
		m := asMap(s)
		g := generatorSource{ref: sourceRef{namespace: ns}}
		g.alias, _ = m["alias"].(string)
		g.ref.kind, _ = m["kind"].(string)
		g.ref.name, _ = m["name"].(string)
		if n, _ := m["namespace"].(string); n != "" {
			g.ref.namespace = n
		}
		out = append(out, g)
	}
	return out
}

// generate applies the copy operations of out (an entry of an
// ArtifactGenerator's spec.artifacts) to the sources, each alias naming a
// directory on disk, into a new directory under parent, as source-watcher
// does: operations in order, later files overwriting earlier ones.
func generate(parent string, ref sourceRef, out map[string]any, sources map[string]string) (*artifact, error) {
	dir, err := os.MkdirTemp(parent, "artifact-")
	if err != nil {
		return nil, fmt.Errorf("artifact %s: %w", ref, err)
	}
	a := &artifact{ref: ref, dir: dir, files: map[string]string{}}
	ops, _ := out["copy"].([]any)
	if len(ops) == 0 {
		return nil, fmt.Errorf("artifact %s has no copy operation", ref.name)
	}
	for _, op := range ops {
		m := asMap(op)
		from, _ := m["from"].(string)
		to, _ := m["to"].(string)
		if err := a.copyOp(m, sources); err != nil {
			return nil, fmt.Errorf("copy from %q to %q: %w", from, to, err)
		}
	}
	return a, nil
}

// copyOp applies one copy operation (from, to, exclude, strategy).
func (a *artifact) copyOp(op map[string]any, sources map[string]string) error {
	from, _ := op["from"].(string)
	to, _ := op["to"].(string)
	strategy, _ := op["strategy"].(string)
	var exclude []string
	for _, e := range asSlice(op["exclude"]) {
		if s, ok := e.(string); ok {
			exclude = append(exclude, s)
		}
	}
	switch strategy {
	case "", "Overwrite", "Merge":
	default:
		return fmt.Errorf("strategy %s is %w", strategy, errUnsupported)
	}
	alias, pattern, ok := strings.Cut(strings.TrimPrefix(from, "@"), "/")
	if !strings.HasPrefix(from, "@") || !ok {
		return fmt.Errorf("source must be @alias/pattern")
	}
	src, ok := sources[alias]
	if !ok {
		return fmt.Errorf("source alias %q not found", alias)
	}
	dest, ok := strings.CutPrefix(to, "@artifact/")
	if !ok {
		return fmt.Errorf("destination must start with @artifact/")
	}
	if dest = path.Clean("/" + dest)[1:]; dest == "" {
		dest = "."
	}
	if strings.HasPrefix(path.Clean(pattern), "..") {
		return fmt.Errorf("source pattern %q leaves the source", pattern)
	}
	merge := strategy == "Merge"
	if !strings.ContainsAny(pattern, "*?[]") {
		p := path.Clean(pattern)
		fi, err := os.Stat(filepath.Join(src, filepath.FromSlash(p)))
		if err != nil {
			return fmt.Errorf("source %q does not exist", p)
		}
		if fi.IsDir() {
			// A directory is copied as a subdirectory of the destination.
			return a.copyDir(src, p, path.Join(dest, path.Base(p)), p, exclude)
		}
		if excluded(p, ".", exclude) {
			return nil
		}
		target := dest
		if fi, err := os.Stat(filepath.Join(a.dir, filepath.FromSlash(dest))); strings.HasSuffix(to, "/") || (err == nil && fi.IsDir()) {
			target = path.Join(dest, path.Base(p))
		}
		return a.copyFile(src, p, target, merge)
	}
	// source-watcher matches with io/fs.Glob, where ** is one path
	// element like *; a matched directory is copied whole.
	matches, err := fs.Glob(os.DirFS(src), pattern)
	if err != nil {
		return fmt.Errorf("invalid glob pattern %q: %w", pattern, err)
	}
	base := selectionRoot(pattern)
	var kept []string
	for _, m := range matches {
		if m != "." && m != ".." && !excluded(m, base, exclude) {
			kept = append(kept, m)
		}
	}
	if len(kept) == 0 {
		return fmt.Errorf("no files match pattern %q", pattern)
	}
	for _, m := range kept {
		// dir/** copies the contents of dir; other patterns keep the
		// matched path under the destination.
		target := path.Join(dest, m)
		if prefix, ok := strings.CutSuffix(pattern, "/**"); ok {
			if rest, ok := strings.CutPrefix(m, prefix+"/"); ok {
				target = path.Join(dest, rest)
			}
		}
		fi, err := os.Stat(filepath.Join(src, filepath.FromSlash(m)))
		if err != nil {
			return fmt.Errorf("copy %s: %w", m, err)
		}
		if fi.IsDir() {
			err = a.copyDir(src, m, target, base, exclude)
		} else {
			err = a.copyFile(src, m, target, merge)
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// copyDir copies the directory rel of src to dest, recursively, leaving
// out what exclude matches (relative to the source or to base).
func (a *artifact) copyDir(src, rel, dest, base string, exclude []string) error {
	return fs.WalkDir(os.DirFS(src), rel, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(p, rel), "/")
		if rel == "." {
			sub = p
		}
		if p == rel {
			return os.MkdirAll(filepath.Join(a.dir, filepath.FromSlash(dest)), 0o755)
		}
		if excluded(p, base, exclude) {
			if d.IsDir() {
				return fs.SkipDir
			}
			return nil
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(a.dir, filepath.FromSlash(path.Join(dest, sub))), 0o755)
		}
		return a.copyFile(src, p, path.Join(dest, sub), false)
	})
}

// copyFile copies the file rel of src to dest, or with merge set merges
// its YAML into an existing dest as Helm merges values files.
func (a *artifact) copyFile(src, rel, dest string, merge bool) error {
	data, err := os.ReadFile(filepath.Join(src, filepath.FromSlash(rel)))
	if err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	target := filepath.Join(a.dir, filepath.FromSlash(dest))
	if old, err := os.ReadFile(target); err == nil && merge {
		var x, y map[string]any
		if err := yaml.Unmarshal(old, &x); err != nil {
			return fmt.Errorf("merge into %s: %w", dest, err)
		}
		if err := yaml.Unmarshal(data, &y); err != nil {
			return fmt.Errorf("merge %s: %w", rel, err)
		}
		if data, err = yaml.Marshal(mergeValues(x, y)); err != nil {
			return fmt.Errorf("merge %s into %s: %w", rel, dest, err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	if err := os.WriteFile(target, data, 0o644); err != nil {
		return fmt.Errorf("copy %s: %w", rel, err)
	}
	a.files[dest] = rel
	return nil
}

// mergeValues merges y into x: maps key by key, anything else (lists
// included) replaced.
func mergeValues(x, y map[string]any) map[string]any {
	if x == nil {
		x = map[string]any{}
	}
	for k, v := range y {
		if vm, ok := v.(map[string]any); ok {
			if xm, ok := x[k].(map[string]any); ok {
				x[k] = mergeValues(xm, vm)
				continue
			}
		}
		x[k] = v
	}
	return x
}

// selectionRoot returns the part of pattern before its first element
// with a glob character.
func selectionRoot(pattern string) string {
	var parts []string
	for _, part := range strings.Split(path.Clean(pattern), "/") {
		if strings.ContainsAny(part, "*?[]") {
			break
		}
		parts = append(parts, part)
	}
	if len(parts) == 0 {
		return "."
	}
	return path.Join(parts...)
}

// excluded reports whether an exclude pattern matches p (relative to the
// source) or p relative to base; a pattern without a slash also matches
// the file name at any depth.
func excluded(p, base string, patterns []string) bool {
	if len(patterns) == 0 {
		return false
	}
	cands := []string{p}
	if base != "." && base != "" {
		if rest, ok := strings.CutPrefix(p, base+"/"); ok {
			cands = append(cands, rest)
		}
	}
	for _, pat := range patterns {
		for _, c := range cands {
			if globMatch(pat, c) {
				return true
			}
		}
		if !strings.Contains(pat, "/") && globMatch(pat, path.Base(p)) {
			return true
		}
	}
	return false
}

// globMatch matches a slash path against a pattern where ** stands for
// any number of path elements and the other elements follow path.Match.
func globMatch(pattern, p string) bool {
	return matchParts(strings.Split(pattern, "/"), strings.Split(p, "/"))
}

func matchParts(pat, parts []string) bool {
	if len(pat) == 0 {
		return len(parts) == 0
	}
	if pat[0] == "**" {
		for i := 0; i <= len(parts); i++ {
			if matchParts(pat[1:], parts[i:]) {
				return true
			}
		}
		return false
	}
	if len(parts) == 0 {
		return false
	}
	if ok, err := path.Match(pat[0], parts[0]); err != nil || !ok {
		return false
	}
	return matchParts(pat[1:], parts[1:])
}

// origins returns the files of the repository copied into the directory
// rel of the artifact or below it.
func (a *artifact) origins(rel string) []string {
	var out []string
	for dest, src := range a.files {
		if within(dest, rel) {
			out = append(out, src)
		}
	}
	slices.Sort(out)
	return out
}

// sourceDir returns the directory of the repository that the directory
// rel of the artifact is a copy of, when all its files come from one
// directory with the same layout; else a path naming the artifact.
func (a *artifact) sourceDir(rel string) string {
	found := ""
	for dest, src := range a.files {
		if !within(dest, rel) {
			continue
		}
		sub := strings.TrimPrefix(strings.TrimPrefix(dest, rel), "/")
		if rel == "." {
			sub = dest
		}
		d, ok := strings.CutSuffix(src, "/"+sub)
		if src == sub {
			d, ok = ".", true
		}
		if !ok || (found != "" && d != found) {
			return "@" + a.ref.namespace + "/" + a.ref.name + "/" + rel
		}
		found = d
	}
	if found == "" {
		return "@" + a.ref.namespace + "/" + a.ref.name + "/" + rel
	}
	return found
}

func asSlice(v any) []any {
	s, _ := v.([]any)
	return s
}
