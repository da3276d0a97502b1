// Package sources reads the list of upstream manifests fluxgate's golden
// tests check (test/testdata/upstream/sources.yaml) and downloads them:
// each module at its pinned version through the Go module proxy (`go mod
// download`), the listed paths copied into OUT/<source>/<dir>/, the listed
// edits applied, and what was taken recorded in OUT/<source>/VERSIONS and
// OUT/VERSIONS. Nothing of the upstream projects is kept in the repository.
package sources

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// File is the path of the source list, relative to the repository root.
const File = "test/testdata/upstream/sources.yaml"

// List is the content of the source list.
type List struct {
	Sources []Source `json:"sources"`
}

// Source is one set of upstream manifests, checked as one unit.
type Source struct {
	// Name names the golden file and the folder under bin/upstream/.
	Name string `json:"name"`
	// Project is the upstream project, as the README's table names it.
	Project string `json:"project"`
	// Provenance says what upstream ships these manifests as.
	Provenance string `json:"provenance"`
	// Modules are downloaded into the source's folder.
	Modules []Module `json:"modules"`
	// Read lists what the test reads, relative to the source's folder.
	Read []Read `json:"read"`
}

// Module is one Go module version and the paths copied from it.
type Module struct {
	Module  string `json:"module"`
	Version string `json:"version"`
	// Dir is the folder under the source's folder the paths are copied
	// into; empty is the source's folder itself.
	Dir string `json:"dir,omitempty"`
	// Paths are files or folders of the module, slash-separated.
	Paths []string `json:"paths"`
	// Edits are applied to the copied files, in order.
	Edits []Edit `json:"edits,omitempty"`
}

// Edit replaces every match of a regular expression in one copied file.
type Edit struct {
	// File is a path of the module (one of Paths or below one).
	File string `json:"file"`
	// Replace is a Go regular expression; it must match at least once.
	Replace string `json:"replace"`
	// With replaces each match ($1 and the like expand).
	With string `json:"with"`
}

// Read is one thing the test reads.
type Read struct {
	// Path is relative to the source's folder.
	Path string `json:"path"`
	// Helm, when set, renders Path as a Helm chart.
	Helm *Helm `json:"helm,omitempty"`
}

// Helm says how a chart is rendered.
type Helm struct {
	Release   string         `json:"release"`
	Namespace string         `json:"namespace"`
	Values    map[string]any `json:"values,omitempty"`
}

// Load reads and checks a source list.
func Load(file string) (*List, error) {
	b, err := os.ReadFile(file)
	if err != nil {
		return nil, fmt.Errorf("read source list: %w", err)
	}
	l := &List{}
	if err := yaml.UnmarshalStrict(b, l); err != nil {
		return nil, fmt.Errorf("source list %s: %w", file, err)
	}
	if err := l.validate(); err != nil {
		return nil, fmt.Errorf("source list %s: %w", file, err)
	}
	return l, nil
}

var namePattern = regexp.MustCompile(`^[a-z0-9][a-z0-9-]*$`)

