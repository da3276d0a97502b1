package gitsource

import (
	"context"
	"maps"
	"net/http"
	"testing"

	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// startAPIServer starts envtest with the Flux CRDs and returns a client
// whose scheme knows the core and Flux source types.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{crds},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, sourcev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestPublish commits two revisions, publishes each to one
// ExternalArtifact through a real API server, and checks what
// kustomize-controller would read: status.artifact names the newest
// revision, and its URL serves bytes matching its digest that extract to
// that revision's files.
func TestPublish(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	c := startAPIServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	const ns, name = "flux-system", "fleet"
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	repo, err := New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	srv, err := NewServer(repo)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })

	trees := []map[string]string{
		{"apps/web.yaml": "kind: Deployment\nreplicas: 2\n", "kustomization.yaml": "resources:\n- apps/web.yaml\n"},
		{"apps/web.yaml": "kind: Deployment\nreplicas: 3\n", "kustomization.yaml": "resources:\n- apps/web.yaml\n"},
	}
	var lastRevision string
	for i, files := range trees {
		rev, err := repo.Commit(files, "release")
		if err != nil {
			t.Fatal(err)
		}
		if rev == lastRevision {
			t.Fatalf("rev %d: revision %s reused", i, rev)
		}
		lastRevision = rev
		art, err := srv.Publish(ctx, c, ns, name, rev)
		if err != nil {
			t.Fatalf("rev %d: %v", i, err)
		}

		var ea sourcev1.ExternalArtifact
		if err := c.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &ea); err != nil {
			t.Fatal(err)
		}
		got := ea.Status.Artifact
		if got == nil {
			t.Fatalf("rev %d: no status.artifact", i)
		}
		if got.Revision != rev || got.URL != art.URL || got.Digest != art.Digest || got.Path != art.Path {
			t.Fatalf("rev %d: status.artifact %+v, want %+v", i, got, art)
		}
		if got.Size == nil || *got.Size != art.Size || got.LastUpdateTime.IsZero() {
			t.Fatalf("rev %d: status.artifact size %v, lastUpdateTime %v", i, got.Size, got.LastUpdateTime)
		}
		if len(ea.Status.Conditions) != 1 || ea.Status.Conditions[0].Type != "Ready" || ea.Status.Conditions[0].Status != metav1.ConditionTrue {
			t.Fatalf("rev %d: conditions %+v", i, ea.Status.Conditions)
		}

		code, body := get(t, got.URL)
		if code != http.StatusOK {
			t.Fatalf("rev %d: GET %s: %d", i, got.URL, code)
		}
		if d := sha256Digest(body); d != got.Digest {
			t.Fatalf("rev %d: served digest %s, status says %s", i, d, got.Digest)
		}
		if extracted := untarFlux(t, body); !maps.Equal(extracted, files) {
			t.Fatalf("rev %d: artifact holds %v, want %v", i, extracted, files)
		}
	}
}
