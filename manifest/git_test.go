package manifest

import (
	"context"
	"errors"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/object"
)

// gitFixture is a repository with two commits on master: the first holds
// testdata/fluxrepo and is tagged v1 (lightweight), release-1 (annotated)
// and branched as "feature"; the second adds clusters/production/infra.yaml.
// The work tree is then left dirty.
type gitFixture struct {
	dir            string
	first, second  plumbing.Hash
	dirtyFile      string
	dirtyContent   string
	untrackedFile  string
	untrackedValue string
}

const infraKustomization = `apiVersion: kustomize.toolkit.fluxcd.io/v1
kind: Kustomization
metadata:
  name: infra
  namespace: flux-system
spec:
  interval: 1h
  path: ./infrastructure
  prune: true
  sourceRef:
    kind: GitRepository
    name: flux-system
`

func newGitFixture(t *testing.T) *gitFixture {
	t.Helper()
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	wt, err := r.Worktree()
	if err != nil {
		t.Fatal(err)
	}
	sig := &object.Signature{Name: "Fluxgate Test", Email: "test@example.com", When: time.Date(2025, 1, 2, 3, 4, 5, 0, time.UTC)}
	commit := func(msg string) plumbing.Hash {
		t.Helper()
		if err := wt.AddWithOptions(&git.AddOptions{All: true}); err != nil {
			t.Fatal(err)
		}
		h, err := wt.Commit(msg, &git.CommitOptions{Author: sig})
		if err != nil {
			t.Fatal(err)
		}
		return h
	}

	err = filepath.WalkDir(repo, func(p string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		rel, _ := filepath.Rel(repo, p)
		data, err := os.ReadFile(p)
		if err != nil {
			return err
		}
		dst := filepath.Join(dir, rel)
		if err := os.MkdirAll(filepath.Dir(dst), 0o755); err != nil {
			return err
		}
		return os.WriteFile(dst, data, 0o644)
	})
	if err != nil {
		t.Fatal(err)
	}
	f := &gitFixture{dir: dir}
	f.first = commit("Add podinfo")
	if _, err := r.CreateTag("v1", f.first, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := r.CreateTag("release-1", f.first, &git.CreateTagOptions{Tagger: sig, Message: "First release"}); err != nil {
		t.Fatal(err)
	}
	if err := r.Storer.SetReference(plumbing.NewHashReference("refs/heads/feature", f.first)); err != nil {
		t.Fatal(err)
	}

	infra := filepath.Join(dir, "clusters", "production", "infra.yaml")
	if err := os.WriteFile(infra, []byte(infraKustomization), 0o644); err != nil {
		t.Fatal(err)
	}
	f.second = commit("Add infrastructure")

	// Leave the work tree dirty: LoadGit must neither read nor touch it.
	f.dirtyFile = filepath.Join(dir, "apps", "production", "pdb.yaml")
	f.dirtyContent = "this: is [not valid\n"
	f.untrackedFile = filepath.Join(dir, "untracked.yaml")
	f.untrackedValue = cm("untracked")
	if err := os.WriteFile(f.dirtyFile, []byte(f.dirtyContent), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(f.untrackedFile, []byte(f.untrackedValue), 0o644); err != nil {
		t.Fatal(err)
	}
	return f
}

// checkUntouched verifies the work tree and HEAD are as newGitFixture left them.
func (f *gitFixture) checkUntouched(t *testing.T) {
	t.Helper()
	for p, want := range map[string]string{f.dirtyFile: f.dirtyContent, f.untrackedFile: f.untrackedValue} {
		got, err := os.ReadFile(p)
		if err != nil || string(got) != want {
			t.Errorf("work tree file %s changed: %q, %v", p, got, err)
		}
	}
	r, err := git.PlainOpen(f.dir)
	if err != nil {
		t.Fatal(err)
	}
	head, err := r.Head()
	if err != nil || head.Hash() != f.second || head.Name() != plumbing.Master {
		t.Errorf("HEAD moved: %v, %v", head, err)
	}
}

// revisionWalk is what reading the whole tree of the fixture yields.
func revisionWalk(ref string, second bool) []summary {
	want := fluxRepoWalk("git:"+ref+":", "")
	if second {
		want = append(want, summary{File: "git:" + ref + ":clusters/production/infra.yaml", Line: 1, Kind: "Kustomization", NS: "flux-system", Name: "infra"})
	}
	return want
}

func TestLoadGit(t *testing.T) {
	f := newGitFixture(t)
	prod := func(ref string) []summary { return fluxRepoWalk("git:"+ref+":", "")[:4] }
	tests := []struct {
		name     string
		repo     string // default f.dir
		ref, dir string
		want     []summary
	}{
		{name: "lightweight tag", ref: "v1", want: revisionWalk("v1", false)},
		{name: "annotated tag", ref: "release-1", want: revisionWalk("release-1", false)},
		{name: "branch", ref: "master", want: revisionWalk("master", true)},
		{name: "other branch", ref: "feature", want: revisionWalk("feature", false)},
		{name: "empty ref means HEAD", ref: "", want: revisionWalk("HEAD", true)},
		{name: "full SHA", ref: f.first.String(), want: revisionWalk(f.first.String(), false)},
		{name: "short SHA", ref: f.second.String()[:7], want: revisionWalk(f.second.String()[:7], true)},
		{name: "relative revision", ref: "master~1", want: revisionWalk("master~1", false)},
		{name: "overlay directory", ref: "v1", dir: "apps/production", want: prod("v1")},
		{name: "directory spelled loosely", ref: "v1", dir: "/apps/production/", want: prod("v1")},
		{
			name: "base directory is built when named", ref: "master", dir: "apps/base/podinfo",
			want: []summary{
				{Set: "git:master:apps/base/podinfo", File: "git:master:apps/base/podinfo", Kind: "Deployment", Name: "podinfo"},
				{Set: "git:master:apps/base/podinfo", File: "git:master:apps/base/podinfo", Kind: "Service", Name: "podinfo"},
				{Set: "git:master:apps/base/podinfo", File: "git:master:apps/base/podinfo", Kind: "HorizontalPodAutoscaler", Name: "podinfo"},
			},
		},
		{
			name: "plain directory", ref: "master", dir: "clusters",
			want: revisionWalk("master", true)[7:],
		},
		{
			name: "single file", ref: "master", dir: "clusters/production/apps.yaml",
			want: []summary{{File: "git:master:clusters/production/apps.yaml", Line: 1, Kind: "Kustomization", NS: "flux-system", Name: "apps"}},
		},
		{
			name: "repository opened from a subdirectory", repo: filepath.Join(f.dir, "apps", "base"),
			ref: "v1", dir: "apps/production", want: prod("v1"),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			repoPath := tt.repo
			if repoPath == "" {
				repoPath = f.dir
			}
			got, err := LoadGit(context.Background(), repoPath, tt.ref, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, got, tt.want)
		})
	}
	f.checkUntouched(t)
}

// TestLoadGitBare reads revisions of repositories as CI systems keep them:
// bare clones and mirrors, without a work tree, and a ".git" directory
// named directly.
func TestLoadGitBare(t *testing.T) {
	f := newGitFixture(t)
	clone := func(t *testing.T, o *git.CloneOptions) string {
		t.Helper()
		dir := filepath.Join(t.TempDir(), "repo.git")
		o.URL = f.dir
		if _, err := git.PlainClone(dir, true, o); err != nil {
			t.Fatal(err)
		}
		return dir
	}
	tests := []struct {
		name string
		repo func(t *testing.T) string
		ref  string
		want []summary
	}{
		{name: "bare clone, branch", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{}) }, ref: "master", want: revisionWalk("master", true)},
		{name: "bare clone, HEAD", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{}) }, ref: "", want: revisionWalk("HEAD", true)},
		{name: "bare clone, tag", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{Tags: git.AllTags}) }, ref: "v1", want: revisionWalk("v1", false)},
		{name: "mirror, other branch", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{Mirror: true}) }, ref: "feature", want: revisionWalk("feature", false)},
		{name: "mirror, annotated tag", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{Mirror: true}) }, ref: "release-1", want: revisionWalk("release-1", false)},
		{name: "mirror, commit", repo: func(t *testing.T) string { return clone(t, &git.CloneOptions{Mirror: true}) }, ref: f.first.String()[:7], want: revisionWalk(f.first.String()[:7], false)},
		{name: "a work tree's .git directory", repo: func(*testing.T) string { return filepath.Join(f.dir, ".git") }, ref: "master", want: revisionWalk("master", true)},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := LoadGit(context.Background(), tt.repo(t), tt.ref, "")
			if err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, got, tt.want)
		})
	}
	f.checkUntouched(t)
}

