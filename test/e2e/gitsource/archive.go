package gitsource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"fmt"
	"io"
	"time"

	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// entry is one regular file of a tarball.
type entry struct {
	name       string // slash-separated, relative to the root
	content    []byte
	executable bool
}

// Archive returns the tree of the commit a revision names as a gzip
// tarball shaped like source-controller's artifacts: one regular file
// entry per file, named by its path relative to the repository root
// (no leading "./" or "/"), in path order, with no directory, symlink
// or submodule entries (kustomize-controller's untar creates parent
// directories and skips symlinks). The same revision always gives the
// same bytes: modification times are the commit's time, owners are 0,
// and the gzip header carries no name or time.
func (r *Repo) Archive(revision string) ([]byte, error) {
	entries, when, err := r.tree(revision)
	if err != nil {
		return nil, err
	}
	return tarball(entries, when)
}

// Files returns the files of the commit a revision names, path ->
// content: what a test compares an extracted artifact with.
func (r *Repo) Files(revision string) (map[string]string, error) {
	entries, _, err := r.tree(revision)
	if err != nil {
		return nil, err
	}
	files := make(map[string]string, len(entries))
	for _, e := range entries {
		files[e.name] = string(e.content)
	}
	return files, nil
}

// tree reads the regular files of a commit, in path order, and the
// commit's time.
func (r *Repo) tree(revision string) ([]entry, time.Time, error) {
	hash, err := parseRevision(revision)
	if err != nil {
		return nil, time.Time{}, err
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	commit, err := r.git.CommitObject(hash)
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("revision %s: %w", revision, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("tree of %s: %w", revision, err)
	}
	var entries []entry
	err = tree.Files().ForEach(func(f *object.File) error {
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable && f.Mode != filemode.Deprecated {
			return nil
		}
		rd, err := f.Reader()
		if err != nil {
			return err
		}
		defer rd.Close()
		b, err := io.ReadAll(rd)
		if err != nil {
			return err
		}
		entries = append(entries, entry{name: f.Name, content: b, executable: f.Mode == filemode.Executable})
		return nil
	})
	if err != nil {
		return nil, time.Time{}, fmt.Errorf("read the files of %s: %w", revision, err)
	}
	return entries, commit.Committer.When, nil
}

// tarball writes entries, in the order given, as a gzip-compressed tar.
func tarball(entries []entry, modTime time.Time) ([]byte, error) {
	var buf bytes.Buffer
	gz := gzip.NewWriter(&buf)
	tw := tar.NewWriter(gz)
	for _, e := range entries {
		mode := int64(0o644)
		if e.executable {
			mode = 0o755
		}
		hdr := &tar.Header{
			Typeflag: tar.TypeReg,
			Name:     e.name,
			Mode:     mode,
			Size:     int64(len(e.content)),
			ModTime:  modTime.UTC().Truncate(time.Second),
		}
		if err := tw.WriteHeader(hdr); err != nil {
			return nil, fmt.Errorf("tar header of %s: %w", e.name, err)
		}
		if _, err := tw.Write(e.content); err != nil {
			return nil, fmt.Errorf("tar content of %s: %w", e.name, err)
		}
	}
	if err := tw.Close(); err != nil {
		return nil, fmt.Errorf("close tar: %w", err)
	}
	if err := gz.Close(); err != nil {
		return nil, fmt.Errorf("close gzip: %w", err)
	}
	return buf.Bytes(), nil
}
