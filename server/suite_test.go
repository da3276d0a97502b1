package server

import (
	"context"
	"encoding/json"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// The suite runs one real kube-apiserver and etcd (envtest) whose webhook
// configurations, from config/webhook, point at a fluxgate server running
// in this process: every test talks to the API server, never to fluxgate
// directly.
var (
	k8s       client.Client
	restCfg   *rest.Config
	readyzURL string
)

const (
	ownNamespace   = "fluxgate-system"
	serviceAccount = "system:serviceaccount:fluxgate-system:fluxgate"
)

func freeAddress() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets, err := testenv.Assets()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	fluxCRDs, err := testenv.FluxCRDs()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join("..", "config", "crd", "bases"), fluxCRDs},
		ErrorIfCRDPathMissing: true,
		WebhookInstallOptions: envtest.WebhookInstallOptions{
			Paths:            []string{filepath.Join("..", "config", "webhook")},
			LocalServingHost: "127.0.0.1",
		},
	}
	restCfg, err = env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer func() {
		if err := env.Stop(); err != nil {
			fmt.Fprintln(os.Stderr, "stop envtest:", err)
		}
	}()
	scheme, err := NewScheme()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	if k8s, err = client.New(restCfg, client.Options{Scheme: scheme}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ownNamespace}}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	probes, err := freeAddress()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	readyzURL = "http://" + probes + "/readyz"
	wh := env.WebhookInstallOptions
	log := zap.New(zap.WriteTo(os.Stderr), zap.Level(zapLevel()))
	ctrl.SetLogger(log)
	done := make(chan error, 1)
	go func() {
		done <- Run(ctx, restCfg, Options{
			Namespace:              ownNamespace,
			ServiceAccount:         serviceAccount,
			WebhookHost:            wh.LocalServingHost,
			WebhookPort:            wh.LocalServingPort,
			WebhookCertDir:         wh.LocalServingCertDir,
			HealthProbeBindAddress: probes,
			MetricsBindAddress:     "0",
			ConfigFile:             filepath.Join("testdata", "config.yaml"),
			Log:                    log,
		})
	}()
	if err := waitReady(done); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	code := m.Run()
	cancel()
	if err := <-done; err != nil {
		fmt.Fprintln(os.Stderr, "fluxgate serve:", err)
		return 1
	}
	return code
}

// waitReady polls /readyz until fluxgate reports ready, or fails with the
// last reason it gave.
func waitReady(done <-chan error) error {
	var last string
	for range 600 {
		select {
		case err := <-done:
			return fmt.Errorf("fluxgate serve stopped before it was ready: %v", err)
		default:
		}
		if st, err := readyz(); err == nil {
			if st.Ready {
				return nil
			}
			last = st.Reason
		} else {
			last = err.Error()
		}
		time.Sleep(100 * time.Millisecond)
	}
	return fmt.Errorf("fluxgate did not become ready in 60 s: %s", last)
}

func readyz() (ReadyStatus, error) {
	var st ReadyStatus
	resp, err := http.Get(readyzURL)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if err := json.NewDecoder(resp.Body).Decode(&st); err != nil {
		return st, fmt.Errorf("decode /readyz: %w", err)
	}
	return st, nil
}
