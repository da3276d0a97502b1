// Command fluxgate keeps Flux-delivered workloads safe to drain, patch and
// upgrade: it checks manifests against zero-downtime Rego policies in
// pipelines (fluxgate check) and tests custom policies (fluxgate policy).
package main

import (
	"errors"
	"fmt"
	"io"
	"os"
	// Freeze windows name IANA time zones; the distroless image has no
	// zoneinfo of its own to rely on, and a missing zone fails closed.
	_ "time/tzdata"

	"github.com/spf13/cobra"
)

// version is stamped at build time with -ldflags "-X main.version=...".
var version = "dev"

// Exit codes shared by every subcommand.
const (
	exitOK     = 0
	exitDenied = 1 // policies denied something, or Rego tests failed
	exitUsage  = 2 // bad flags, unreadable input, broken policies or configuration
)

// exitError carries an exit code out of a command. A nil err means the
// command has already said everything it had to.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string {
	if e.err == nil {
		return fmt.Sprintf("exit status %d", e.code)
	}
	return e.err.Error()
}

func (e *exitError) Unwrap() error { return e.err }

func usageError(err error) error { return &exitError{code: exitUsage, err: err} }

func main() {
	os.Exit(run(os.Args[1:], os.Stdin, os.Stdout, os.Stderr))
}

// run executes the command line and returns the process exit code.
func run(args []string, stdin io.Reader, stdout, stderr io.Writer) int {
	root := newRootCommand(stdin, stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return exitOK
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee.err != nil {
			fmt.Fprintln(stderr, "fluxgate:", ee.err)
		}
		return ee.code
	}
	// Cobra's own errors: unknown commands and flags, wrong argument counts.
	fmt.Fprintln(stderr, "fluxgate:", err)
	return exitUsage
}

func newRootCommand(stdin io.Reader, stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "fluxgate",
		Short: "Zero-downtime guard rails for Flux: policies for every apply, checks for every pipeline",
		Long: `fluxgate keeps Flux-delivered workloads safe to drain, patch and upgrade.

Its zero-downtime policies are written in Rego and run the same way in the
admission webhook and in pipelines: rolling updates that never drop a ready
pod, readiness probes, PodDisruptionBudgets that exist and never block a
drain, graceful shutdown and enough replicas to survive one.`,
		SilenceUsage:  true,
		SilenceErrors: true,
		Version:       version,
	}
	root.SetIn(stdin)
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.AddCommand(newCheckCommand(), newAuditCommand(), newDrainPlanCommand(), newMaintenanceCommand(), newPolicyCommand(), newServeCommand(), newVersionCommand())
	return root
}

func newVersionCommand() *cobra.Command {
	return &cobra.Command{
		Use:   "version",
		Short: "Print the fluxgate version",
		Args:  cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			_, err := fmt.Fprintln(cmd.OutOrStdout(), version)
			return err
		},
	}
}
