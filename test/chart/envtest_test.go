package chart

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/meta"
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
// server-side dry-run create), with the chart's own CRD installed. Kinds
// of CRDs the test cluster lacks (cert-manager, Prometheus Operator) are
// skipped and logged.
func TestServerSideDryRun(t *testing.T) {
	assets := envtestAssets(t)
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds")},
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
				err := c.Create(ctx, obj.DeepCopy(), client.DryRunAll)
				switch {
				case meta.IsNoMatchError(err):
					t.Logf("%s: skipped, no such kind in the test cluster", k)
				case err != nil:
					t.Errorf("%s: %v", k, err)
				}
			}
		})
	}
}
