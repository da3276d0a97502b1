package chart

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"

	"github.com/fluxgate/fluxgate/server"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// syncBuffer is a log sink safe for the server's goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// The chart's RBAC is enough for `fluxgate serve`: with only the rendered
// ServiceAccount, (Cluster)Roles and bindings, a fluxgate running as that
// ServiceAccount (impersonated) becomes ready (every informer synced),
// takes the leader election Lease, reconciles a MaintenanceGuard with
// every signal on to Ready, suspends a Kustomization when a node is
// cordoned, records Events, and logs no "forbidden".
func TestRBACSufficient(t *testing.T) {
	assets := envtestAssets(t)
	fluxCRDs, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(chartDir, "crds"), fluxCRDs},
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
	scheme, err := server.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	for _, ns := range []string{namespace, "kube-system"} {
		err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}})
		if err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
	}

	// Only the identity and RBAC objects of the chart, for real.
	objs := render(t, nil)
	for _, k := range keys(objs) {
		switch objs[k].GetKind() {
		case "ServiceAccount", "ClusterRole", "ClusterRoleBinding", "Role", "RoleBinding":
			if err := admin.Create(ctx, objs[k].DeepCopy()); err != nil {
				t.Fatalf("%s: %v", k, err)
			}
		}
	}
	secret := convert[corev1.Secret](t, objs["Secret/fluxgate-webhook-tls"])
	certDir := t.TempDir()
	for _, f := range []string{"tls.crt", "tls.key"} {
		if err := os.WriteFile(filepath.Join(certDir, f), secret.Data[f], 0o600); err != nil {
			t.Fatal(err)
		}
	}
	guard := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "fluxgate.dev/v1alpha1", "kind": "MaintenanceGuard",
		"metadata": map[string]any{"name": "default"},
		// Every signal on, so every kind the guard can read is read.
		"spec": map[string]any{"signals": map[string]any{
			"nodes":                   map[string]any{"enabled": true},
			"controlPlane":            map[string]any{"enabled": true},
			"kured":                   map[string]any{"enabled": true},
			"systemUpgradeController": map[string]any{"enabled": true},
			"nodeMaintenance":         map[string]any{"enabled": true},
		}},
	}}
	if err := admin.Create(ctx, guard); err != nil {
		t.Fatal(err)
	}

	user := "system:serviceaccount:" + namespace + ":fluxgate"
	asSA := rest.CopyConfig(cfg)
	asSA.Impersonate = rest.ImpersonationConfig{UserName: user, Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + namespace, "system:authenticated"}}
	logs := &syncBuffer{}
	probes := "127.0.0.1:" + strconv.Itoa(freePort(t))
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() {
		done <- server.Run(runCtx, asSA, server.Options{
			Namespace:              namespace,
			ServiceAccount:         user,
			WebhookHost:            "127.0.0.1",
			WebhookPort:            freePort(t),
			WebhookCertDir:         certDir,
			HealthProbeBindAddress: probes,
			MetricsBindAddress:     "0",
			LeaderElection:         true,
			Log:                    zap.New(zap.WriteTo(logs)),
		})
	}()
	defer func() {
		stop()
		if err := <-done; err != nil {
			t.Errorf("fluxgate serve: %v", err)
		}
	}()

	wait := func(what string, ok func() (bool, error)) {
		t.Helper()
		var last error
		for deadline := time.Now().Add(60 * time.Second); time.Now().Before(deadline); time.Sleep(200 * time.Millisecond) {
			select {
			case err := <-done:
				done <- err
				t.Fatalf("fluxgate serve stopped: %v\n%s", err, logs)
			default:
			}
			good, err := ok()
			if good {
				return
			}
			last = err
		}
		t.Fatalf("%s: not within 60 s (last: %v)\nlogs:\n%s", what, last, logs)
	}
	wait("ready", func() (bool, error) {
		resp, err := http.Get("http://" + probes + "/readyz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("readyz %s", resp.Status)
	})
	wait("leader election Lease", func() (bool, error) {
		var l coordinationv1.Lease
		err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: server.LeaderElectionID}, &l)
		return err == nil && l.Spec.HolderIdentity != nil, err
	})
	wait("MaintenanceGuard reconciled", func() (bool, error) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(guard), guard); err != nil {
			return false, err
		}
		// Ready False with SignalsUnavailable is what a missing permission
		// looks like: an informer that never syncs.
		conds, _, _ := unstructured.NestedSlice(guard.Object, "status", "conditions")
		for _, c := range conds {
			if c, ok := c.(map[string]any); ok && c["type"] == "Ready" && c["status"] == "True" {
				return true, nil
			}
		}
		return false, fmt.Errorf("status %v", guard.Object["status"])
	})

	// A cordoned node is maintenance: the guard lists namespaces, suspends
	// the Kustomization (a patch) and records Events.
	if err := admin.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil {
		t.Fatal(err)
	}
	ks := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": "app", "namespace": "apps"},
		"spec": map[string]any{
			"interval": "10m", "prune": true, "path": "./",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": "app"},
		},
	}}
	if err := admin.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	if err := admin.Get(ctx, client.ObjectKeyFromObject(guard), guard); err != nil {
		t.Fatal(err)
	}
	if err := unstructured.SetNestedField(guard.Object, "0", "spec", "debounce"); err != nil {
		t.Fatal(err)
	}
	if err := admin.Update(ctx, guard); err != nil {
		t.Fatal(err)
	}
	if err := admin.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{Unschedulable: true}}); err != nil {
		t.Fatal(err)
	}
	wait("Kustomization suspended by the guard", func() (bool, error) {
		if err := admin.Get(ctx, client.ObjectKeyFromObject(ks), ks); err != nil {
			return false, err
		}
		suspended, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend")
		if err := admin.Get(ctx, client.ObjectKeyFromObject(guard), guard); err != nil {
			return false, err
		}
		return suspended, fmt.Errorf("guard status %v", guard.Object["status"])
	})
	wait("an Event recorded", func() (bool, error) {
		var events eventsv1.EventList
		if err := admin.List(ctx, &events, client.InNamespace("apps")); err != nil {
			return false, err
		}
		return len(events.Items) > 0, fmt.Errorf("no Events in apps")
	})

	if out := logs.String(); strings.Contains(out, "forbidden") {
		t.Errorf("fluxgate logged forbidden requests with the chart's RBAC:\n%s", out)
	}
}