func (l *List) validate() error {
	if len(l.Sources) == 0 {
		return errors.New("no sources")
	}
	seen := map[string]bool{}
	var errs []error
	for i, s := range l.Sources {
		where := fmt.Sprintf("sources[%d] (%s)", i, s.Name)
		switch {
		case !namePattern.MatchString(s.Name):
			errs = append(errs, fmt.Errorf("%s: name must be lower-case letters, digits and dashes", where))
		case seen[s.Name]:
			errs = append(errs, fmt.Errorf("%s: name used twice", where))
		}
		seen[s.Name] = true
		if s.Project == "" || s.Provenance == "" {
			errs = append(errs, fmt.Errorf("%s: project and provenance are required", where))
		}
		if len(s.Modules) == 0 || len(s.Read) == 0 {
			errs = append(errs, fmt.Errorf("%s: needs modules and read", where))
		}
		for j, m := range s.Modules {
			mw := fmt.Sprintf("%s.modules[%d]", where, j)
			if m.Module == "" || m.Version == "" || len(m.Paths) == 0 {
				errs = append(errs, fmt.Errorf("%s: module, version and paths are required", mw))
			}
			for _, p := range append(append([]string{}, m.Paths...), m.Dir) {
				if p != "" && !local(p) {
					errs = append(errs, fmt.Errorf("%s: %q must be a relative path inside the module", mw, p))
				}
			}
			for k, e := range m.Edits {
				if _, err := regexp.Compile(e.Replace); err != nil {
					errs = append(errs, fmt.Errorf("%s.edits[%d]: %w", mw, k, err))
				}
				if !local(e.File) {
					errs = append(errs, fmt.Errorf("%s.edits[%d]: %q must be a relative path inside the module", mw, k, e.File))
				}
			}
		}
		for j, r := range s.Read {
			if !local(r.Path) {
				errs = append(errs, fmt.Errorf("%s.read[%d]: %q must be a relative path", where, j, r.Path))
			}
			if r.Helm != nil && (r.Helm.Release == "" || r.Helm.Namespace == "") {
				errs = append(errs, fmt.Errorf("%s.read[%d]: helm needs release and namespace", where, j))
			}
		}
	}
	return errors.Join(errs...)
}

func local(p string) bool { return p != "" && filepath.IsLocal(filepath.FromSlash(p)) }

// Source returns the source named name.
func (l *List) Source(name string) (*Source, bool) {
	for i := range l.Sources {
		if l.Sources[i].Name == name {
			return &l.Sources[i], true
		}
	}
	return nil, false
}

// Versions is the VERSIONS record of s: one line per module, then one per
// edit, so that a changed pin or edit shows as a changed record.
func (s *Source) Versions() string {
	var b strings.Builder
	for _, m := range s.Modules {
		dir := m.Dir
		if dir == "" {
			dir = "."
		}
		fmt.Fprintf(&b, "%s %s@%s %s -> %s\n", s.Name, m.Module, m.Version, strings.Join(m.Paths, ","), dir)
		for _, e := range m.Edits {
			fmt.Fprintf(&b, "%s edit %s: %q -> %q\n", s.Name, path.Join(dir, e.File), e.Replace, e.With)
		}
	}
	return b.String()
}

// Downloaded reads the repository's source list and finds the manifests
// `make upstream-manifests` downloaded from it (testenv.Upstream: bin/upstream
// or $FLUXGATE_UPSTREAM), with an error when they are missing or were
// downloaded from another version of the list.
func Downloaded() (*List, string, error) {
	root, err := testenv.RepoRoot()
	if err != nil {
		return nil, "", err
	}
	l, err := Load(filepath.Join(root, File))
	if err != nil {
		return nil, "", err
	}
	dir, err := testenv.Upstream()
	if err != nil {
		return nil, "", err
	}
	got, err := os.ReadFile(filepath.Join(dir, "VERSIONS"))
	if err != nil {
		return nil, "", err
	}
	if string(got) != l.Versions() {
		return nil, "", fmt.Errorf("%s/VERSIONS does not match %s: run `make upstream-manifests`\n--- downloaded:\n%s--- listed:\n%s", dir, File, got, l.Versions())
	}
	return l, dir, nil
}

// Versions is the record of every source, written to OUT/VERSIONS.
func (l *List) Versions() string {
	var b strings.Builder
	for i := range l.Sources {
		b.WriteString(l.Sources[i].Versions())
	}
	return b.String()
}

