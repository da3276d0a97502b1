package fluxbuild

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"os"
	"path"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"sync"

	"github.com/fluxcd/pkg/kustomize"
	"sigs.k8s.io/kustomize/api/konfig"
	"sigs.k8s.io/kustomize/api/resmap"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// Flux's API group for Kustomizations and the name of a cluster's sync.
const (
	kustomizeGroup = "kustomize.toolkit.fluxcd.io/"
	syncName       = "flux-system"
)

// Options says where the source is and how the loaded objects map onto it.
type Options struct {
	// Root is the source root on disk (the top of the Git work tree, or the
	// directory given with --root). A Kustomization's spec.path is relative
	// to it.
	Root string

	// FS, when set, holds the source instead of the disk (the in-memory
	// copy of a --git revision), with the source root at Root in it.
	FS filesys.FileSystem

	// Rel maps the File of a loaded object to a slash-separated path
	// relative to Root; ok is false for objects from elsewhere (standard
	// input). Nil treats File as a path on disk.
	Rel func(file string) (rel string, ok bool)

	// Display renders a slash-separated path relative to Root as it should
	// appear in the File of a built object. Nil shows the path as is.
	Display func(rel string) string

	// Guessed says that Root was not given nor anchored by a cluster's
	// sync, so a spec.path missing under it is a warning (the root may be
	// wrong) rather than a failed build.
	Guessed bool

	// Dirs are the directories given on the command line, relative to Root
	// and slash-separated. A directory among them that holds Kustomizations
	// no cluster's sync reaches is a cluster of its own.
	Dirs []string
}

// Result is what Flux would apply, and what could not be followed.
type Result struct {
	// Objects are the loaded objects no Flux Kustomization reaches and the
	// objects every cluster's Kustomizations build (with Cluster and Origin
	// set), the latter placed where a walk would list their path.
	Objects []manifest.Object
	// Findings are the problems met on the way: builds that fail (deny),
	// variables that cannot be resolved and sources that are not this
	// repository (warn).
	Findings []check.InputFinding
}

// Expand builds the Flux Kustomizations among objs as kustomize-controller
// would and returns what they apply in place of the loaded objects they
// reach. Without Flux Kustomizations among objs it returns objs unchanged.
// The source root is copied to a temporary directory first, because Flux's
// generator writes the Kustomization's spec into a kustomization.yaml.
func Expand(ctx context.Context, objs []manifest.Object, opts Options) (*Result, error) {
	var kss []int
	for i := range objs {
		if isKustomization(objs[i].Data) {
			kss = append(kss, i)
		}
	}
	if len(kss) == 0 {
		return &Result{Objects: objs}, nil
	}
	root := opts.Root
	if opts.FS == nil {
		abs, err := filepath.Abs(opts.Root)
		if err != nil {
			return nil, fmt.Errorf("source root %s: %w", opts.Root, err)
		}
		root = abs
	}
	b := &builder{ctx: ctx, opts: opts, root: root, loaded: objs}
	defer b.cleanup()
	if b.opts.Rel == nil {
		b.opts.Rel = b.relOnDisk
	}
	if b.opts.Display == nil {
		b.opts.Display = func(rel string) string { return rel }
	}
	// Only Kustomizations read from the source are followed (not those of
	// standard input); without one, the source is not copied.
	if !slices.ContainsFunc(kss, func(i int) bool { _, ok := b.opts.Rel(objs[i].File); return ok }) {
		return &Result{Objects: objs}, nil
	}
	tmp, err := os.MkdirTemp("", "fluxgate-build-")
	if err != nil {
		return nil, fmt.Errorf("flux build: %w", err)
	}
	defer os.RemoveAll(tmp)
	work, err := filepath.EvalSymlinks(tmp)
	if err != nil {
		return nil, fmt.Errorf("flux build: %w", err)
	}
	fsys := opts.FS
	if fsys == nil {
		fsys = filesys.MakeFsOnDisk()
	}
	if err := copyFS(fsys, root, work); err != nil {
		return nil, fmt.Errorf("copy source root %s: %w", root, err)
	}
	b.work = work

	// Entry points: each cluster's sync.
	var clusters []*cluster
	byDir := map[string]*cluster{}
	add := func(dir string, o manifest.Object) {
		c := byDir[dir]
		if c == nil {
			c = &cluster{dir: dir}
			byDir[dir] = c
			clusters = append(clusters, c)
		}
		c.roots = append(c.roots, o)
	}
	for _, i := range kss {
		if objs[i].Name() == syncName {
			rel, ok := cleanRel(specPath(objs[i].Data))
			if !ok {
				b.deny(objs[i], fmt.Sprintf("spec.path %q leaves the source root", specPath(objs[i].Data)))
				continue
			}
			add(rel, objs[i])
		}
	}
	b.runAll(clusters)
	// Kustomizations no sync reaches: first those of a clusters/<name>
	// directory whose sync is a placeholder, then, if still not reached,
	// the directory given that holds them.
	var loose []*cluster
	assigned := map[int]bool{}
	for _, byClusterDir := range []bool{true, false} {
		var group []*cluster
		for _, i := range kss {
			rel, ok := b.opts.Rel(objs[i].File)
			if !ok || assigned[i] || b.reachedBy(rel) || objs[i].Name() == syncName {
				continue
			}
			dir, found := b.clusterDir(rel)
			if byClusterDir && !found {
				continue
			}
			if !found {
				dir = b.argDir(rel)
			}
			assigned[i] = true
			c := byDir[dir]
			if c == nil {
				c = &cluster{dir: dir, own: true, clusterDir: found}
				byDir[dir] = c
				group = append(group, c)
			}
			c.roots = append(c.roots, objs[i])
		}
		b.runAll(group)
		loose = append(loose, group...)
	}

	out := make([]manifest.Object, 0, len(objs))
	for _, o := range objs {
		rel, ok := b.opts.Rel(o.File)
		if ok && b.reachedBy(rel) {
			continue
		}
		if ok {
			// Loose objects of a clusters/<name> directory are that
			// cluster's; those of another directory given stay unrelated
			// to each other, as without Flux.
			for _, c := range loose {
				if c.clusterDir && within(rel, c.dir) {
					o.Cluster = c.dir
				}
			}
		}
		out = append(out, o)
	}
	// Built objects in path order, as a walk of the repository lists them.
	slices.SortStableFunc(b.built, func(x, y manifest.Object) int {
		return cmp.Or(cmp.Compare(x.File, y.File), cmp.Compare(x.Cluster, y.Cluster))
	})
	return &Result{Objects: merge(out, b.built), Findings: b.findings}, nil
}