func TestLoadGitErrors(t *testing.T) {
	f := newGitFixture(t)
	notRepo := t.TempDir()
	cancelled, cancel := context.WithCancel(context.Background())
	cancel()
	tests := []struct {
		name      string
		ctx       context.Context
		repo      string
		ref, dir  string
		wantErr   string
		wantIs    error
		wantParse bool
	}{
		{
			name: "unknown ref", repo: f.dir, ref: "nope",
			wantErr: `resolve revision "nope" in ` + f.dir + ": reference not found",
			wantIs:  plumbing.ErrReferenceNotFound,
		},
		{
			name: "missing directory", repo: f.dir, ref: "v1", dir: "clusters/staging",
			wantErr: `directory "clusters/staging" not found at revision "v1" in ` + f.dir,
		},
		{
			name: "directory added later", repo: f.dir, ref: "v1", dir: "clusters/production/infra.yaml",
			wantErr: `directory "clusters/production/infra.yaml" not found at revision "v1" in ` + f.dir,
		},
		{
			name: "not a repository", repo: notRepo, ref: "main",
			wantErr: "open git repository " + notRepo + ": repository does not exist",
			wantIs:  git.ErrRepositoryNotExists,
		},
		{
			name: "cancelled", ctx: cancelled, repo: f.dir, ref: "master",
			wantErr: "context canceled",
			wantIs:  context.Canceled,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := tt.ctx
			if ctx == nil {
				ctx = context.Background()
			}
			_, err := LoadGit(ctx, tt.repo, tt.ref, tt.dir)
			if err == nil || !strings.HasSuffix(err.Error(), tt.wantErr) {
				t.Fatalf("error = %v, want %q", err, tt.wantErr)
			}
			if tt.wantIs != nil && !errors.Is(err, tt.wantIs) {
				t.Errorf("error does not wrap %v", tt.wantIs)
			}
		})
	}
	f.checkUntouched(t)
}

