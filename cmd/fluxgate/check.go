package main

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strings"

	"github.com/spf13/cobra"
	"sigs.k8s.io/kustomize/kyaml/filesys"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/fluxbuild"
	"github.com/fluxgate/fluxgate/internal/batchgc"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
	"github.com/fluxgate/fluxgate/report"
)

// policyFlags are the flags every command that evaluates policies shares.
type policyFlags struct {
	configFile string
	policyDirs []string
}

func (f *policyFlags) register(cmd *cobra.Command) {
	cmd.Flags().StringVar(&f.configFile, "config", "", "fluxgate configuration file (actions, parameters, exempt namespaces)")
	cmd.Flags().StringArrayVar(&f.policyDirs, "policy-dir", nil, "directory of custom Rego policies to add to the built-in ones (repeatable)")
}

// engine loads the configuration and the policies and builds an Engine.
func (f *policyFlags) engine(ctx context.Context) (*policy.Engine, error) {
	cfg, err := policy.LoadConfig(f.configFile)
	if err != nil {
		return nil, err
	}
	mods, err := policy.Load(f.policyDirs...)
	if err != nil {
		return nil, err
	}
	set, err := policy.Compile(ctx, mods)
	if err != nil {
		return nil, err
	}
	eng, err := policy.NewEngine(set, cfg)
	if err != nil {
		if f.configFile != "" {
			return nil, fmt.Errorf("configuration %s: %w", f.configFile, err)
		}
		return nil, err
	}
	return eng, nil
}

