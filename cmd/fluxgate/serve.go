package main

import (
	"errors"
	"flag"
	"fmt"
	"os"

	"github.com/spf13/cobra"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxgate/fluxgate/audit"
	"github.com/fluxgate/fluxgate/controllers"
	"github.com/fluxgate/fluxgate/internal/memlimit"
	"github.com/fluxgate/fluxgate/server"
)

func newServeCommand() *cobra.Command {
	var (
		o          server.Options
		kubeconfig string
		rate       apiRate
		zapOpts    = zap.Options{}
	)
	cmd := &cobra.Command{
		Use:   "serve",
		Short: "Serve the admission webhooks and run the maintenance guard",
		Long: `Serve fluxgate's admission webhooks: /mutate and /validate (AdmissionReview v1)
over TLS, evaluating every Deployment, StatefulSet, DaemonSet and
PodDisruptionBudget write against the policies.

Policies come from the built-in set, --policy-dir, and ConfigMaps labelled
fluxgate.dev/policy: "true" in fluxgate's namespace (watched live; a set
that does not compile is rejected and the previous one keeps serving).
The webhook configurations it expects are in config/webhook.

The same process runs the maintenance guard: while the signals of a
MaintenanceGuard say nodes are under maintenance or the control plane
upgrades, it pauses the Flux Kustomizations and HelmReleases the guard
selects, and resumes them afterwards (docs/maintenance.md).`,
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, _ []string) error {
			log := zap.New(zap.UseFlagOptions(&zapOpts))
			ctrl.SetLogger(log)
			o.Log = log
			if limit, err := memlimit.Set("/sys/fs/cgroup"); err != nil {
				log.Error(err, "no soft memory limit set: the container's limit is unreadable")
			} else if limit > 0 {
				log.Info("soft memory limit set from the container's", "bytes", limit, "fraction", memlimit.Fraction)
			}
			if o.Namespace == "" {
				o.Namespace = os.Getenv("POD_NAMESPACE")
			}
			if o.ServiceAccount == "" && o.Namespace != "" {
				o.ServiceAccount = fmt.Sprintf("system:serviceaccount:%s:fluxgate", o.Namespace)
			}
			cfg, err := restConfig(kubeconfig, rate)
			if err != nil {
				return usageError(err)
			}
			if err := server.Run(ctrl.SetupSignalHandler(), cfg, o); err != nil {
				return &exitError{code: exitDenied, err: err}
			}
			return nil
		},
	}
	f := cmd.Flags()
	f.StringVar(&kubeconfig, "kubeconfig", "", "kubeconfig file; default: $KUBECONFIG, then the in-cluster configuration")
	f.Float32Var(&rate.qps, "kube-api-qps", controllers.DefaultKubeAPIQPS, "requests per second to the Kubernetes API, sustained, whether in the cluster or with --kubeconfig; negative: no client-side limit (the API server's priority and fairness only)")
	f.IntVar(&rate.burst, "kube-api-burst", controllers.DefaultKubeAPIBurst, "requests to the Kubernetes API allowed at once above --kube-api-qps (the maintenance guard pauses or resumes up to this many objects without waiting)")
	f.StringVar(&o.Namespace, "namespace", "", "fluxgate's own namespace: never evaluated, and where policy ConfigMaps live (default $POD_NAMESPACE)")
	f.StringVar(&o.ServiceAccount, "service-account", "", "fluxgate's own user, never denied (default system:serviceaccount:<namespace>:fluxgate)")
	f.StringVar(&o.WebhookHost, "webhook-host", "", "address the webhook server binds to (default all)")
	f.IntVar(&o.WebhookPort, "webhook-port", 9443, "port of the webhook server")
	f.StringVar(&o.WebhookCertDir, "webhook-cert-dir", "", "directory with tls.crt and tls.key, reloaded when they change (default <temp>/k8s-webhook-server/serving-certs)")
	f.StringVar(&o.CertSecret, "cert-secret", "", "Secret in --namespace where fluxgate issues and renews its own CA and serving certificate, served from memory (--webhook-cert-dir is then unused)")
	f.StringSliceVar(&o.CertHosts, "cert-hosts", nil, "DNS names and IPs the serving certificate covers, e.g. fluxgate-webhook.fluxgate-system.svc (with --cert-secret)")
	f.StringVar(&o.MutatingWebhookConfiguration, "mutating-webhook-configuration", "", "MutatingWebhookConfiguration that gets the CA bundle (with --cert-secret)")
	f.StringVar(&o.ValidatingWebhookConfiguration, "validating-webhook-configuration", "", "ValidatingWebhookConfiguration that gets the CA bundle (with --cert-secret)")
	f.BoolVar(&o.EnableHTTP2, "enable-http2", false, "serve HTTP/2 on the webhook and metrics servers (off: HTTP/2 rapid reset attacks)")
	f.StringVar(&o.HealthProbeBindAddress, "health-probe-bind-address", ":8081", "address of /healthz and /readyz; 0 disables")
	f.StringVar(&o.MetricsBindAddress, "metrics-bind-address", ":8080", "address of the Prometheus /metrics endpoint; 0 disables")
	f.BoolVar(&o.LeaderElection, "leader-elect", true, "elect a leader among replicas for the maintenance guard (every replica serves the webhooks and loads policies)")
	f.StringVar(&o.ConfigFile, "config", "", "fluxgate configuration file (actions, parameters, exempt namespaces)")
	f.StringArrayVar(&o.PolicyDirs, "policy-dir", nil, "directory of custom Rego policies (repeatable)")
	f.DurationVar(&o.AuditInterval, "audit-interval", audit.DefaultInterval, "how often the leader audits every running Deployment, StatefulSet, DaemonSet and PodDisruptionBudget again, beside the audits changes trigger; results go to OpenReports Reports and fluxgate_audit_violations (0 disables the audit)")
	f.Float64Var(&o.AuditRate, "audit-rate", audit.DefaultRate, "objects the audit evaluates per second at most, so that admission keeps the cores")
	f.IntVar(&o.MaxConcurrentReviews, "max-concurrent-reviews", 0, "admission reviews evaluated at once, both webhooks together; more wait for a slot, up to the evaluation timeout, then get HTTP 503 and the webhook's failurePolicy (default 0: one per core, GOMAXPROCS)")
	goflags := flag.NewFlagSet("zap", flag.ContinueOnError)
	zapOpts.BindFlags(goflags)
	f.AddGoFlagSet(goflags)
	return cmd
}

