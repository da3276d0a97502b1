package controllers

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/config"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fluxgate/fluxgate/api/v1alpha1"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// The suite runs a real kube-apiserver and etcd (envtest) with fluxgate's
// MaintenanceGuard CRD and Flux's own CRDs, taken from the Flux Go
// modules by `make flux-crds`. Each test starts its own manager with the
// guard controller and an injected clock.
var (
	restCfg *rest.Config
	scheme  *runtime.Scheme
	k8s     client.Client
	// kubeconfig is restCfg as a kubeconfig file's content, for processes
	// the tests start.
	kubeconfig []byte
)

func TestMain(m *testing.M) {
	if os.Getenv(guardProcessEnv) != "" {
		// The test binary started again as a guard process by the scale
		// scenario.
		os.Exit(runGuardProcess())
	}
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets, err := testenv.Assets()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	crds, err := testenv.FluxCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel())))
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases"), crds},
		ErrorIfCRDPathMissing: true,
	}
	if restCfg, err = env.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	kubeconfig = env.KubeConfig
	scheme = runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if err := v1alpha1.AddToScheme(scheme); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// clock is the injected time of one test.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time { c.mu.Lock(); defer c.mu.Unlock(); return c.t }

func (c *clock) Add(d time.Duration) { c.mu.Lock(); c.t = c.t.Add(d); c.mu.Unlock() }

// startGuard runs a manager with the guard controller until the test ends
// or stop is called, and returns stop.
func startGuard(t testing.TB, clk *clock, c func(client.Client) client.Client) (stop func()) {
	t.Helper()
	return startGuardWith(t, clk, c, nil)
}

// startGuardWith is startGuard with the manager's rest.Config changed by
// cfg first (when not nil).
func startGuardWith(t testing.TB, clk *clock, c func(client.Client) client.Client, cfg func(*rest.Config)) (stop func()) {
	t.Helper()
	_, stop = startReconciler(t, clk, c, cfg)
	return stop
}

// startReconciler is startGuardWith, also returning the reconciler.
func startReconciler(t testing.TB, clk *clock, c func(client.Client) client.Client, cfg func(*rest.Config)) (r *MaintenanceGuardReconciler, stop func()) {
	t.Helper()
	rc := rest.CopyConfig(restCfg)
	if cfg != nil {
		cfg(rc)
	}
	mgr, err := ctrl.NewManager(rc, ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlConfigSkipNameValidation(),
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	cl := mgr.GetClient()
	if c != nil {
		cl = c(cl)
	}
	r = &MaintenanceGuardReconciler{Client: cl, Events: mgr.GetEventRecorder("fluxgate"), Now: clk.Now, Log: ctrl.Log.WithName("guard")}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	var once sync.Once
	stop = func() {
		once.Do(func() {
			cancel()
			if err := <-done; err != nil {
				t.Errorf("manager: %v", err)
			}
		})
	}
	t.Cleanup(stop)
	return r, stop
}

func cordon(t *testing.T, name string, on bool) {
	t.Helper()
	n := &corev1.Node{}
	if err := k8s.Get(context.Background(), client.ObjectKey{Name: name}, n); err != nil {
		t.Fatal(err)
	}
	base := n.DeepCopy()
	n.Spec.Unschedulable = on
	if err := k8s.Patch(context.Background(), n, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

func ctrlConfigSkipNameValidation() config.Controller {
	return config.Controller{SkipNameValidation: ptr.To(true)}
}

func zapLevel() zapcore.Level {
	if os.Getenv("FLUXGATE_TEST_LOG") == "debug" {
		return zapcore.DebugLevel
	}
	return zapcore.ErrorLevel
}
