package main

import (
	"fmt"

	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/drainplan"
)

func newDrainPlanCommand() *cobra.Command {
	var (
		kubeconfig   string
		output       string
		noReschedule bool
	)
	cmd := &cobra.Command{
		Use:   "drain-plan [NODE...] --kubeconfig FILE",
		Short: "Say whether nodes can be drained now, what holds each drain, and in which order to drain them",
		Long: `Judge a drain of each NODE (every node when none is given) against the
cluster as it is now, before a maintenance window.

The drain modelled is kubectl drain --ignore-daemonsets --delete-emptydir-data
without --force: DaemonSet pods stay, mirror pods are skipped, emptyDir data
is deleted (a warning), a running pod without a controller makes kubectl
refuse the drain. Every other pod is judged as the Eviction API judges it:
refused when its PodDisruptionBudget allows no disruption (the budget is
named with its healthy and desired counts and its pods that are not
ready), when more than one budget selects it, or when the budget's status
is behind or invalid.

Then the nodes are drained one at a time in a simulation, in the order
given, a blocked node postponed while another can go, and each step prints
the budgets' disruptions allowed before and after. By default evicted pods
are assumed rescheduled and ready again before the next step; with
--no-reschedule they are assumed gone for the whole maintenance, so each
step uses up budgets for the next. See docs/drain-plan.md.

Exit status: 0 every node can be drained now, 1 some cannot, 2 usage or
cluster error.`,
		Example: `  fluxgate drain-plan --kubeconfig ~/.kube/config
  fluxgate drain-plan node-1 node-2 --kubeconfig prod.yaml -o json`,
		RunE: func(cmd *cobra.Command, args []string) error {
			if output != "text" && output != "json" {
				return usageError(fmt.Errorf("--output %q: want text or json", output))
			}
			cfg, err := restConfig(kubeconfig, apiRate{qps: -1})
			if err != nil {
				return usageError(err)
			}
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				return usageError(fmt.Errorf("scheme: %w", err))
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return usageError(fmt.Errorf("connect to the cluster: %w", err))
			}
			rep, err := drainplan.Plan(cmd.Context(), c, args, drainplan.Options{NoReschedule: noReschedule})
			if err != nil {
				return usageError(err)
			}
			if output == "json" {
				err = drainplan.WriteJSON(cmd.OutOrStdout(), rep)
			} else {
				err = drainplan.WriteText(cmd.OutOrStdout(), rep)
			}
			if err != nil {
				return usageError(err)
			}
			if !rep.Drainable() {
				return &exitError{code: exitDenied}
			}
			return nil
		},
	}
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: text or json")
	cmd.Flags().BoolVar(&noReschedule, "no-reschedule", false, "assume evicted pods do not come back during the maintenance (each step uses up budgets for the next)")
	return cmd
}
