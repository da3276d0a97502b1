package gitsource

import (
	"bytes"
	"maps"
	"slices"
	"strings"
	"testing"
)

// TestArchiveFormat checks the tarball of a commit: regular files only,
// named relative to the root without "./", in path order, mode 0644, the
// same bytes every time, and extractable by kustomize-controller's untar
// into exactly the committed files.
func TestArchiveFormat(t *testing.T) {
	long := strings.Repeat("d/", 60) + "deep.yaml" // beyond ustar's 100 bytes
	tests := []struct {
		name  string
		files map[string]string
	}{
		{"one file", map[string]string{"deploy.yaml": "kind: Deployment\n"}},
		{"nested directories", map[string]string{
			"clusters/prod/kustomization.yaml": "resources:\n- ../../apps\n",
			"apps/kustomization.yaml":          "resources:\n- web.yaml\n",
			"apps/web.yaml":                    "kind: Deployment\n",
		}},
		{"empty file and long path", map[string]string{"empty.yaml": "", long: "x: 1\n"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			rev, err := repo.Commit(tt.files, tt.name)
			if err != nil {
				t.Fatal(err)
			}
			blob, err := repo.Archive(rev)
			if err != nil {
				t.Fatal(err)
			}
			again, err := repo.Archive(rev)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(blob, again) {
				t.Error("two archives of one revision differ")
			}

			entries := readTarball(t, blob)
			var names []string
			got := map[string]string{}
			for _, e := range entries {
				if e.typ != '0' {
					t.Errorf("%s: type %q, want a regular file", e.name, e.typ)
				}
				if e.mode != 0o644 {
					t.Errorf("%s: mode %o, want 644", e.name, e.mode)
				}
				if strings.HasPrefix(e.name, "./") || strings.HasPrefix(e.name, "/") {
					t.Errorf("%s: not relative to the root", e.name)
				}
				names = append(names, e.name)
				got[e.name] = e.content
			}
			if !slices.IsSorted(names) {
				t.Errorf("entries not in path order: %v", names)
			}
			if !maps.Equal(got, tt.files) {
				t.Errorf("tarball holds %v, want %v", got, tt.files)
			}
			if extracted := untarFlux(t, blob); !maps.Equal(extracted, tt.files) {
				t.Errorf("untar gives %v, want %v", extracted, tt.files)
			}
		})
	}
}

// TestArchiveUnknownRevision checks the errors for revisions the
// repository cannot archive.
func TestArchiveUnknownRevision(t *testing.T) {
	repo, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	for _, rev := range []string{"main", "main@sha1:" + strings.Repeat("0", 40)} {
		if _, err := repo.Archive(rev); err == nil {
			t.Errorf("Archive(%q): want an error", rev)
		}
	}
}
