package main

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"

	"github.com/spf13/cobra"

	"github.com/fluxgate/fluxgate/check"
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
		output string
		repo   string
		ref    string
		dir    string
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

Exit status: 0 nothing denied, 1 something denied, 2 usage or input error.`,
		Example: `  fluxgate check ./clusters ./apps
  kustomize build apps/production | fluxgate check -
  fluxgate check --git . --ref origin/main --path apps -o sarif > fluxgate.sarif`,
		RunE: func(cmd *cobra.Command, args []string) error {
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
				objs, err = manifest.LoadGit(ctx, repo, ref, dir)
			} else {
				objs, err = manifest.LoadPaths(args, cmd.InOrStdin())
			}
			if err != nil {
				return usageError(err)
			}
			rep, err := check.Run(ctx, eng, objs)
			if err != nil {
				return usageError(err)
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
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	cmd.Flags().StringVar(&repo, "git", "", "Git repository to check: a local path or a URL")
	cmd.Flags().StringVar(&ref, "ref", "", "with --git: the revision to check (branch, tag or commit)")
	cmd.Flags().StringVar(&dir, "path", "", "with --git: the directory in the repository to check (default: the root)")
	return cmd
}
