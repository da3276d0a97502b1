package gitsource

import (
	"archive/tar"
	"bytes"
	"compress/gzip"
	"errors"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"testing"

	fluxtar "github.com/fluxcd/pkg/tar"
)

// tarEntry is one header of a tarball as read back.
type tarEntry struct {
	name    string
	mode    int64
	typ     byte
	content string
}

// readTarball lists the entries of a gzip tarball, in order.
func readTarball(t *testing.T, blob []byte) []tarEntry {
	t.Helper()
	gz, err := gzip.NewReader(bytes.NewReader(blob))
	if err != nil {
		t.Fatalf("not gzip: %v", err)
	}
	if gz.Name != "" || !gz.ModTime.IsZero() {
		t.Errorf("gzip header carries name %q, time %v", gz.Name, gz.ModTime)
	}
	tr := tar.NewReader(gz)
	var out []tarEntry
	for {
		hdr, err := tr.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatalf("not a tar: %v", err)
		}
		b, err := io.ReadAll(tr)
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tarEntry{name: hdr.Name, mode: hdr.Mode, typ: hdr.Typeflag, content: string(b)})
	}
}

// untarFlux extracts a tarball with the library and options
// kustomize-controller v1.9.5 uses and returns the files, path -> content.
func untarFlux(t *testing.T, blob []byte) map[string]string {
	t.Helper()
	dir := t.TempDir()
	err := fluxtar.Untar(bytes.NewReader(blob), dir,
		fluxtar.WithMaxUntarSize(fluxtar.UnlimitedUntarSize), fluxtar.WithSkipSymlinks())
	if err != nil {
		t.Fatalf("fluxcd/pkg/tar cannot extract the tarball: %v", err)
	}
	files := map[string]string{}
	err = filepath.WalkDir(dir, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		rel, err := filepath.Rel(dir, path)
		files[filepath.ToSlash(rel)] = string(b)
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}
