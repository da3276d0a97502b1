package server

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/go-logr/logr"
	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/cache"
	"sigs.k8s.io/controller-runtime/pkg/client"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"
	ctrlwebhook "sigs.k8s.io/controller-runtime/pkg/webhook"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/audit"
	"github.com/fluxgate/fluxgate/certs"
	"github.com/fluxgate/fluxgate/controllers"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/maintenance/workloadidentity"
	"github.com/fluxgate/fluxgate/policy"
	"github.com/fluxgate/fluxgate/webhook"
)

// Options are the settings of `fluxgate serve`; the command's flags map
// onto them one to one.
type Options struct {
	// Namespace is fluxgate's own namespace: never evaluated, and where
	// policy ConfigMaps are read.
	Namespace string
	// ServiceAccount is fluxgate's own user name, never denied.
	ServiceAccount string

	WebhookHost    string
	WebhookPort    int
	WebhookCertDir string
	EnableHTTP2    bool

	// CertSecret, when set, names the Secret in Namespace where fluxgate
	// keeps its own CA and serving certificate (package certs) instead of
	// reading WebhookCertDir. CertHosts are the names the certificate
	// covers, and the CA bundle goes into the named webhook configurations.
	CertSecret                     string
	CertHosts                      []string
	MutatingWebhookConfiguration   string
	ValidatingWebhookConfiguration string

	HealthProbeBindAddress string
	MetricsBindAddress     string
	LeaderElection         bool

	// ConfigFile and PolicyDirs are read once at start.
	ConfigFile string
	PolicyDirs []string

	// MaxConcurrentReviews caps the admission reviews evaluated at once,
	// both webhooks together (webhook.ReviewLimiter); zero or negative
	// means webhook.DefaultMaxConcurrentReviews(), one per core.
	MaxConcurrentReviews int

	// AuditInterval is how often the leader audits every running object
	// again (package audit); zero disables the audit. AuditRate bounds the
	// objects it evaluates per second (audit.DefaultRate when zero).
	AuditInterval time.Duration
	AuditRate     float64

	Log logr.Logger
}

// addAuditor runs the audit on the leader: objects from the cache the
// webhook already fills, Reports read and written directly, so that the
// Reports of other tools are never cached.
func addAuditor(mgr ctrl.Manager, active *policy.Active, o Options, log logr.Logger) error {
	metrics, err := audit.NewMetrics(ctrlmetrics.Registry)
	if err != nil {
		return err
	}
	direct, err := client.New(mgr.GetConfig(), client.Options{Scheme: mgr.GetScheme(), Mapper: mgr.GetRESTMapper()})
	if err != nil {
		return fmt.Errorf("audit: client for Reports: %w", err)
	}
	auditor := &audit.Auditor{
		Client: direct, Reader: mgr.GetCache(), Informers: mgr.GetCache(), Engine: active.Engine,
		Interval: o.AuditInterval, Rate: o.AuditRate, Log: log, Metrics: metrics,
	}
	if err := mgr.Add(auditor); err != nil {
		return fmt.Errorf("add audit: %w", err)
	}
	return nil
}

// LeaderElectionID names the lease the replicas compete for.
const LeaderElectionID = "fluxgate.dev"

// EvalTimeout bounds one policy evaluation, well inside the webhook
// timeouts of config/webhook (2 s mutate, 3 s validate).
const EvalTimeout = time.Second

// NewScheme returns the types fluxgate serve reads.
func NewScheme() (*runtime.Scheme, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	if err := reportsv1alpha1.Install(scheme); err != nil {
		return nil, fmt.Errorf("register openreports.io/v1alpha1: %w", err)
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("build scheme: %w", err)
	}
	return scheme, nil
}

