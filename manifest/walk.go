package manifest

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"path/filepath"
	"sort"
	"strings"

	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// Stdin is the File of objects read from standard input.
const Stdin = "<stdin>"

// LoadPaths reads the objects in the given files and directories on disk, in
// the order given. The path "-" reads one YAML or JSON stream from stdin.
//
// A file is read in full and every document in it must be a Kubernetes
// object, whatever its extension. A directory is walked as described in the
// package documentation; a kustomization directory is built, even when it is
// a base of another one. File values are the given paths, cleaned, joined
// with the walked names; relative paths stay relative. Files and
// kustomization directories reached more than once (through several
// arguments or symbolic links) are read only once. No paths yield no objects.
func LoadPaths(paths []string, stdin io.Reader) ([]Object, error) {
	l := newLoader(filesys.MakeFsOnDisk())
	var out []Object
	readStdin := false
	for _, p := range paths {
		var objs []Object
		var err error
		switch p {
		case "":
			return nil, errors.New("empty manifest path")
		case "-":
			if readStdin {
				return nil, errors.New(`standard input ("-") given more than once`)
			}
			readStdin = true
			objs, err = readStream(stdin)
		default:
			objs, err = l.load(p, filepath.Clean(p))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// LoadFS reads the objects under root in fsys. root may be a file, read as if
// named explicitly, or a directory, walked as described in the package
// documentation (a kustomization directory at root is built).
//
// display stands for root in the File and Set of the objects: paths below
// root are joined to it with [filepath.Join], or appended to it directly when
// it ends with ":" (as "git:main:" does). An empty display makes File
// relative to root.
func LoadFS(fsys filesys.FileSystem, root, display string) ([]Object, error) {
	return newLoader(fsys).load(root, display)
}

func readStream(r io.Reader) ([]Object, error) {
	if r == nil {
		return nil, errors.New("read " + Stdin + ": no standard input available")
	}
	data, err := io.ReadAll(r)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", Stdin, err)
	}
	return readObjects(Stdin, data, "", true)
}

// loader reads manifests from one file system.
type loader struct {
	fsys filesys.FileSystem
	done map[string]bool     // files read and directories built, by key
	refs map[string][]string // kustomization references, by directory key
}

func newLoader(fsys filesys.FileSystem) *loader {
	return &loader{fsys: fsys, done: make(map[string]bool), refs: make(map[string][]string)}
}

// key identifies a path independently of how it was spelled: absolute, clean
// and, on disk, with symbolic links resolved.
func (l *loader) key(p string) string {
	dir, file, err := l.fsys.CleanedAbs(p)
	if err != nil {
		return filepath.Clean(p)
	}
	return filepath.Join(string(dir), file)
}

// load reads a path named explicitly: a file strictly, a directory by
// walking it.
func (l *loader) load(root, display string) ([]Object, error) {
	if !l.fsys.Exists(root) {
		return nil, fmt.Errorf("%s: %w", displayOrPath(display, root), fs.ErrNotExist)
	}
	if !l.fsys.IsDir(root) {
		return l.readFile(root, displayOrPath(display, root), true)
	}
	return l.walk(root, display)
}

// readFile reads the manifest file at p (once), into the loose set "".
func (l *loader) readFile(p, display string, strict bool) ([]Object, error) {
	k := l.key(p)
	if l.done[k] {
		return nil, nil
	}
	l.done[k] = true
	data, err := l.fsys.ReadFile(p)
	if err != nil {
		return nil, fmt.Errorf("read %s: %w", display, err)
	}
	return readObjects(display, data, "", strict)
}

// entry is a walked file or kustomization directory.
type entry struct {
	path    string // in the file system
	display string // as reported in Object.File
	kust    bool   // a kustomization directory
}

// walk reads a directory tree: loose manifest files leniently, and the
// kustomization directories that no other one in the tree refers to by
// building them.
func (l *loader) walk(root, display string) ([]Object, error) {
	var entries []entry
	if err := l.scan(root, display, make(map[string]bool), &entries); err != nil {
		return nil, err
	}
	var kdirs []string
	for _, e := range entries {
		if e.kust {
			kdirs = append(kdirs, e.path)
		}
	}
	nested := l.nestedKustomizations(kdirs)
	var out []Object
	for _, e := range entries {
		var objs []Object
		var err error
		switch {
		case !e.kust:
			objs, err = l.readFile(e.path, e.display, false)
		case !nested[l.key(e.path)]:
			objs, err = l.build(e.path, displayOrPath(e.display, e.path))
		}
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// scan lists, in lexical walk order, the manifest files and kustomization
// directories under dir, without descending into kustomization directories,
// Helm chart directories or hidden entries. visited guards against symbolic link loops.
func (l *loader) scan(dir, display string, visited map[string]bool, out *[]entry) error {
	k := l.key(dir)
	if visited[k] {
		return nil
	}
	visited[k] = true
	if l.kustomizationFile(dir) != "" {
		*out = append(*out, entry{path: dir, display: display, kust: true})
		return nil
	}
	if l.isChart(dir) {
		return nil
	}
	names, err := l.fsys.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("read directory %s: %w", displayOrPath(display, dir), err)
	}
	sort.Strings(names)
	for _, name := range names {
		if strings.HasPrefix(name, ".") {
			continue
		}
		p, d := filepath.Join(dir, name), joinDisplay(display, name)
		switch {
		case l.fsys.IsDir(p):
			if err := l.scan(p, d, visited, out); err != nil {
				return err
			}
		case isManifestFile(name):
			*out = append(*out, entry{path: p, display: d})
		}
	}
	return nil
}

// ChartFile is the file that makes a directory a Helm chart.
const ChartFile = "Chart.yaml"

// isChart reports whether dir is a Helm chart directory: one holding a
// Chart.yaml. Its templates are Go templates, not YAML, and its values
// files are not objects, so it is not read as manifests; a HelmRelease
// renders it (package helmrelease).
func (l *loader) isChart(dir string) bool {
	p := filepath.Join(dir, ChartFile)
	return l.fsys.Exists(p) && !l.fsys.IsDir(p)
}

// isManifestFile reports whether a walked file name has a manifest
// extension.
func isManifestFile(name string) bool {
	switch strings.ToLower(filepath.Ext(name)) {
	case ".yaml", ".yml", ".json":
		return true
	}
	return false
}

// joinDisplay appends a walked name to a display path.
func joinDisplay(display, name string) string {
	if strings.HasSuffix(display, ":") {
		return display + name
	}
	return filepath.Join(display, name)
}

// displayOrPath returns display, or p when display is empty (as it is for
// the root of LoadFS(fsys, root, "")).
func displayOrPath(display, p string) string {
	if display == "" {
		return p
	}
	return display
}
