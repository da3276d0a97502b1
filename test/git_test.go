package test

import (
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing/object"
)

func regexpMatch(pattern, s string) bool { return regexp.MustCompile(pattern).MatchString(s) }

// gitFleet makes a Git repository holding testdata/fleet at two
// revisions: v1 as it is, and a later commit on the default branch whose
// production budget blocks every drain.
func gitFleet(t *testing.T) string {
	t.Helper()
	dir, repo := gitRepo(t, "testdata/fleet", "fleet: initial")
	head, err := repo.Head()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := repo.CreateTag("v1", head.Hash(), nil); err != nil {
		t.Fatal(err)
	}
	pdb := filepath.Join(dir, "apps/production/pdb.yaml")
	b, _ := os.ReadFile(pdb)
	b = []byte(strings.Replace(string(b), "maxUnavailable: 1", "minAvailable: 3", 1))
	if err := os.WriteFile(pdb, b, 0o644); err != nil {
		t.Fatal(err)
	}
	commitAll(t, repo, "apps: keep every podinfo pod up")
	// The work tree is then changed without a commit: a check of a revision
	// must not see it.
	if err := os.RemoveAll(filepath.Join(dir, "apps")); err != nil {
		t.Fatal(err)
	}
	return dir
}

// gitRepo makes a Git repository (go-git) in a temporary directory holding
// a copy of the files under src, committed as msg.
func gitRepo(t *testing.T, src, msg string) (string, *git.Repository) {
	t.Helper()
	dir := t.TempDir()
	repo, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	err = filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, b, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	commitAll(t, repo, msg)
	return dir, repo
}

// commitAll commits every file of repo's work tree as msg.
func commitAll(t *testing.T, repo *git.Repository, msg string) {
	t.Helper()
	wt, err := repo.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	if err := wt.AddGlob("."); err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "fleet", Email: "fleet@example.com", When: time.Unix(1_700_000_000, 0)}
	if _, err := wt.Commit(msg, &git.CommitOptions{Author: sig}); err != nil {
		t.Fatal(err)
	}
}

func TestCheckGitRevisions(t *testing.T) {
	repo := gitFleet(t)
	tests := []struct {
		ref      string
		wantCode int
		want     []string
	}{
		{ref: "v1", wantCode: 0, want: []string{"mutate rollout-strategy Deployment apps/podinfo"}},
		{ref: "HEAD~1", wantCode: 0, want: []string{"mutate rollout-strategy Deployment apps/podinfo"}},
		{ref: "master", wantCode: 1, want: []string{
			"mutate rollout-strategy Deployment apps/podinfo",
			"deny pdb-drain-safe Deployment apps/podinfo",
			"deny pdb-drain-safe PodDisruptionBudget apps/podinfo",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			rep, res := checkJSON(t, "--git", repo, "--ref", tt.ref, "--path", "apps/production")
			if res.code != tt.wantCode {
				t.Fatalf("exit %d, want %d: %s", res.code, tt.wantCode, res.stderr)
			}
			if got := strings.Join(findings(rep), "\n"); got != strings.Join(tt.want, "\n") {
				t.Fatalf("findings:\n%s\nwant:\n%s", got, strings.Join(tt.want, "\n"))
			}
			for _, r := range rep.Results {
				if !strings.HasPrefix(r.File, "git:"+tt.ref+":") {
					t.Errorf("result not located in the revision: %+v", r)
				}
			}
		})
	}
	res := runFluxgate(t, "", "check", "--git", repo, "--ref", "no-such-branch")
	if res.code != 2 || !strings.Contains(res.stderr, "no-such-branch") {
		t.Fatalf("unknown ref: exit %d: %s", res.code, res.stderr)
	}
}
