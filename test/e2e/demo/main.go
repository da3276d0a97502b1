// Command demo is `make demo`: it starts a simulated cluster on this
// machine (real control plane, kwok nodes, Flux's kustomize-controller,
// fluxgate installed from its chart) and narrates scenario 1 at a small
// scale: nodes drained and rebooted one after another while Flux keeps
// delivering from Git, and nobody notices; then one drain that cannot
// complete, held by a budget allowing no disruption, named by the guard
// and resolved (scenario.DrainBlocked). It stops everything it started,
// also on Ctrl-C, and exits 1 if a promise was broken.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/go-logr/logr"
	ctrllog "sigs.k8s.io/controller-runtime/pkg/log"

	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

func main() {
	os.Exit(run())
}

func run() int {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	// The API server's warnings to the demo's own writes (fluxgate's
	// admission warnings) are not part of the story.
	ctrllog.SetLogger(logr.Discard())

	fmt.Println("fluxgate demo: zero-downtime node maintenance under Flux")
	fmt.Println()
	fmt.Println("== starting a local cluster (no Docker, nothing leaves 127.0.0.1)")
	env, err := scenario.Setup(ctx, scenario.Options{Nodes: 4, Log: os.Stdout})
	if ctx.Err() != nil {
		fmt.Println("\ninterrupted: stopped what had started")
		return 130
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	defer func() {
		env.Stop()
		fmt.Println("stopped every process the demo started")
	}()

	opts := scenario.ZeroDowntimeOptions{
		Teams: 2, AppsPerTeam: 3, Debounce: 2 * time.Second, Settle: 5 * time.Second, Reboot: 2 * time.Second,
		Narrate: os.Stdout,
	}
	fmt.Println()
	fmt.Println("== the story: drain, reboot and uncordon every node while a new Git revision arrives")
	res, err := scenario.ZeroDowntime(ctx, env, opts)
	if ctx.Err() != nil {
		fmt.Println("\ninterrupted: stopping")
		return 130
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	fmt.Println()
	fmt.Println("== summary")
	summary(res)
	if problems := res.Problems(opts); len(problems) > 0 {
		fmt.Println()
		for _, p := range problems {
			fmt.Println("BROKEN:", p)
		}
		return 1
	}
	fmt.Println()
	fmt.Println("every promise held: paused in time, nothing applied during maintenance, no PDB floor crossed, new revision rolled out without losing a ready replica")

	fmt.Println()
	fmt.Println("== when a drain cannot complete: a budget allowing no disruption, named by the guard, then fixed")
	blocked, err := scenario.DrainBlocked(ctx, env, scenario.DrainBlockedOptions{Narrate: os.Stdout})
	if ctx.Err() != nil {
		fmt.Println("\ninterrupted: stopping")
		return 130
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		return 1
	}
	if problems := blocked.Problems(); len(problems) > 0 {
		fmt.Println()
		for _, p := range problems {
			fmt.Println("BROKEN:", p)
		}
		return 1
	}
	fmt.Println()
	fmt.Printf("the stuck drain was named while it was stuck (node %s, budget %s, its pods) and cleared once the budget allowed a disruption\n", blocked.Node, blocked.Budget)
	return 0
}

func summary(res *scenario.ZeroDowntimeResult) {
	w := tabwriter.NewWriter(os.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintf(w, "first cordon → every Kustomization paused\t%.1fs\n", res.ToAllPaused.Seconds())
	fmt.Fprintf(w, "applies by Flux during the maintenance\t%d\n", len(res.AppliedDuringMaintenance))
	fmt.Fprintf(w, "last uncordon → every Kustomization resumed\t%.1fs\n", res.ToAllResumed.Seconds())
	fmt.Fprintf(w, "last uncordon → new revision applied\t%.1fs\n", res.ToAllApplied.Seconds())
	fmt.Fprintf(w, "last uncordon → new revision rolled out\t%.1fs\n", res.ToRolledOut.Seconds())
	fmt.Fprintf(w, "moments a rollout had fewer ready than desired\t%d\n", len(res.RolloutDips))
	_ = w.Flush()
	fmt.Println()
	_ = recorder.PrintSummary(os.Stdout, res.Apps, res.Recorder.Origin())
}