// Fetch downloads every source of l into out, which it replaces as a
// whole: a failed run leaves the previous one in place. goCmd is the go
// command to run `go mod download` with.
func Fetch(ctx context.Context, l *List, out, goCmd string) error {
	out, err := filepath.Abs(out)
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	tmp, err := os.MkdirTemp(filepath.Dir(out), filepath.Base(out)+".tmp.")
	if err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	defer os.RemoveAll(tmp)
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("output folder: %w", err)
	}
	dirs := map[string]string{} // module@version -> module directory
	for i := range l.Sources {
		s := &l.Sources[i]
		for _, m := range s.Modules {
			mv := m.Module + "@" + m.Version
			if _, ok := dirs[mv]; !ok {
				d, err := download(ctx, goCmd, mv)
				if err != nil {
					return fmt.Errorf("source %s: %w", s.Name, err)
				}
				dirs[mv] = d
			}
			dest := filepath.Join(tmp, s.Name, filepath.FromSlash(m.Dir))
			for _, p := range m.Paths {
				if err := copyPath(filepath.Join(dirs[mv], filepath.FromSlash(p)), filepath.Join(dest, filepath.FromSlash(p))); err != nil {
					return fmt.Errorf("source %s: %s: %w", s.Name, mv, err)
				}
			}
			for _, e := range m.Edits {
				if err := edit(filepath.Join(dest, filepath.FromSlash(e.File)), e); err != nil {
					return fmt.Errorf("source %s: %s: %w", s.Name, mv, err)
				}
			}
		}
		if err := os.WriteFile(filepath.Join(tmp, s.Name, "VERSIONS"), []byte(s.Versions()), 0o644); err != nil {
			return fmt.Errorf("source %s: %w", s.Name, err)
		}
	}
	if err := os.WriteFile(filepath.Join(tmp, "VERSIONS"), []byte(l.Versions()), 0o644); err != nil {
		return fmt.Errorf("write VERSIONS: %w", err)
	}
	if err := os.RemoveAll(out); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	if err := os.Rename(tmp, out); err != nil {
		return fmt.Errorf("replace %s: %w", out, err)
	}
	return nil
}

// download runs `go mod download -json module@version` and returns the
// module's directory in the module cache.
func download(ctx context.Context, goCmd, mv string) (string, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, goCmd, "mod", "download", "-json", mv)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	runErr := cmd.Run()
	var info struct{ Dir, Error string }
	if err := json.Unmarshal(stdout.Bytes(), &info); err != nil {
		return "", fmt.Errorf("go mod download %s: %v: %s", mv, errors.Join(runErr, err), strings.TrimSpace(stderr.String()))
	}
	if info.Error != "" {
		return "", fmt.Errorf("go mod download %s: %s", mv, info.Error)
	}
	if runErr != nil || info.Dir == "" {
		return "", fmt.Errorf("go mod download %s: no module directory: %v: %s", mv, runErr, strings.TrimSpace(stderr.String()))
	}
	return info.Dir, nil
}

// copyPath copies a file or a folder tree, writable by its owner (the
// module cache is read-only).
func copyPath(src, dst string) error {
	info, err := os.Stat(src)
	if err != nil {
		return fmt.Errorf("not in the module: %w", err)
	}
	if !info.IsDir() {
		return copyFile(src, dst)
	}
	return filepath.WalkDir(src, func(p string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(src, p)
		if err != nil {
			return err
		}
		if d.IsDir() {
			return os.MkdirAll(filepath.Join(dst, rel), 0o755)
		}
		return copyFile(p, filepath.Join(dst, rel))
	})
}

func copyFile(src, dst string) error {
	b, err := os.ReadFile(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
		return err
	}
	return os.WriteFile(dst, b, 0o644)
}

// edit applies e to file; an edit that matches nothing is an error, so a
// change upstream never goes unnoticed.
func edit(file string, e Edit) error {
	re, err := regexp.Compile(e.Replace)
	if err != nil {
		return fmt.Errorf("edit %s: %w", e.File, err)
	}
	b, err := os.ReadFile(file)
	if err != nil {
		return fmt.Errorf("edit %s: %w", e.File, err)
	}
	if !re.Match(b) {
		return fmt.Errorf("edit %s: %q matches nothing", e.File, e.Replace)
	}
	return os.WriteFile(file, re.ReplaceAll(b, []byte(e.With)), 0o644)
}
