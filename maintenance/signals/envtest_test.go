package signals

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/cache"
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

// TestLoadAgainstAPIServer runs Load through a real controller-runtime
// cache (and a direct client) against a real API server, first without the
// optional CRDs, then after installing them: what a cache returns for a
// kind the server does not serve must read as absent, and the kind must be
// found once its CRD appears, without a restart.
func TestLoadAgainstAPIServer(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	env := &envtest.Environment{BinaryAssetsDirectory: envtestAssets(t)}
	restCfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })

	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	direct, err := client.New(restCfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	informers, err := cache.New(restCfg, cache.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	go func() { _ = informers.Start(ctx) }()
	if !informers.WaitForCacheSync(ctx) {
		t.Fatal("cache did not start")
	}
	load := func(r client.Reader) (Snapshot, error) {
		lctx, lcancel := context.WithTimeout(ctx, 30*time.Second)
		defer lcancel()
		return Load(lctx, r, allSources, time.Now())
	}

	// No CRDs, no kured.
	for name, r := range map[string]client.Reader{"cache": informers, "direct client": direct} {
		snap, err := load(r)
		if err != nil {
			t.Fatalf("%s without CRDs: %v", name, err)
		}
		if snap.Plans != nil || snap.NodeMaintenances != nil || snap.KuredDaemonSet != nil {
			t.Fatalf("%s without CRDs: want absent, got %+v", name, snap)
		}
	}

	if _, err := envtest.InstallCRDs(restCfg, envtest.CRDInstallOptions{Paths: []string{filepath.Join("testdata", "crds")}}); err != nil {
		t.Fatalf("install CRDs: %v", err)
	}
	create := func(obj client.Object) {
		t.Helper()
		if err := direct.Create(ctx, obj); err != nil {
			t.Fatalf("create %T %s: %v", obj, obj.GetName(), err)
		}
	}
	createWithStatus := func(u unstructured.Unstructured) {
		t.Helper()
		status := u.Object["status"]
		create(&u)
		u.Object["status"] = status
		if err := direct.Status().Update(ctx, &u); err != nil {
			t.Fatalf("status of %s: %v", u.GetName(), err)
		}
	}
	create(&corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "system-upgrade"}})
	createWithStatus(fixture(t, "plans.yaml", "k3s-server"))
	createWithStatus(fixture(t, "plans.yaml", "done"))
	createWithStatus(fixture(t, "nodemaintenances.yaml", "nm-running"))
	create(ptr(node("cp-1", label(LabelControlPlane, ""), cordoned)))
	ds := kuredDS(`{"nodeID":"cp-1","metadata":{"unschedulable":false},"created":"2026-03-01T10:00:00Z","TTL":0}`)
	ds.Spec = appsv1.DaemonSetSpec{
		Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"name": "kured"}},
		Template: corev1.PodTemplateSpec{
			ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"name": "kured"}},
			Spec:       corev1.PodSpec{Containers: []corev1.Container{{Name: "kured", Image: "ghcr.io/kubereboot/kured:1.17.1"}}},
		},
	}
	create(ds)
	create(&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: APIServerNamespace, Name: "default"}})
	create(ptrPod(apiServerPod("cp-1", "registry.k8s.io/kube-apiserver:v1.36.3")))

	for name, r := range map[string]client.Reader{"cache": informers, "direct client": direct} {
		var snap Snapshot
		deadline := time.Now().Add(30 * time.Second)
		for {
			snap, err = load(r)
			if err != nil {
				t.Fatalf("%s with CRDs: %v", name, err)
			}
			if len(snap.Plans) == 2 && len(snap.NodeMaintenances) == 1 && snap.KuredDaemonSet != nil && len(snap.APIServerPods) == 1 {
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("%s with CRDs: snapshot incomplete: %+v", name, snap)
			}
			time.Sleep(100 * time.Millisecond)
		}
		active, problems := Detect(allSources, snap)
		got := map[Type][]string{}
		for _, s := range active {
			got[s.Type] = s.Objects
		}
		assertEqual(t, name+": signals", got, map[Type][]string{
			NodeCordoned:    {"cp-1"},
			KuredReboot:     {"cp-1"},
			SystemUpgrade:   {"cp-1", "cp-2"},
			NodeMaintenance: {"worker-1"},
		})
		if len(problems) > 0 {
			t.Errorf("%s: problems %q", name, problems)
		}
	}
}
