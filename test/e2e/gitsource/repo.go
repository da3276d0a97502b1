package gitsource

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// Repo is a Git repository on disk, with a work tree, whose commits all go
// to Branch. It is safe for concurrent use: a Server reads commits while
// the test makes new ones.
type Repo struct {
	mu   sync.Mutex
	dir  string
	git  *git.Repository
	work *git.Worktree
}

// New creates an empty Git repository in dir (an existing, preferably
// empty, directory such as t.TempDir()) whose HEAD is Branch.
func New(dir string) (*Repo, error) {
	g, err := git.PlainInitWithOptions(dir, &git.PlainInitOptions{
		InitOptions: git.InitOptions{DefaultBranch: plumbing.NewBranchReferenceName(Branch)},
	})
	if err != nil {
		return nil, fmt.Errorf("init git repository in %s: %w", dir, err)
	}
	work, err := g.Worktree()
	if err != nil {
		return nil, fmt.Errorf("open work tree of %s: %w", dir, err)
	}
	return &Repo{dir: dir, git: g, work: work}, nil
}

// Dir returns the directory of the repository's work tree.
func (r *Repo) Dir() string { return r.dir }

// Commit replaces the whole tree with files (slash-separated path
// relative to the repository root -> content) and commits it: the new
// commit holds exactly these files. Every call makes a new commit, even
// with an unchanged tree, so every call returns a new revision,
// "main@sha1:<hash>".
func (r *Repo) Commit(files map[string]string, message string) (string, error) {
	return r.commit(files, true, message)
}

// CommitOverlay adds or overwrites files (path -> content) and commits:
// files not named keep their content. Like Commit, it always makes a new
// commit and returns its revision.
func (r *Repo) CommitOverlay(files map[string]string, message string) (string, error) {
	return r.commit(files, false, message)
}

// CommitFS replaces the whole tree with the regular files of fsys (for
// example os.DirFS("testdata/v1"), or an embed.FS narrowed with fs.Sub)
// and commits it, as Commit does.
func (r *Repo) CommitFS(fsys fs.FS, message string) (string, error) {
	files, err := readFS(fsys)
	if err != nil {
		return "", err
	}
	return r.Commit(files, message)
}

// Head returns the revision of the newest commit.
func (r *Repo) Head() (string, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	ref, err := r.git.Head()
	if err != nil {
		return "", fmt.Errorf("read HEAD: %w", err)
	}
	return revisionOf(ref.Hash()), nil
}

func (r *Repo) commit(files map[string]string, replace bool, message string) (string, error) {
	for name := range files {
		if err := checkPath(name); err != nil {
			return "", err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if replace {
		if err := r.clearWorkTree(); err != nil {
			return "", err
		}
	}
	for name, content := range files {
		dst := filepath.Join(r.dir, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
		if err := os.WriteFile(dst, []byte(content), 0o644); err != nil {
			return "", fmt.Errorf("write %s: %w", name, err)
		}
	}
	if err := r.work.AddWithOptions(&git.AddOptions{All: true}); err != nil {
		return "", fmt.Errorf("stage the work tree: %w", err)
	}
	sig := &object.Signature{Name: "gitsource", Email: "gitsource@e2e.invalid", When: time.Now()}
	hash, err := r.work.Commit(message, &git.CommitOptions{
		All:               true,
		AllowEmptyCommits: true,
		Author:            sig,
		Committer:         sig,
	})
	if err != nil {
		return "", fmt.Errorf("commit %q: %w", message, err)
	}
	return revisionOf(hash), nil
}

// clearWorkTree removes everything from the work tree but .git.
func (r *Repo) clearWorkTree() error {
	entries, err := os.ReadDir(r.dir)
	if err != nil {
		return fmt.Errorf("clear the work tree: %w", err)
	}
	for _, e := range entries {
		if e.Name() == git.GitDirName {
			continue
		}
		if err := os.RemoveAll(filepath.Join(r.dir, e.Name())); err != nil {
			return fmt.Errorf("clear the work tree: %w", err)
		}
	}
	return nil
}

// checkPath accepts a slash-separated path inside the repository, outside
// .git, that kustomize-controller can extract.
func checkPath(name string) error {
	if !fs.ValidPath(name) || name == "." || strings.Contains(name, `\`) {
		// Flux's untar refuses names with a backslash.
		return fmt.Errorf("file path %q: want a slash-separated relative path without . or .. elements or backslashes", name)
	}
	if first, _, _ := strings.Cut(name, "/"); first == git.GitDirName {
		return fmt.Errorf("file path %q: inside .git", name)
	}
	return nil
}

// readFS reads every regular file of fsys into a path -> content map.
func readFS(fsys fs.FS) (map[string]string, error) {
	files := map[string]string{}
	err := fs.WalkDir(fsys, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == git.GitDirName {
			return fs.SkipDir
		}
		if !d.Type().IsRegular() {
			return nil
		}
		b, err := fs.ReadFile(fsys, name)
		if err != nil {
			return err
		}
		files[path.Clean(name)] = string(b)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("read the files to commit: %w", err)
	}
	if len(files) == 0 {
		return nil, errors.New("read the files to commit: no regular file")
	}
	return files, nil
}
