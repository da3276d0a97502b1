package manifest

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/go-git/go-git/v5"
	"github.com/go-git/go-git/v5/plumbing"
	"github.com/go-git/go-git/v5/plumbing/filemode"
	"github.com/go-git/go-git/v5/plumbing/object"
	"github.com/go-git/go-git/v5/storage/memory"
	"sigs.k8s.io/kustomize/kyaml/filesys"
)

// LoadGit reads the objects of one revision of a Git repository, without
// checking anything out.
//
// repo is either a local path — the repository containing it, or a bare
// repository or mirror (git clone --bare, --mirror) at that path, is opened
// and only its object database is read; the work tree and index are never
// touched — or a URL ("https://…", "ssh://…", "file://…", "git@host:path"),
// which is cloned into memory with all branches and tags. ref is anything
// [git.Repository.ResolveRevision] accepts (branch, tag, full or abbreviated
// commit hash, "HEAD~2"…), also tried as "refs/remotes/origin/<ref>" so that
// remote-tracking branches of a clone resolve by their short name; an empty
// ref means HEAD. dir selects a directory (or a file) of the revision to
// read, relative to the repository root; empty means the whole tree.
//
// The whole tree of the revision is copied into an in-memory file system,
// so kustomizations under dir may refer to bases elsewhere in the
// repository; symbolic links and submodules are left out. The copy is then
// read with [LoadFS]; File values have the form "git:<ref>:<path>", path
// being relative to the repository root.
func LoadGit(ctx context.Context, repo, ref, dir string) ([]Object, error) {
	objs, _, err := LoadGitTree(ctx, repo, ref, dir)
	return objs, err
}

// LoadGitTree is [LoadGit] that also returns the in-memory copy of the
// revision's whole tree, the repository root being "/", for readers of
// other files of the revision (such as Helm charts).
func LoadGitTree(ctx context.Context, repo, ref, dir string) ([]Object, filesys.FileSystem, error) {
	if ref == "" {
		ref = "HEAD"
	}
	r, err := openRepository(ctx, repo)
	if err != nil {
		return nil, nil, err
	}
	hash, err := resolveRevision(r, ref)
	if err != nil {
		return nil, nil, fmt.Errorf("resolve revision %q in %s: %w", ref, repo, err)
	}
	commit, err := r.CommitObject(*hash)
	if err != nil {
		return nil, nil, fmt.Errorf("read commit %s in %s: %w", hash, repo, err)
	}
	tree, err := commit.Tree()
	if err != nil {
		return nil, nil, fmt.Errorf("read tree of commit %s in %s: %w", hash, repo, err)
	}

	sub := path.Clean("/" + strings.ReplaceAll(dir, "\\", "/"))[1:]
	if sub != "" {
		if _, err := tree.FindEntry(sub); err != nil {
			return nil, nil, fmt.Errorf("directory %q not found at revision %q in %s", dir, ref, repo)
		}
	}

	fsys := filesys.MakeFsInMemory()
	if err := copyTree(ctx, tree, fsys); err != nil {
		return nil, nil, fmt.Errorf("read revision %q of %s: %w", ref, repo, err)
	}
	objs, err := LoadFS(fsys, "/"+sub, "git:"+ref+":"+sub)
	if err != nil {
		return nil, nil, err
	}
	return objs, fsys, nil
}

// scpLikeRe matches scp-like Git URLs such as "git@github.com:org/repo.git".
var scpLikeRe = regexp.MustCompile(`^[A-Za-z0-9._~-]+@[A-Za-z0-9.-]+:`)

// isRemote reports whether repo is a URL rather than a local path.
func isRemote(repo string) bool {
	return strings.Contains(repo, "://") || scpLikeRe.MatchString(repo)
}

// openRepository opens a local repository or clones a remote one into
// memory, without a work tree.
func openRepository(ctx context.Context, repo string) (*git.Repository, error) {
	if isRemote(repo) {
		r, err := git.CloneContext(ctx, memory.NewStorage(), nil, &git.CloneOptions{
			URL:        repo,
			NoCheckout: true,
			Tags:       git.AllTags,
		})
		if err != nil {
			return nil, fmt.Errorf("clone %s: %w", repo, err)
		}
		return r, nil
	}
	// A bare repository or a mirror (git clone --bare/--mirror, as CI
	// systems keep them) is its own Git directory and has no ".git" to
	// detect: open it as it is.
	bare := isGitDir(repo)
	r, err := git.PlainOpenWithOptions(repo, &git.PlainOpenOptions{
		DetectDotGit:          !bare,
		EnableDotGitCommonDir: true,
	})
	if err != nil {
		return nil, fmt.Errorf("open git repository %s: %w", repo, err)
	}
	return r, nil
}

// isGitDir reports whether dir is itself a Git directory — a bare
// repository, a mirror, or the ".git" directory of a work tree — by the
// entries every one of them holds: a HEAD file and objects and refs
// directories.
func isGitDir(dir string) bool {
	head, err := os.Stat(filepath.Join(dir, "HEAD"))
	if err != nil || head.IsDir() {
		return false
	}
	for _, sub := range []string{"objects", "refs"} {
		if fi, err := os.Stat(filepath.Join(dir, sub)); err != nil || !fi.IsDir() {
			return false
		}
	}
	return true
}

// resolveRevision resolves ref to a commit, trying it also as a branch of
// the remote "origin".
func resolveRevision(r *git.Repository, ref string) (*plumbing.Hash, error) {
	hash, err := r.ResolveRevision(plumbing.Revision(ref))
	if err == nil {
		return hash, nil
	}
	if h, err2 := r.ResolveRevision(plumbing.Revision("refs/remotes/origin/" + ref)); err2 == nil {
		return h, nil
	}
	return nil, err
}

// copyTree writes the regular files of tree into fsys, under "/".
func copyTree(ctx context.Context, tree *object.Tree, fsys filesys.FileSystem) error {
	files := tree.Files()
	defer files.Close()
	for {
		if err := ctx.Err(); err != nil {
			return err
		}
		f, err := files.Next()
		if errors.Is(err, io.EOF) {
			return nil
		}
		if err != nil {
			return err
		}
		if f.Mode != filemode.Regular && f.Mode != filemode.Executable && f.Mode != filemode.Deprecated {
			continue
		}
		data, err := readBlob(f)
		if err != nil {
			return fmt.Errorf("read %s: %w", f.Name, err)
		}
		if err := fsys.WriteFile("/"+f.Name, data); err != nil {
			return fmt.Errorf("copy %s: %w", f.Name, err)
		}
	}
}

func readBlob(f *object.File) ([]byte, error) {
	rc, err := f.Reader()
	if err != nil {
		return nil, err
	}
	defer rc.Close()
	return io.ReadAll(rc)
}
