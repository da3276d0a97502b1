package gitsource

import (
	"maps"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

var revisionPattern = regexp.MustCompile(`^main@sha1:[0-9a-f]{40}$`)

// TestCommits checks what tree each kind of commit leaves, and that every
// commit, even of an unchanged tree, gets a new revision.
func TestCommits(t *testing.T) {
	type step struct {
		commit func(r *Repo) (string, error)
		want   map[string]string
	}
	base := map[string]string{"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 1\n", "kustomization.yaml": "resources: []\n"}
	tests := []struct {
		name  string
		steps []step
	}{
		{
			name: "commit replaces the whole tree",
			steps: []step{
				{func(r *Repo) (string, error) { return r.Commit(base, "one") }, base},
				{
					func(r *Repo) (string, error) { return r.Commit(map[string]string{"apps/a.yaml": "a: 2\n"}, "two") },
					map[string]string{"apps/a.yaml": "a: 2\n"},
				},
			},
		},
		{
			name: "overlay keeps the files it does not name",
			steps: []step{
				{func(r *Repo) (string, error) { return r.Commit(base, "one") }, base},
				{
					func(r *Repo) (string, error) {
						return r.CommitOverlay(map[string]string{"apps/b.yaml": "b: 2\n", "new/c.yaml": "c\n"}, "two")
					},
					map[string]string{"apps/a.yaml": "a: 1\n", "apps/b.yaml": "b: 2\n", "kustomization.yaml": "resources: []\n", "new/c.yaml": "c\n"},
				},
			},
		},
		{
			name: "an unchanged tree still gets a new revision",
			steps: []step{
				{func(r *Repo) (string, error) { return r.Commit(base, "one") }, base},
				{func(r *Repo) (string, error) { return r.Commit(base, "again") }, base},
				{func(r *Repo) (string, error) { return r.CommitOverlay(nil, "empty") }, base},
			},
		},
		{
			name: "commit from an fs.FS",
			steps: []step{
				{
					func(r *Repo) (string, error) {
						return r.CommitFS(fstest.MapFS{
							"x/deploy.yaml":  {Data: []byte("kind: Deployment\n")},
							"kustomize.yaml": {Data: []byte("k\n")},
							".git/HEAD":      {Data: []byte("ignored\n")},
						}, "fs")
					},
					map[string]string{"x/deploy.yaml": "kind: Deployment\n", "kustomize.yaml": "k\n"},
				},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repo, err := New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			seen := map[string]bool{}
			for i, s := range tt.steps {
				rev, err := s.commit(repo)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !revisionPattern.MatchString(rev) {
					t.Fatalf("step %d: revision %q", i, rev)
				}
				if seen[rev] {
					t.Fatalf("step %d: revision %s reused", i, rev)
				}
				seen[rev] = true
				if head, err := repo.Head(); err != nil || head != rev {
					t.Fatalf("step %d: Head() = %q, %v; want %s", i, head, err, rev)
				}
				got, err := repo.Files(rev)
				if err != nil {
					t.Fatalf("step %d: %v", i, err)
				}
				if !maps.Equal(got, s.want) {
					t.Fatalf("step %d: tree %v, want %v", i, got, s.want)
				}
			}
		})
	}
}

// TestCommitRejectsBadPaths checks that no file lands outside the tree
// or in .git.
func TestCommitRejectsBadPaths(t *testing.T) {
	for _, name := range []string{"", ".", "/abs.yaml", "../up.yaml", "a/../b.yaml", "./a.yaml", ".git/config", `a\b`} {
		t.Run(name, func(t *testing.T) {
			repo, err := New(t.TempDir())
			if err != nil {
				t.Fatal(err)
			}
			_, err = repo.Commit(map[string]string{name: "x"}, "bad")
			if err == nil || !strings.Contains(err.Error(), "file path") {
				t.Fatalf("want a file path error, got %v", err)
			}
		})
	}
}

// TestParseRevision checks the revision forms accepted.
func TestParseRevision(t *testing.T) {
	const hash = "0123456789abcdef0123456789abcdef01234567"
	tests := []struct {
		in string
		ok bool
	}{
		{"main@sha1:" + hash, true},
		{hash, true},
		{"main@sha1:" + hash[:39], false},
		{"main@sha1:" + strings.ToUpper(hash[:1]) + "x" + hash[2:], false},
		{"main", false},
	}
	for _, tt := range tests {
		got, err := parseRevision(tt.in)
		if (err == nil) != tt.ok {
			t.Errorf("parseRevision(%q) error %v, want ok=%v", tt.in, err, tt.ok)
			continue
		}
		if tt.ok && got.String() != hash {
			t.Errorf("parseRevision(%q) = %s", tt.in, got)
		}
	}
}