// builder holds the state of one Expand. Clusters are followed
// concurrently; what they share on disk is behind fs.
type builder struct {
	ctx    context.Context
	opts   Options
	root   string // source root, absolute
	work   string // its copy, where the generator writes
	loaded []manifest.Object
	// fs guards the copy of the source and what is read from it: Flux's
	// generator rewrites a directory's kustomization.yaml for the length
	// of a build, so no other cluster may read the copy meanwhile; and
	// the fields below, to findings.
	fs      sync.Mutex
	reached []string
	// units are kustomization directories of the repository whose
	// kustomization file an artifact copied where a Kustomization reads
	// it: the overlay is reached, not every file beside it.
	units map[string]bool
	// artifacts are the ExternalArtifacts reproduced, by cluster and
	// artifact, in directories under artDir.
	artifacts map[string]*artifact
	artDir    string
	built     []manifest.Object
	cache     map[string]resmap.ResMap // raw builds, by directory and generated kustomization
	generated map[string][]byte        // generated kustomization.yaml, by directory and spec
	findings  []check.InputFinding
}

// cluster is one cluster's entry point, what its Kustomizations use, and
// what following them gave.
type cluster struct {
	dir string // relative to the root, slash-separated
	own bool   // found without a sync
	// clusterDir: a clusters/<name> directory (holding flux-system), not
	// just a directory given.
	clusterDir bool
	roots      []manifest.Object // its entry Kustomizations
	pool       *pool             // its ConfigMaps, Secrets, GitRepositories and ArtifactGenerators
	src        *sourceRef        // the source its entry point reads
	built      []manifest.Object
	findings   []check.InputFinding
}

// runAll follows the clusters, as many at once as there are processors,
// and collects what they built and found in the clusters' order.
func (b *builder) runAll(clusters []*cluster) {
	sem := make(chan struct{}, runtime.GOMAXPROCS(0))
	var wg sync.WaitGroup
	for _, c := range clusters {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			b.run(c)
		})
	}
	wg.Wait()
	for _, c := range clusters {
		b.built = append(b.built, c.built...)
		b.findings = append(b.findings, c.findings...)
	}
}

