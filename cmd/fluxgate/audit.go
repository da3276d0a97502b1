package main

import (
	"fmt"
	"slices"
	"strings"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"github.com/spf13/cobra"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/audit"
	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/internal/batchgc"
	"github.com/fluxgate/fluxgate/report"
)

func newAuditCommand() *cobra.Command {
	var (
		pf         policyFlags
		kubeconfig string
		namespace  string
		output     string
	)
	cmd := &cobra.Command{
		Use:   "audit --kubeconfig FILE [-n NAMESPACE]",
		Short: "Check what already runs in a cluster against the policies",
		Long: `Audit the Deployments, StatefulSets, DaemonSets and PodDisruptionBudgets
running in a cluster, as if each were applied now, with the budgets,
autoscalers, workloads and Services of its namespace as related objects:
the same evaluation as 'fluxgate check', and the same output formats.
Nothing is installed and nothing is written; read access to those kinds is
enough. 'fluxgate serve' runs the same audit continuously and publishes it
as OpenReports Reports (docs/audit.md).

Fields the API server adds (status, managedFields, resourceVersion, uid,
the last-applied annotation) are left out, so an audit of a cluster finds
what a check of the manifests applied to it finds. Namespaces fluxgate
never evaluates (kube-system, Flux's own, exemptNamespaces) are skipped.

Exit status: 0 nothing denied, 1 something denied, 2 usage or access error.`,
		Example: `  fluxgate audit --kubeconfig ~/.kube/config
  fluxgate audit --kubeconfig prod.yaml -n shop -o sarif > audit.sarif`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			defer batchgc.Tune()()
			if !slices.Contains(report.Formats, output) {
				return usageError(fmt.Errorf("--output %q: want one of %s", output, strings.Join(report.Formats, ", ")))
			}
			ctx := cmd.Context()
			eng, err := pf.engine(ctx)
			if err != nil {
				return usageError(err)
			}
			// Six lists: no client-side rate limit needed.
			cfg, err := restConfig(kubeconfig, apiRate{qps: -1})
			if err != nil {
				return usageError(err)
			}
			scheme := runtime.NewScheme()
			if err := clientgoscheme.AddToScheme(scheme); err != nil {
				return usageError(err)
			}
			if err := reportsv1alpha1.Install(scheme); err != nil {
				return usageError(err)
			}
			c, err := client.New(cfg, client.Options{Scheme: scheme})
			if err != nil {
				return usageError(fmt.Errorf("connect to the cluster: %w", err))
			}
			objs, err := audit.Collect(ctx, c, namespace)
			if err != nil {
				return usageError(err)
			}
			rep, err := check.Run(ctx, eng, audit.Manifests(objs))
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
	cmd.Flags().StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig of the cluster to audit (default: $KUBECONFIG, in-cluster, ~/.kube/config)")
	cmd.Flags().StringVarP(&namespace, "namespace", "n", "", "audit only this namespace (default: every namespace)")
	cmd.Flags().StringVarP(&output, "output", "o", "text", "output format: "+strings.Join(report.Formats, ", "))
	return cmd
}
