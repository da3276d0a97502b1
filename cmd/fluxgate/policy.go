package main

import (
	"fmt"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/spf13/cobra"

	"github.com/fluxgate/fluxgate/policy"
)

func newPolicyCommand() *cobra.Command {
	cmd := &cobra.Command{
		Use:   "policy",
		Short: "Work with policies: list them, run their Rego unit tests",
	}
	cmd.AddCommand(newPolicyTestCommand(), newPolicyListCommand())
	return cmd
}

func newPolicyTestCommand() *cobra.Command {
	var (
		verbose bool
		timeout time.Duration
	)
	cmd := &cobra.Command{
		Use:   "test DIR...",
		Short: "Run the Rego unit tests of custom policies against the built-in library",
		Long: `Run every test_ rule in the .rego files of DIR, with the built-in
policies and libraries (fluxgate.lib.*) loaded beside them, as policy
authors need. The policies of DIR must also compile into a valid policy set.

Exit status: 0 all tests pass, 1 a test failed, 2 a module does not compile.`,
		Args: cobra.MinimumNArgs(1),
		RunE: func(cmd *cobra.Command, dirs []string) error {
			ctx := cmd.Context()
			builtin, err := policy.BuiltinModules()
			if err != nil {
				return usageError(err)
			}
			mods := policy.WithoutTests(builtin)
			for _, d := range dirs {
				more, err := policy.ReadDir(d)
				if err != nil {
					return usageError(err)
				}
				mods = append(mods, more...)
			}
			if _, err := policy.Compile(ctx, mods); err != nil {
				return usageError(err)
			}
			results, err := policy.RunTests(ctx, mods, timeout)
			if err != nil {
				return usageError(err)
			}
			out := cmd.OutOrStdout()
			failed := 0
			for _, r := range results {
				if !r.Pass {
					failed++
				}
				if verbose || !r.Pass {
					fmt.Fprintln(out, r)
					if !r.Pass && r.Output != "" {
						fmt.Fprintln(out, indent(r.Output))
					}
				}
			}
			fmt.Fprintf(out, "%d passed, %d failed\n", len(results)-failed, failed)
			if len(results) == 0 {
				return usageError(fmt.Errorf("no test_ rules found in %s", strings.Join(dirs, ", ")))
			}
			if failed > 0 {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().BoolVarP(&verbose, "verbose", "v", false, "list every test, not only the failing ones")
	cmd.Flags().DurationVar(&timeout, "timeout", 10*time.Second, "time limit for each test")
	return cmd
}

func newPolicyListCommand() *cobra.Command {
	var pf policyFlags
	cmd := &cobra.Command{
		Use:   "list",
		Short: "List the policies with their effective action and kinds",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			eng, err := pf.engine(cmd.Context())
			if err != nil {
				return usageError(err)
			}
			tw := tabwriter.NewWriter(cmd.OutOrStdout(), 0, 4, 2, ' ', 0)
			fmt.Fprintln(tw, "ID\tACTION\tKINDS\tTITLE")
			for _, p := range eng.Set().Policies() {
				fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", p.ID, eng.Action(p.ID), strings.Join(p.Kinds, ","), p.Title)
			}
			return tw.Flush()
		},
	}
	pf.register(cmd)
	return cmd
}

func indent(s string) string {
	return "    " + strings.ReplaceAll(strings.TrimRight(s, "\n"), "\n", "\n    ")
}