func TestLoadGitParseErrorNamesRevision(t *testing.T) {
	dir := t.TempDir()
	r, err := git.PlainInit(dir, false)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "deploy"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "deploy", "app.yaml"), []byte(cm("ok")+"---\nkind: [\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	wt, _ := r.Worktree()
	if _, err := wt.Add("deploy/app.yaml"); err != nil {
		t.Fatal(err)
	}
	if _, err := wt.Commit("broken", &git.CommitOptions{Author: &object.Signature{Name: "t", Email: "t@example.com", When: time.Now()}}); err != nil {
		t.Fatal(err)
	}
	_, err = LoadGit(context.Background(), dir, "HEAD", "")
	var pe *ParseError
	if !errors.As(err, &pe) || pe.File != "git:HEAD:deploy/app.yaml" || pe.Line != 7 {
		t.Fatalf("error = %v, want a *ParseError at git:HEAD:deploy/app.yaml:7", err)
	}
}

func TestLoadGitURL(t *testing.T) {
	if _, err := exec.LookPath("git"); err != nil {
		t.Skip("go-git's file:// transport runs git-upload-pack, and no git binary is installed")
	}
	f := newGitFixture(t)
	url := "file://" + filepath.ToSlash(f.dir)
	tests := []struct {
		ref, dir string
		want     []summary
	}{
		{ref: "v1", want: revisionWalk("v1", false)},
		{ref: "release-1", dir: "apps/production", want: fluxRepoWalk("git:release-1:", "")[:4]},
		{ref: "master", want: revisionWalk("master", true)},
		// Only refs/remotes/origin/feature exists in the clone.
		{ref: "feature", want: revisionWalk("feature", false)},
		{ref: f.first.String()[:10], want: revisionWalk(f.first.String()[:10], false)},
	}
	for _, tt := range tests {
		t.Run(tt.ref, func(t *testing.T) {
			got, err := LoadGit(context.Background(), url, tt.ref, tt.dir)
			if err != nil {
				t.Fatal(err)
			}
			checkSummaries(t, got, tt.want)
		})
	}
	_, err := LoadGit(context.Background(), url, "nope", "")
	if want := `resolve revision "nope" in ` + url + ": reference not found"; err == nil || err.Error() != want {
		t.Errorf("error = %v, want %q", err, want)
	}
	f.checkUntouched(t)
}

func TestIsRemote(t *testing.T) {
	for repo, want := range map[string]bool{
		"https://github.com/example-org/fleet-infra": true,
		"ssh://git@github.com/example-org/fleet":     true,
		"file:///srv/git/fleet.git":                  true,
		"git@github.com:example-org/fleet-infra.git": true,
		".":                  false,
		"../fleet-infra":     false,
		"/srv/git/fleet.git": false,
		"C:/work/fleet":      false,
	} {
		if got := isRemote(repo); got != want {
			t.Errorf("isRemote(%q) = %v, want %v", repo, got, want)
		}
	}
}