// Run serves until ctx ends. It returns an error when the configuration
// or the policies are unusable at start, or a server fails.
func Run(ctx context.Context, cfg *rest.Config, o Options) error {
	log := o.Log
	if o.Namespace == "" {
		return errors.New("fluxgate's namespace is not set (--namespace or POD_NAMESPACE)")
	}
	conf, err := policy.LoadConfig(o.ConfigFile)
	if err != nil {
		return err
	}
	base, err := policy.Load(o.PolicyDirs...)
	if err != nil {
		return err
	}
	base = policy.WithoutTests(base)
	active := &policy.Active{}
	// Fail at start, with file and line, rather than serve nothing.
	if _, err := active.Reload(ctx, base, conf); err != nil {
		return err
	}

	scheme, err := NewScheme()
	if err != nil {
		return err
	}
	var tlsOpts []func(*tls.Config)
	if !o.EnableHTTP2 {
		// HTTP/2 multiplexing lets one client starve the server (CVE-2023-44487, CVE-2023-39325).
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.NextProtos = []string{"http/1.1"} })
	}
	rotator, err := newRotator(cfg, scheme, o)
	if err != nil {
		return err
	}
	if rotator != nil {
		tlsOpts = append(tlsOpts, func(c *tls.Config) { c.GetCertificate = rotator.GetCertificate })
	}
	policyConfigMaps := labels.SelectorFromSet(labels.Set{controllers.PolicyLabel: "true"})
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                  scheme,
		Logger:                  log,
		LeaderElection:          o.LeaderElection,
		LeaderElectionID:        LeaderElectionID,
		LeaderElectionNamespace: o.Namespace,
		HealthProbeBindAddress:  "0",
		// The maintenance guard reads Flux objects as unstructured; from the
		// cache, like everything else, not with a List per reconcile.
		Client:  client.Options{Cache: &client.CacheOptions{Unstructured: true}},
		Metrics: metricsserver.Options{BindAddress: o.MetricsBindAddress, TLSOpts: tlsOpts},
		WebhookServer: ctrlwebhook.NewServer(ctrlwebhook.Options{
			Host: o.WebhookHost, Port: o.WebhookPort, CertDir: o.WebhookCertDir, TLSOpts: tlsOpts,
		}),
		Cache: cache.Options{ByObject: map[client.Object]cache.ByObject{
			&corev1.ConfigMap{}: {Namespaces: map[string]cache.Config{o.Namespace: {}}, Label: policyConfigMaps},
			// The guard reads only kube-apiserver static pods: never cache every pod.
			&corev1.Pod{}: {
				Namespaces: map[string]cache.Config{signals.APIServerNamespace: {}},
				Label:      labels.SelectorFromSet(labels.Set{signals.APIServerComponentLabel: signals.APIServerComponent}),
			},
		}},
	})
	if err != nil {
		return fmt.Errorf("create manager: %w", err)
	}

	if rotator != nil {
		if err := mgr.Add(rotator); err != nil {
			return fmt.Errorf("add certificate rotator: %w", err)
		}
	}

	metrics, err := webhook.NewMetrics(ctrlmetrics.Registry)
	if err != nil {
		return err
	}
	observer := loadObserver{metrics: metrics, active: active}
	metrics.ObserveActive(active)

	// Informers for related objects (and the guards policies read as
	// input.maintenance) start with the cache, not on the first admission
	// request.
	for _, obj := range append(webhook.RelatedObjects(), &v1alpha1.MaintenanceGuard{}) {
		if _, err := mgr.GetCache().GetInformer(ctx, obj); err != nil {
			return fmt.Errorf("watch %T: %w", obj, err)
		}
	}
	// A namespace whose related objects have not changed is answered
	// without listing them again.
	related := &webhook.CacheRelated{Reader: mgr.GetCache()}
	if err := related.WatchChanges(ctx, mgr.GetCache()); err != nil {
		return err
	}
	var cacheSynced atomic.Bool
	if err := mgr.Add(&cacheSyncWatcher{cache: mgr.GetCache(), synced: &cacheSynced}); err != nil {
		return fmt.Errorf("add cache watcher: %w", err)
	}

	recorder := mgr.GetEventRecorder("fluxgate")
	reconciler := &controllers.PolicyReconciler{
		Client: mgr.GetClient(), Namespace: o.Namespace, Active: active, Base: base, Config: conf,
		Events: recorder, Observer: observer, Log: log.WithName("policies"),
	}
	if err := reconciler.SetupWithManager(mgr); err != nil {
		return err
	}

	guardMetrics, err := controllers.NewGuardMetrics(ctrlmetrics.Registry)
	if err != nil {
		return err
	}
	guards := &controllers.MaintenanceGuardReconciler{
		Client: mgr.GetClient(), Events: recorder, Metrics: guardMetrics, Log: log.WithName("maintenance"),
	}
	// The guard's own identity for workload-identity ConfigMaps that name
	// no ServiceAccount; a user that is no ServiceAccount leaves it to the
	// pod's token.
	if sa, err := workloadidentity.ServiceAccountFromSubject(o.ServiceAccount); err == nil {
		guards.ServiceAccount = sa
	}
	if err := guards.SetupWithManager(mgr); err != nil {
		return err
	}

	if o.AuditInterval > 0 {
		if err := addAuditor(mgr, active, o, log.WithName("audit")); err != nil {
			return err
		}
	}

	hookOpts := webhook.Options{
		Policies:       active,
		Related:        related,
		Maintenance:    guardMaintenance{reader: mgr.GetCache()},
		Events:         recorder,
		Metrics:        metrics,
		Namespace:      o.Namespace,
		ServiceAccount: o.ServiceAccount,
		EvalTimeout:    EvalTimeout,
		Reviews:        webhook.NewReviewLimiter(o.MaxConcurrentReviews),
		Log:            log.WithName("webhook"),
	}
	srv := mgr.GetWebhookServer()
	srv.Register(webhook.MutatePath, webhook.NewHTTPHandler("mutate", webhook.NewMutator(hookOpts), metrics, hookOpts.Log))
	srv.Register(webhook.ValidatePath, webhook.NewHTTPHandler("validate", webhook.NewValidator(hookOpts), metrics, hookOpts.Log))

	if o.HealthProbeBindAddress != "" && o.HealthProbeBindAddress != "0" {
		probes := &probeServer{addr: o.HealthProbeBindAddress, log: log.WithName("probes"), ready: &readiness{
			active:         active,
			policiesSynced: reconciler.Synced,
			cacheSynced:    cacheSynced.Load,
			webhookStarted: srv.StartedChecker(),
			certificate:    certificateReady(rotator),
		}}
		if err := mgr.Add(probes); err != nil {
			return fmt.Errorf("add health probes: %w", err)
		}
	}

	log.Info("starting fluxgate", "namespace", o.Namespace, "policies", len(active.Engine().Set().Policies()),
		"webhookPort", o.WebhookPort, "maxConcurrentReviews", hookOpts.Reviews.Size(), "leaderElection", o.LeaderElection)
	if err := mgr.Start(ctx); err != nil {
		return fmt.Errorf("run manager: %w", err)
	}
	return nil
}