// unit is one Kustomization built, waiting for substitution.
type unit struct {
	ks  manifest.Object
	rel string
	res resmap.ResMap
}

// run follows the cluster's Kustomizations breadth first, each once, then
// substitutes their variables with every ConfigMap and Secret the cluster
// holds.
func (b *builder) run(c *cluster) {
	c.pool = newPool()
	if c.own {
		// A cluster without a sync applies the ArtifactGenerators of
		// its directory as it applies its Kustomizations.
		for _, o := range b.loaded {
			if rel, ok := b.opts.Rel(o.File); ok && within(rel, c.dir) && isGenerator(o.Data) {
				c.pool.addObject(o)
			}
		}
	}
	seen := map[string]bool{}
	queue := append([]manifest.Object(nil), c.roots...)
	var units []*unit
	for len(queue) > 0 {
		ks := queue[0]
		queue = queue[1:]
		ks.Cluster = c.dir
		id := objectID(ks)
		if seen[id] {
			continue
		}
		seen[id] = true
		b.fs.Lock()
		art, why, err := b.foreign(c, ks)
		b.fs.Unlock()
		if err != nil {
			c.deny(ks, fmt.Sprintf("Flux cannot build it: %v", err))
			continue
		}
		if why != "" {
			c.warn(ks, why)
			continue
		}
		rel, ok := cleanRel(specPath(ks.Data))
		if !ok {
			c.deny(ks, fmt.Sprintf("spec.path %q leaves the source root", specPath(ks.Data)))
			continue
		}
		base := b.work
		if art != nil {
			base = art.dir
		}
		// spec.components are written into the kustomization.yaml only
		// for the build: they are reached as the directory is.
		b.fs.Lock()
		for _, dir := range append([]string{rel}, componentDirs(ks.Data, rel)...) {
			if art != nil {
				b.markCopied(art, dir)
			} else {
				b.markReached(dir)
			}
		}
		m, err := b.build(ks, base, rel)
		b.fs.Unlock()
		var missing *missingPathError
		if art != nil && errors.As(err, &missing) {
			err = fmt.Errorf("%w in %s", err, art.ref)
		}
		if art != nil {
			// Built objects name the repository directory the artifact's
			// directory was copied from.
			rel = art.sourceDir(rel)
		}
		if errors.As(err, &missing) && b.opts.Guessed && art == nil {
			c.warn(ks, fmt.Sprintf("%v under the source root %s; not followed (give the root with --root)", err, b.root))
			continue
		}
		if err != nil {
			c.deny(ks, fmt.Sprintf("Flux cannot build it: %v", err))
			continue
		}
		u := &unit{ks: ks, rel: rel, res: m}
		units = append(units, u)
		for _, r := range m.Resources() {
			c.pool.add(r)
		}
		children, err := b.children(c, u)
		if err != nil {
			c.deny(ks, fmt.Sprintf("Flux cannot substitute the Kustomizations it applies: %v", err))
			continue
		}
		queue = append(queue, children...)
	}
	for _, u := range units {
		objs, err := b.substitute(c, u, u.res, true)
		if err != nil {
			c.deny(u.ks, fmt.Sprintf("Flux cannot substitute its variables: %v", err))
			continue
		}
		c.built = append(c.built, objs...)
	}
}

// children returns the Flux Kustomizations u applies, substituted.
func (b *builder) children(c *cluster, u *unit) ([]manifest.Object, error) {
	sub := resmap.New()
	for _, r := range u.res.Resources() {
		if r.GetKind() == "Kustomization" && strings.HasPrefix(r.GetApiVersion(), kustomizeGroup) {
			if err := sub.Append(r.DeepCopy()); err != nil {
				return nil, err
			}
		}
	}
	if sub.Size() == 0 {
		return nil, nil
	}
	return b.substitute(c, u, sub, false)
}