func newCheckCommand() *cobra.Command {
	var (
		pf     policyFlags
		hf     helmFlags
		output string
		repo   string
		ref    string
		dir    string
		root   string
		since  string
	)
	cmd := &cobra.Command{
		Use:   "check [flags] PATH...",
		Short: "Check manifests, kustomize overlays or a Git revision against the policies",
		Long: `Check Kubernetes manifests against fluxgate's policies, as a pipeline gate.

PATH may be a file (.yaml, .yml, .json), a directory (walked recursively;
a directory with a kustomization.yaml is built the way Flux builds it, and
bases referenced by an overlay are not checked on their own), or - for
standard input. With --git, a revision of a Git repository is checked
without a work tree.

Every object is mutated as the admission webhook would mutate it and then
validated, with the PodDisruptionBudgets, HPAs and workloads of its
namespace in the same build as related objects. Objects of kinds no policy
applies to are skipped.

Flux Kustomizations (kustomize.toolkit.fluxcd.io) among the objects are
built as kustomize-controller builds them, one cluster at a time: each
clusters/<name> holding a flux-system sync, or a directory given that
holds Kustomizations, is one cluster. See docs/check.md.

Flux HelmReleases (helm.toolkit.fluxcd.io/v2) are rendered as
helm-controller renders them, and their objects checked: charts from the
repository (GitRepository), from Helm repositories (HelmRepository, HTTP or
OCI) or OCIRepositories, cached; with --offline only the repository and the
cache are read. A HelmRelease that cannot be rendered is denied, with why.

Exit status: 0 nothing denied, 1 something denied, 2 usage or input error.`,
		Example: `  fluxgate check ./clusters ./apps
  kustomize build apps/production | fluxgate check -
  fluxgate check --git . --ref origin/main --path apps -o sarif > fluxgate.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
			defer batchgc.Tune()()
			if !slices.Contains(report.Formats, output) {
				return usageError(fmt.Errorf("--output %q: want one of %s", output, strings.Join(report.Formats, ", ")))
			}
			switch {
			case repo == "" && len(args) == 0:
				return usageError(errors.New("nothing to check: give one or more PATHs, - for standard input, or --git REPO --ref REV"))
			case repo != "" && len(args) > 0:
				return usageError(errors.New("--git checks a repository revision; select a directory in it with --path instead of PATH arguments"))
			case repo == "" && (ref != "" || dir != ""):
				return usageError(errors.New("--ref and --path need --git"))
			case repo != "" && ref == "":
				return usageError(errors.New("--git needs --ref (a branch, tag or commit)"))
			}
			ctx := cmd.Context()
			eng, err := pf.engine(ctx)
			if err != nil {
				return usageError(err)
			}
			var objs []manifest.Object
			if repo != "" {
				objs, err = hf.loadGit(ctx, repo, ref, dir)
			} else {
				objs, err = manifest.LoadPaths(args, cmd.InOrStdin())
			}
			if err != nil {
				return usageError(err)
			}
			// Follow Flux: what each cluster's Kustomizations apply.
			var inputs []check.InputFinding
			var srcRoot string
			if repo != "" {
				objs, inputs, err = followFluxGit(ctx, objs, hf.tree, ref, dir)
			} else {
				objs, inputs, srcRoot, err = followFlux(ctx, objs, args, root)
			}
			if err != nil {
				return usageError(err)
			}
			// Render HelmReleases: what helm-controller would apply, with
			// charts under the source root the Flux step settled on.
			rendered, helmInputs, err := hf.renderHelmReleases(ctx, objs, srcRoot, args)
			if err != nil {
				return usageError(err)
			}
			objs, inputs = append(objs, rendered...), append(inputs, helmInputs...)
			rep, err := check.Run(ctx, eng, objs, inputs...)
			if err != nil {
				return usageError(err)
			}
			if since != "" {
				// Gate a change: only findings that are new since that revision.
				base, err := baseline(ctx, eng, &hf, since, repo, dir, args, srcRoot)
				if err != nil {
					return usageError(fmt.Errorf("--changed-from %s: %w", since, err))
				}
				rep = rep.Since(base)
			}
			if err := report.Write(cmd.OutOrStdout(), output, rep); err != nil {
				return usageError(err)
			}
			if rep.Denied() {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	pf.register(cmd)
	hf.register(cmd)
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&repo, "git", "", "Git repository to check: a local path or a URL")
	cmd.Flags().StringVar(&ref, "ref", "", "with --git: the revision to check (branch, tag or commit)")
	cmd.Flags().StringVar(&root, "root", "", "source root that Flux Kustomizations' spec.path is relative to (default: the directory a flux-system sync points back at, else the top of the Git work tree holding the first PATH)")
	cmd.Flags().StringVar(&since, "changed-from", "", "report only findings that are new since this revision of the same repository (same clusters, same rendering); the exit status follows them")
	cmd.Flags().StringVar(&dir, "path", "", "with --git: the directory in the repository to check (default: the root)")
	return cmd
}

// followFlux replaces the objects Flux Kustomizations reach by what they
// build, per cluster. The source root is --root, else the directory a
// cluster's flux-system sync points back at (its spec.path leads to the
// sync's own directory), else guessed by guessRoot.
func followFlux(ctx context.Context, objs []manifest.Object, args []string, root string) (_ []manifest.Object, _ []check.InputFinding, srcRoot string, err error) {
	guessed := false
	if root == "" {
		root = syncRoot(objs)
	}
	if root == "" {
		guessed = true
		root = guessRoot(args)
	}
	absRoot, err := filepath.Abs(root)
	if err != nil {
		return nil, nil, "", fmt.Errorf("--root %s: %w", root, err)
	}
	cwd, err := os.Getwd()
	if err != nil {
		return nil, nil, "", fmt.Errorf("working directory: %w", err)
	}
	var dirs []string
	for _, a := range args {
		if a == "-" {
			continue
		}
		abs, err := filepath.Abs(a)
		if err != nil {
			continue
		}
		if rel, err := filepath.Rel(absRoot, abs); err == nil && !strings.HasPrefix(rel, "..") {
			dirs = append(dirs, filepath.ToSlash(rel))
		}
	}
	display := func(rel string) string {
		if d, err := filepath.Rel(cwd, filepath.Join(absRoot, filepath.FromSlash(rel))); err == nil {
			return d
		}
		return rel
	}
	res, err := fluxbuild.Expand(ctx, objs, fluxbuild.Options{Root: absRoot, Dirs: dirs, Display: display, Guessed: guessed})
	if err != nil {
		return nil, nil, "", err
	}
	return res.Objects, res.Findings, absRoot, nil
}

// guessRoot returns the top of the Git work tree holding the first path
// given, else that path if it is a directory, else its directory, so that
// no more than what was pointed at is copied for Flux's generator.
func guessRoot(args []string) string {
	for _, a := range args {
		if a == "-" {
			continue
		}
		if top, err := workTreeTop(a); err == nil {
			return top
		}
		if fi, err := os.Stat(a); err == nil && fi.IsDir() {
			return a
		}
		return filepath.Dir(a)
	}
	return "."
}

// syncRoot returns the directory that a flux-system Kustomization's
// spec.path, taken from it, leads back to the sync's own file, or "".
func syncRoot(objs []manifest.Object) string {
	for _, o := range objs {
		if o.Kind() != "Kustomization" || o.Name() != "flux-system" || !strings.HasPrefix(o.APIVersion(), "kustomize.toolkit.fluxcd.io/") {
			continue
		}
		spec, _ := o.Data["spec"].(map[string]any)
		p, _ := spec["path"].(string)
		p = filepath.Clean(strings.TrimPrefix(p, "./"))
		abs, err := filepath.Abs(o.File)
		if err != nil || p == "." || strings.HasPrefix(p, "..") {
			continue
		}
		for dir := abs; dir != filepath.Dir(dir); dir = filepath.Dir(dir) {
			if strings.HasSuffix(dir, string(filepath.Separator)+p) {
				return strings.TrimSuffix(dir, string(filepath.Separator)+p)
			}
		}
	}
	return ""
}

// followFluxGit is followFlux for a --git revision, whose files tree holds
// with the repository root at "/": paths read "git:<ref>:<path>".
func followFluxGit(ctx context.Context, objs []manifest.Object, tree filesys.FileSystem, ref, dir string) ([]manifest.Object, []check.InputFinding, error) {
	if tree == nil {
		return objs, nil, nil
	}
	if ref == "" {
		ref = "HEAD"
	}
	res, err := expandRevision(ctx, objs, tree, ref, ".", []string{cleanSlash(dir)})
	if err != nil {
		return nil, nil, err
	}
	return res.Objects, res.Findings, nil
}

// expandRevision follows Flux in revision rev, whose files tree holds with
// the repository root at "/" and whose objects' paths read
// "git:<rev>:<path>": the source root is sub, a slash path in the tree, and
// dirs the paths given, relative to sub.
func expandRevision(ctx context.Context, objs []manifest.Object, tree filesys.FileSystem, rev, sub string, dirs []string) (*fluxbuild.Result, error) {
	prefix := "git:" + rev + ":"
	return fluxbuild.Expand(ctx, objs, fluxbuild.Options{
		Root: path.Join("/", sub),
		FS:   tree,
		Dirs: dirs,
		Rel: func(file string) (string, bool) {
			rel, ok := strings.CutPrefix(file, prefix)
			if !ok {
				return "", false
			}
			return within(cleanSlash(rel), sub)
		},
		Display: func(rel string) string { return prefix + path.Join(sub, rel) },
	})
}
