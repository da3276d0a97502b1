package policy

import (
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/fluxgate/fluxgate/rego"
)

// Module is the source text of one Rego file and the name it is reported
// under in errors and test output.
type Module struct {
	File string
	Text string
}

// IsTest reports whether the module holds Rego unit tests. Test modules are
// run by RunTests and never become part of a policy Set.
func (m Module) IsTest() bool {
	return strings.HasSuffix(m.File, "_test.rego")
}

// BuiltinModules returns the embedded built-in policies and libraries,
// unit tests included, named "builtin/<path>".
func BuiltinModules() ([]Module, error) {
	return readFS(rego.FS, ".", "builtin")
}

// ReadDir returns every .rego file below dir, recursively and in lexical
// order, named by its path on disk.
func ReadDir(dir string) ([]Module, error) {
	info, err := os.Stat(dir)
	if err != nil {
		return nil, fmt.Errorf("read policy directory: %w", err)
	}
	if !info.IsDir() {
		return nil, fmt.Errorf("read policy directory %s: not a directory", dir)
	}
	mods, err := readFS(os.DirFS(dir), ".", filepath.ToSlash(filepath.Clean(dir)))
	if err != nil {
		return nil, err
	}
	for i := range mods {
		mods[i].File = filepath.FromSlash(mods[i].File)
	}
	return mods, nil
}

// WithoutTests returns the modules that are not unit tests.
func WithoutTests(mods []Module) []Module {
	out := make([]Module, 0, len(mods))
	for _, m := range mods {
		if !m.IsTest() {
			out = append(out, m)
		}
	}
	return out
}

func readFS(fsys fs.FS, root, prefix string) ([]Module, error) {
	var mods []Module
	err := fs.WalkDir(fsys, root, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if p != root && strings.HasPrefix(d.Name(), ".") {
				return fs.SkipDir
			}
			return nil
		}
		if path.Ext(p) != ".rego" {
			return nil
		}
		b, err := fs.ReadFile(fsys, p)
		if err != nil {
			return err
		}
		mods = append(mods, Module{File: path.Join(prefix, p), Text: string(b)})
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read policies from %s: %w", prefix, err)
	}
	sort.Slice(mods, func(i, j int) bool { return mods[i].File < mods[j].File })
	return mods, nil
}

// Load returns the built-in modules followed by the modules of every
// directory in dirs: the policy library fluxgate runs.
func Load(dirs ...string) ([]Module, error) {
	mods, err := BuiltinModules()
	if err != nil {
		return nil, err
	}
	for _, d := range dirs {
		more, err := ReadDir(d)
		if err != nil {
			return nil, err
		}
		mods = append(mods, more...)
	}
	return mods, nil
}
