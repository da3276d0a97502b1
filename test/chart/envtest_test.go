package chart

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// envtestAssets returns kube-apiserver's and etcd's directory; a test
// without them fails: make test always provides them.
func envtestAssets(t *testing.T) string {
	t.Helper()
	dir, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	return dir
}

// Every object the chart renders is accepted by a real API server (a
// server-side dry-run create), with the chart's own CRD and those of
// cert-manager and the Prometheus Operator, from their Go modules,
// installed: a Certificate or ServiceMonitor that does not match its schema
// fails here.
func TestServerSideDryRun(t *testing.T) {
	assets := envtestAssets(t)
	integrations, err := testenv.IntegrationCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds"), integrations},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	c, err := client.New(cfg, client.Options{})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: namespace}}); err != nil {
		t.Fatal(err)
	}
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := render(t, vals)
			for _, k := range keys(objs) {
				obj := objs[k]
				if err := c.Create(ctx, obj.DeepCopy(), client.DryRunAll); err != nil {
					t.Errorf("%s: %v", k, err)
				}
			}
		})
	}
}