// build runs Flux's generator and kustomize build for ks in the copy of
// the source, and restores the directory afterwards. The caller holds fs.
func (b *builder) build(ks manifest.Object, base, rel string) (resmap.ResMap, error) {
	dir := filepath.Join(base, filepath.FromSlash(rel))
	if fi, err := os.Stat(dir); err != nil || !fi.IsDir() {
		return nil, &missingPathError{path: specPath(ks.Data)}
	}
	gen := kustomize.NewGenerator(base, toUnstructured(ks.Data))
	// The build depends only on the directory's files, unchanged between
	// builds, and on the kustomization.yaml the generator makes of the
	// Kustomization's spec: clusters sharing an overlay with the same spec
	// (the usual layout) build it once.
	generated, err := b.generate(gen, ks, dir)
	if err != nil {
		return nil, fmt.Errorf("generate kustomization.yaml in %s: %w", rel, err)
	}
	key := dir + "\x00" + string(generated)
	if m, ok := b.cache[key]; ok {
		return m.DeepCopy(), nil
	}
	m, err := b.buildOnce(gen, base, dir, rel)
	if err != nil {
		return nil, err
	}
	if b.cache == nil {
		b.cache = map[string]resmap.ResMap{}
	}
	b.cache[key] = m.DeepCopy()
	return m, nil
}

// notGenerated are the fields of a Kustomization's spec that Flux's
// generator does not read: they act after the build (postBuild, which
// usually differs between clusters sharing an overlay) or on the
// reconcile.
var notGenerated = []string{"postBuild", "interval", "retryInterval", "timeout", "prune", "wait", "force",
	"suspend", "dependsOn", "healthChecks", "healthCheckExprs", "serviceAccountName", "kubeConfig",
	"decryption", "deletionPolicy"}

// generate returns the kustomization.yaml Flux's generator makes of ks
// for dir. The generator reads the directory's files, which stay as they
// are between builds, and the build fields of the Kustomization's spec,
// so the clusters sharing an overlay with the same build fields (the
// usual layout) scan the directory once. The caller holds fs.
func (b *builder) generate(gen *kustomize.Generator, ks manifest.Object, dir string) ([]byte, error) {
	fields, _ := ks.Data["spec"].(map[string]any)
	fields = maps.Clone(fields)
	for _, f := range notGenerated {
		delete(fields, f)
	}
	spec, err := json.Marshal(fields)
	if err != nil {
		return nil, fmt.Errorf("spec: %w", err)
	}
	key := dir + "\x00" + string(spec)
	if g, ok := b.generated[key]; ok {
		return g, nil
	}
	g, _, _, err := gen.GenerateManifest(dir)
	if err != nil {
		return nil, err
	}
	if b.generated == nil {
		b.generated = map[string][]byte{}
	}
	b.generated[key] = g
	return g, nil
}

// buildOnce writes the generated kustomization.yaml into dir, builds it
// with Flux's secure build and restores dir.
func (b *builder) buildOnce(gen *kustomize.Generator, base, dir, rel string) (resmap.ResMap, error) {
	action, err := gen.WriteFile(dir, kustomize.WithSaveOriginalKustomization())
	if err != nil {
		return nil, fmt.Errorf("generate kustomization.yaml in %s: %w", rel, err)
	}
	defer func() { _ = kustomize.CleanDirectory(dir, action) }()
	m, err := secureBuild(base, dir)
	if err != nil {
		return nil, fmt.Errorf("kustomize build failed: %w", err)
	}
	for _, r := range m.Resources() {
		if r.GetName() == "" || r.GetKind() == "" || r.GetApiVersion() == "" {
			return nil, fmt.Errorf("an object without apiVersion, kind or name: %s", r.String())
		}
	}
	return m, nil
}

// componentDirs returns the directories of ks's spec.components, which
// are relative to its spec.path rel, leaving out those outside the source.
func componentDirs(ks map[string]any, rel string) []string {
	var out []string
	for _, c := range asSlice(nested(ks, "spec", "components")) {
		s, _ := c.(string)
		if d, ok := cleanRel(path.Join(rel, s)); ok && s != "" {
			out = append(out, d)
		}
	}
	return out
}

// missingPathError is a spec.path that is not a directory of the source.
type missingPathError struct{ path string }

func (e *missingPathError) Error() string {
	return fmt.Sprintf("spec.path %q: no such directory", e.path)
}

