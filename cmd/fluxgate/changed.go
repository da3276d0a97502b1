package main

import (
	"context"
	"errors"
	"fmt"
	"path"
	"path/filepath"
	"strings"

	"github.com/go-git/go-git/v5"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// baseline checks revision rev of the repository being checked the same
// way (same paths, same source root, Flux followed and HelmReleases
// rendered), for --changed-from. With --git, repo and dir are the ones
// given; otherwise the repository is the Git work tree holding srcRoot
// (the source root of the current check), and args are the paths given.
func baseline(ctx context.Context, eng *policy.Engine, hf *helmFlags, rev, repo, dir string, args []string, srcRoot string) (*check.Report, error) {
	var (
		objs []manifest.Object
		tree filesys.FileSystem
		sub  string   // the source root in the revision's tree
		dirs []string // the paths given, relative to sub
	)
	if repo != "" {
		var err error
		objs, tree, err = manifest.LoadGitTree(ctx, repo, rev, dir)
		if err != nil {
			return nil, err
		}
		sub, dirs = ".", []string{cleanSlash(dir)}
	} else {
		top, err := workTreeTop(srcRoot)
		if err != nil {
			return nil, err
		}
		rel, err := filepath.Rel(top, srcRoot)
		if err != nil {
			return nil, fmt.Errorf("source root %s: %w", srcRoot, err)
		}
		sub = cleanSlash(rel)
		for _, a := range args {
			if a == "-" {
				return nil, errors.New("standard input has no earlier revision")
			}
			abs, err := filepath.Abs(a)
			if err != nil {
				return nil, fmt.Errorf("path %s: %w", a, err)
			}
			inRepo, err := filepath.Rel(top, abs)
			if err != nil || strings.HasPrefix(inRepo, "..") {
				return nil, fmt.Errorf("path %s is not in the Git work tree %s", a, top)
			}
			loaded, t, err := manifest.LoadGitTree(ctx, top, rev, inRepo)
			if err != nil {
				if _, _, errRev := manifest.LoadGitTree(ctx, top, rev, ""); errRev == nil {
					continue // the path is new since rev: nothing to compare with
				}
				return nil, err
			}
			objs, tree = append(objs, loaded...), t
			if r, ok := within(cleanSlash(inRepo), sub); ok {
				dirs = append(dirs, r)
			}
		}
		if tree == nil {
			return &check.Report{Results: []check.Result{}}, nil
		}
	}
	res, err := expandRevision(ctx, objs, tree, rev, sub, dirs)
	if err != nil {
		return nil, err
	}
	objs, inputs := res.Objects, res.Findings
	revision := helmFlags{offline: hf.offline, tree: tree}
	rendered, helmInputs, err := revision.renderHelmReleases(ctx, objs, "", nil)
	if err != nil {
		return nil, err
	}
	return check.Run(ctx, eng, append(objs, rendered...), append(inputs, helmInputs...)...)
}

// workTreeTop returns the top of the Git work tree holding dir.
func workTreeTop(dir string) (string, error) {
	r, err := git.PlainOpenWithOptions(dir, &git.PlainOpenOptions{DetectDotGit: true})
	if err != nil {
		return "", fmt.Errorf("%s is not in a Git work tree: %w", dir, err)
	}
	wt, err := r.Worktree()
	if err != nil {
		return "", fmt.Errorf("work tree of %s: %w", dir, err)
	}
	return wt.Filesystem.Root(), nil
}

// cleanSlash cleans p into a slash path relative to a root, "." for the
// root itself.
func cleanSlash(p string) string {
	c := strings.Trim(path.Clean("/"+filepath.ToSlash(p)), "/")
	if c == "" {
		return "."
	}
	return c
}

// within returns p relative to dir when p is dir or below it.
func within(p, dir string) (string, bool) {
	switch {
	case dir == ".":
		return p, true
	case p == dir:
		return ".", true
	case strings.HasPrefix(p, dir+"/"):
		return p[len(dir)+1:], true
	}
	return "", false
}