// apiRate is the client-side rate limit of serve's API connection.
type apiRate struct {
	qps   float32
	burst int
}

// restConfig reads --kubeconfig, or falls back to controller-runtime's
// lookup ($KUBECONFIG, in-cluster, ~/.kube/config), and sets the rate
// limit on either: client-go alone would limit a kubeconfig to 5 requests
// a second while controller-runtime's lookup turns the limit off.
func restConfig(kubeconfig string, rate apiRate) (*rest.Config, error) {
	if rate.qps == 0 || (rate.qps > 0 && rate.burst < 1) {
		return nil, fmt.Errorf("--kube-api-qps %g with --kube-api-burst %d: give a positive rate and a burst of at least 1, or a negative rate for no client-side limit", rate.qps, rate.burst)
	}
	var cfg *rest.Config
	if kubeconfig != "" {
		c, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
		if err != nil {
			return nil, fmt.Errorf("read kubeconfig %s: %w", kubeconfig, err)
		}
		cfg = c
	} else {
		c, err := ctrl.GetConfig()
		if err != nil {
			return nil, errors.Join(errors.New("no cluster to serve: give --kubeconfig or set KUBECONFIG"), err)
		}
		cfg = c
	}
	cfg.QPS, cfg.Burst = rate.qps, rate.burst
	if rate.qps < 0 {
		cfg.QPS = -1 // rest.Config: no rate limiter
	}
	return cfg, nil
}