// foreign says why ks reads another source than the cluster's entry
// point, or returns "". An ExternalArtifact that an ArtifactGenerator of
// the cluster makes of this repository alone is reproduced and returned;
// err says why it cannot be generated.
func (b *builder) foreign(c *cluster, ks manifest.Object) (*artifact, string, error) {
	ref := sourceOf(ks)
	if ref.kind != externalKind {
		return nil, b.notThis(c, ref), nil
	}
	gen, out, why := c.pool.generatorOf(ref)
	if gen == nil {
		return nil, fmt.Sprintf("its sourceRef %s: %s, so fluxgate cannot tell what it holds; not followed", ref, why), nil
	}
	genName := namespaceOf(manifest.Object{Data: gen}) + "/" + fmt.Sprint(nested(gen, "metadata", "name"))
	sources := map[string]string{}
	for _, s := range generatorSources(gen) {
		if s.ref.kind != "GitRepository" {
			return nil, fmt.Sprintf("its sourceRef %s is generated by ArtifactGenerator %s from %s, which is not the repository being checked; not followed", ref, genName, s.ref), nil
		}
		if why := b.notThis(c, s.ref); why != "" {
			return nil, fmt.Sprintf("its sourceRef %s is generated by ArtifactGenerator %s from %s, which is not the repository being checked (%s); not followed", ref, genName, s.ref, orUnknown(c.pool.url(*c.src))), nil
		}
		sources[s.alias] = b.work
	}
	key := c.dir + "\x00" + ref.String()
	if a, ok := b.artifacts[key]; ok {
		return a, "", nil
	}
	if b.artDir == "" {
		tmp, err := os.MkdirTemp("", "fluxgate-artifacts-")
		if err != nil {
			return nil, "", fmt.Errorf("reproduce %s: %w", ref, err)
		}
		if b.artDir, err = filepath.EvalSymlinks(tmp); err != nil {
			_ = os.RemoveAll(tmp)
			return nil, "", fmt.Errorf("reproduce %s: %w", ref, err)
		}
	}
	a, err := generate(b.artDir, ref, out, sources)
	if errors.Is(err, errUnsupported) {
		return nil, fmt.Sprintf("its sourceRef %s is generated by ArtifactGenerator %s with a copy fluxgate does not reproduce (%v); not followed", ref, genName, err), nil
	}
	if err != nil {
		return nil, "", fmt.Errorf("ArtifactGenerator %s cannot generate %s: %w", genName, ref, err)
	}
	if b.artifacts == nil {
		b.artifacts = map[string]*artifact{}
	}
	b.artifacts[key] = a
	return a, "", nil
}

// notThis says why the source ref is not the cluster's entry point's, or
// returns "". Without a sync, the first Git source met is taken for this
// repository.
func (b *builder) notThis(c *cluster, ref sourceRef) string {
	if c.src == nil {
		if c.own && ref.kind != "GitRepository" {
			// Without a sync, only a Git source can be taken for this
			// repository; an OCIRepository or a Bucket holds other
			// content.
			return fmt.Sprintf("its sourceRef %s is not a Git repository, so fluxgate cannot tell what it holds; not followed", ref)
		}
		c.src = &ref
		return ""
	}
	if ref == *c.src {
		return ""
	}
	if ref.kind == "GitRepository" && c.src.kind == "GitRepository" {
		url, want := c.pool.url(ref), c.pool.url(*c.src)
		if url != "" && url == want {
			return ""
		}
		if url != "" {
			return fmt.Sprintf("its sourceRef %s (%s) is not the repository being checked (%s); not followed", ref, url, orUnknown(want))
		}
	}
	return fmt.Sprintf("its sourceRef %s is not the repository being checked (%s); not followed", ref, *c.src)
}

// markCopied records the files of the repository that the artifact copied
// into the directory rel, and every kustomization directory of the
// artifact it refers to, as applied by a Kustomization.
func (b *builder) markCopied(a *artifact, rel string) {
	walkRefs(a.dir, rel, func(r string) {
		for _, src := range a.origins(r) {
			b.reached = append(b.reached, src)
			if slices.Contains(konfig.RecognizedKustomizationFileNames(), path.Base(src)) {
				if b.units == nil {
					b.units = map[string]bool{}
				}
				b.units[path.Dir(src)] = true
			}
		}
	})
}

// cleanup removes the reproduced artifacts.
func (b *builder) cleanup() {
	if b.artDir != "" {
		_ = os.RemoveAll(b.artDir)
	}
}

func orUnknown(s string) string {
	if s == "" {
		return "URL unknown"
	}
	return s
}

// markReached records rel, and every kustomization directory it refers
// to, as applied by a Kustomization.
func (b *builder) markReached(rel string) {
	walkRefs(b.work, rel, func(r string) { b.reached = append(b.reached, r) })
}

