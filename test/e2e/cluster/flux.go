package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// KustomizeControllerOptions configure [Cluster.KustomizeController].
type KustomizeControllerOptions struct {
	// Namespace is the controller's RUNTIME_NAMESPACE, created if missing
	// (default flux-system).
	Namespace string

	// CRDDir holds the Flux CRDs to install first (default: the folder of
	// internal/testenv.FluxCRDs, $FLUX_CRDS or bin/flux-crds). The
	// controller watches every source kind, so all of them must be there.
	CRDDir string

	// RequeueDependency is how soon a Kustomization waiting on a dependency
	// is retried (default 2s).
	RequeueDependency time.Duration

	// Args are added to the command line, each "--name=value"; one whose
	// name is set already replaces it.
	Args []string
}

// KustomizeController installs the Flux CRDs, then starts Flux's
// kustomize-controller ([KustomizeControllerBinary] of BinDir) as a
// process of the cluster, with the administrator's kubeconfig, watching
// every namespace, without leader election, with the ExternalArtifact
// and ObjectLevelWorkloadIdentity features on and one HTTP retry, and
// waits until it is ready.
//
// No source-controller runs: a test publishes artifacts itself (an
// ExternalArtifact, or a source object's status.artifact).
func (c *Cluster) KustomizeController(ctx context.Context, opts KustomizeControllerOptions) (*Process, error) {
	if opts.Namespace == "" {
		opts.Namespace = "flux-system"
	}
	if opts.RequeueDependency <= 0 {
		opts.RequeueDependency = 2 * time.Second
	}
	if opts.CRDDir == "" {
		dir, err := testenv.FluxCRDs()
		if err != nil {
			return nil, fmt.Errorf("start kustomize-controller: %w", err)
		}
		opts.CRDDir = dir
	}
	bin := filepath.Join(c.BinDir, KustomizeControllerBinary)
	if _, err := os.Stat(bin); err != nil {
		return nil, fmt.Errorf("start kustomize-controller: %w: %w (run `make e2e-assets`)", ErrNoBinaries, err)
	}
	if _, err := c.InstallCRDs(ctx, opts.CRDDir); err != nil {
		return nil, fmt.Errorf("start kustomize-controller: %w", err)
	}
	if err := c.EnsureNamespace(ctx, opts.Namespace); err != nil {
		return nil, fmt.Errorf("start kustomize-controller: %w", err)
	}
	metrics, err := freePort()
	if err != nil {
		return nil, err
	}
	health, err := freePort()
	if err != nil {
		return nil, err
	}
	args := mergeFlags([]string{
		"--watch-all-namespaces=true",
		"--enable-leader-election=false",
		fmt.Sprintf("--metrics-addr=127.0.0.1:%d", metrics),
		fmt.Sprintf("--health-addr=127.0.0.1:%d", health),
		"--events-addr=",
		// ObjectLevelWorkloadIdentity: a kubeConfig ConfigMap may name the
		// ServiceAccount whose tokens reach the remote cluster.
		"--feature-gates=ExternalArtifact=true,ObjectLevelWorkloadIdentity=true",
		"--http-retry=1",
		"--requeue-dependency=" + opts.RequeueDependency.String(),
		"--log-level=info",
	}, opts.Args)
	cmd := exec.Command(bin, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.Kubeconfig, "RUNTIME_NAMESPACE="+opts.Namespace)
	p, err := c.StartProcess("kustomize-controller", cmd)
	if err != nil {
		return nil, err
	}
	if err := c.waitProcess(ctx, p, "kustomize-controller", httpOK(fmt.Sprintf("http://127.0.0.1:%d/readyz", health), "")); err != nil {
		return nil, err
	}
	return p, nil
}

// EnsureNamespace creates the namespace unless it exists, then waits until
// its default service account exists (pods are refused until then).
func (c *Cluster) EnsureNamespace(ctx context.Context, name string) error {
	_, err := c.Client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}, metav1.CreateOptions{})
	if err != nil && !apierrors.IsAlreadyExists(err) {
		return fmt.Errorf("create namespace %s: %w", name, err)
	}
	for {
		_, err := c.Client.CoreV1().ServiceAccounts(name).Get(ctx, "default", metav1.GetOptions{})
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("wait for the default service account of %s: %w (last: %w)", name, ctx.Err(), err)
		case <-time.After(pollInterval):
		}
	}
}
