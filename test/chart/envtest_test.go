package chart

import (
	"bytes"
	"context"
	"path/filepath"
	"strconv"
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

	t.Run("generated certificate kept and renewed", func(t *testing.T) {
		first := renderWithClient(t, nil, cfg)
		secret := convert[corev1.Secret](t, first["Secret/fluxgate-webhook-tls"])
		checkGenerated(t, secret, first)
		if err := c.Create(ctx, secret); err != nil {
			t.Fatal(err)
		}

		// An upgrade finds the Secret and keeps it.
		again := renderWithClient(t, nil, cfg)
		kept := convert[corev1.Secret](t, again["Secret/fluxgate-webhook-tls"])
		if !bytes.Equal(kept.Data["tls.crt"], secret.Data["tls.crt"]) || !bytes.Equal(kept.Data["ca.crt"], secret.Data["ca.crt"]) {
			t.Errorf("upgrade replaced a certificate far from expiry")
		}
		checkGenerated(t, kept, again)

		// An upgrade close to expiry replaces it, trusting both CAs while
		// the pods reload.
		soon := time.Now().Add(10 * 24 * time.Hour).Unix()
		secret.Annotations["fluxgate.dev/not-after"] = strconv.FormatInt(soon, 10)
		if err := c.Update(ctx, secret); err != nil {
			t.Fatal(err)
		}
		renewed := renderWithClient(t, nil, cfg)
		fresh := convert[corev1.Secret](t, renewed["Secret/fluxgate-webhook-tls"])
		if bytes.Equal(fresh.Data["ca.crt"], secret.Data["ca.crt"]) || bytes.Equal(fresh.Data["tls.crt"], secret.Data["tls.crt"]) {
			t.Fatalf("upgrade within renewDaysBefore kept the certificate")
		}
		checkGenerated(t, fresh, renewed)
		m, v := webhooks(t, renewed)
		for _, bundle := range [][]byte{m.Webhooks[0].ClientConfig.CABundle, v.Webhooks[0].ClientConfig.CABundle} {
			if !bytes.Contains(bundle, secret.Data["ca.crt"]) {
				t.Errorf("caBundle dropped the previous CA during renewal")
			}
		}
	})
}