// walkRefs calls fn with rel, a slash path under dir, and with every
// kustomization directory under dir it refers to, transitively, each once.
func walkRefs(dir, rel string, fn func(string)) {
	onDisk := filesys.MakeFsOnDisk()
	seen := map[string]bool{}
	var visit func(string)
	visit = func(r string) {
		if seen[r] {
			return
		}
		seen[r] = true
		fn(r)
		for _, ref := range manifest.KustomizationRefs(onDisk, filepath.Join(dir, filepath.FromSlash(r))) {
			if abs, err := filepath.Rel(dir, ref); err == nil && !strings.HasPrefix(abs, "..") {
				visit(filepath.ToSlash(abs))
			}
		}
	}
	visit(rel)
}

// reachedBy reports whether rel lies in a directory a Kustomization
// applies.
func (b *builder) reachedBy(rel string) bool {
	if b.units[rel] {
		return true
	}
	for _, d := range b.reached {
		if within(rel, d) {
			return true
		}
	}
	return false
}

// clusterDir returns the nearest directory above rel holding a flux-system
// directory (clusters/<name>, whose sync may be a placeholder until
// bootstrap), if any.
func (b *builder) clusterDir(rel string) (string, bool) {
	for d := path.Dir(rel); d != "." && d != "/"; d = path.Dir(d) {
		if fi, err := os.Stat(filepath.Join(b.work, filepath.FromSlash(d), syncName)); err == nil && fi.IsDir() {
			return d, true
		}
	}
	return "", false
}

// argDir returns the directory given on the command line that holds rel
// (the deepest), or rel's directory.
func (b *builder) argDir(rel string) string {
	best := ""
	found := false
	for _, d := range b.opts.Dirs {
		if within(rel, d) && (!found || len(d) > len(best)) {
			best, found = d, true
		}
	}
	if found {
		return best
	}
	return path.Dir(rel)
}

func (b *builder) relOnDisk(file string) (string, bool) {
	if file == manifest.Stdin {
		return "", false
	}
	abs, err := filepath.Abs(file)
	if err != nil {
		return "", false
	}
	rel, err := filepath.Rel(b.root, abs)
	if err != nil || rel == ".." || strings.HasPrefix(rel, ".."+string(filepath.Separator)) {
		return "", false
	}
	return filepath.ToSlash(rel), true
}

func (b *builder) deny(o manifest.Object, msg string) {
	b.findings = append(b.findings, check.InputFinding{Object: o, Action: policy.ActionDeny, Message: msg})
}

func (c *cluster) deny(o manifest.Object, msg string) {
	c.findings = append(c.findings, check.InputFinding{Object: o, Action: policy.ActionDeny, Message: msg})
}

func (c *cluster) warn(o manifest.Object, msg string) {
	c.findings = append(c.findings, check.InputFinding{Object: o, Action: policy.ActionWarn, Message: msg})
}

// within reports whether the slash path p is dir or lies under it.
func within(p, dir string) bool {
	return dir == "." || p == dir || strings.HasPrefix(p, dir+"/")
}

// cleanRel cleans a spec.path ("./apps/production", "apps/", "") into a
// path relative to the root; ok is false when it leaves the root.
func cleanRel(p string) (string, bool) {
	c := path.Clean("/" + strings.TrimPrefix(p, "./"))
	if strings.HasPrefix(path.Clean(p), "..") {
		return "", false
	}
	if c == "/" {
		return ".", true
	}
	return c[1:], true
}

// copyFS copies the regular files under src in fsys to dst on disk,
// leaving out .git.
func copyFS(fsys filesys.FileSystem, src, dst string) error {
	return fsys.Walk(src, func(p string, info fs.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		target := filepath.Join(dst, rel)
		switch {
		case info.IsDir() && info.Name() == ".git" && p != src:
			return filepath.SkipDir
		case info.IsDir():
			return os.MkdirAll(target, 0o755)
		case !info.Mode().IsRegular():
			return nil
		}
		data, err := fsys.ReadFile(p)
		if err != nil {
			return err
		}
		if err := os.MkdirAll(filepath.Dir(target), 0o755); err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}

// merge inserts the built objects among the loaded ones where a walk of
// the repository would list their path, keeping both orders.
func merge(loaded, built []manifest.Object) []manifest.Object {
	out := make([]manifest.Object, 0, len(loaded)+len(built))
	i, j := 0, 0
	for i < len(loaded) || j < len(built) {
		if j == len(built) || (i < len(loaded) && loaded[i].File <= built[j].File) {
			out = append(out, loaded[i])
			i++
			continue
		}
		out = append(out, built[j])
		j++
	}
	return out
}