// newRotator returns the certificate rotator the options ask for, or nil
// when the certificate comes from WebhookCertDir (cert-manager, or files).
func newRotator(cfg *rest.Config, scheme *runtime.Scheme, o Options) (*certs.Rotator, error) {
	if o.CertSecret == "" {
		return nil, nil
	}
	if len(o.CertHosts) == 0 {
		return nil, errors.New("--cert-secret needs --cert-hosts: the names the API server calls the webhook by")
	}
	// Uncached: the rotator touches three named objects, and a cache
	// would need list and watch on every Secret of the namespace.
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("create certificate rotator client: %w", err)
	}
	r := &certs.Rotator{
		Client: c, Secret: types.NamespacedName{Namespace: o.Namespace, Name: o.CertSecret},
		Hosts: o.CertHosts, Log: o.Log.WithName("certs"),
	}
	if o.MutatingWebhookConfiguration != "" {
		r.MutatingWebhooks = []string{o.MutatingWebhookConfiguration}
	}
	if o.ValidatingWebhookConfiguration != "" {
		r.ValidatingWebhooks = []string{o.ValidatingWebhookConfiguration}
	}
	return r, nil
}

// certificateReady is the rotator's readiness, or always ready without one.
func certificateReady(r *certs.Rotator) func(*http.Request) error {
	if r == nil {
		return func(*http.Request) error { return nil }
	}
	return r.Ready
}

// cacheSyncWatcher flips synced once every informer has synced.
type cacheSyncWatcher struct {
	cache  cache.Cache
	synced *atomic.Bool
}

func (w *cacheSyncWatcher) Start(ctx context.Context) error {
	if w.cache.WaitForCacheSync(ctx) {
		w.synced.Store(true)
	}
	<-ctx.Done()
	return nil
}

func (w *cacheSyncWatcher) NeedLeaderElection() bool { return false }

// loadObserver reports policy loads in the webhook's metrics.
type loadObserver struct {
	metrics *webhook.Metrics
	active  *policy.Active
}

func (o loadObserver) PolicyLoaded(int64, int) { o.metrics.ObserveActive(o.active) }

func (o loadObserver) PolicyLoadFailed() { o.metrics.PolicyLoadErrors.Inc() }
