package main

import (
	"context"
	"slices"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/helmrelease"
	"github.com/fluxgate/fluxgate/manifest"
)

// helmFlags are the flags of `fluxgate check` that rendering HelmReleases
// reads.
type helmFlags struct {
	offline bool
	tree    filesys.FileSystem // the --git revision's files, once loaded
}

// loadGit reads a --git revision like [manifest.LoadGit] and keeps its
// files, for the charts of its HelmReleases.
func (f *helmFlags) loadGit(ctx context.Context, repo, ref, dir string) ([]manifest.Object, error) {
	objs, tree, err := manifest.LoadGitTree(ctx, repo, ref, dir)
	f.tree = tree
	return objs, err
}

func (f *helmFlags) register(cmd *cobra.Command) {
	cmd.Flags().BoolVar(&f.offline, "offline", false, "render HelmReleases without fetching charts: only charts in the repository or already in the cache; a chart not available is reported as a denial")
}

// renderHelmReleases renders the HelmReleases among objs (step "Render
// HelmReleases" of check) and returns the objects to add and the releases
// that could not be rendered. Charts of GitRepository sources are read
// from the --git revision loaded by loadGit, or else from the disk under
// root: --root, else the directory a cluster's flux-system sync points back
// at, else as the Flux step guesses it ([guessRoot]: the top of the Git
// work tree holding the first PATH, or the current directory for standard
// input alone, else that PATH or its directory).
func (f *helmFlags) renderHelmReleases(ctx context.Context, objs []manifest.Object, root string, args []string) ([]manifest.Object, []check.InputFinding, error) {
	opts := helmrelease.Options{Offline: f.offline, FS: f.tree}
	switch {
	case f.tree != nil:
		root = "/"
	case root == "":
		if root = syncRoot(objs); root == "" {
			root = guessRoot(append(slices.Clip(args), "."))
		}
	}
	return helmrelease.RenderAll(ctx, objs, root, opts)
}
