package scenario

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/test/e2e/cluster"
	"github.com/fluxgate/fluxgate/test/e2e/gitsource"
	"github.com/fluxgate/fluxgate/test/e2e/install"
)

// FluxNamespace holds the Flux objects: the ExternalArtifact and the
// Kustomizations.
const FluxNamespace = "flux-system"

// Options configure [Setup].
type Options struct {
	// Nodes is the number of simulated nodes (default 4).
	Nodes int
	// Dir is the working folder (default: a temporary one Stop removes).
	Dir string
	// Log receives one line per environment part started (default:
	// discarded).
	Log io.Writer
	// ProcessLog receives the cluster harness's messages about each
	// process (default: discarded).
	ProcessLog io.Writer
	// FluxgateValues are extra chart values.
	FluxgateValues map[string]any
	// Namespaces are created before fluxgate is installed: those its
	// chart values put Roles in (maintenanceGuard.
	// kubeConfigSecretNamespaces).
	Namespaces []string
}

// Env is a running environment.
type Env struct {
	Cluster  *cluster.Cluster
	Client   client.Client
	Repo     *gitsource.Repo
	Source   *gitsource.Server
	Fluxgate *install.Fluxgate
	Log      io.Writer

	kustomizeController *cluster.Process
	dir                 string
	removeDir           bool
}

// Setup starts the cluster, kustomize-controller, the Git source and
// fluxgate, in that order, each ready before the next. On error what was
// started is stopped.
func Setup(ctx context.Context, o Options) (_ *Env, err error) {
	if o.Nodes == 0 {
		o.Nodes = 4
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	e := &Env{Log: o.Log, dir: o.Dir}
	if e.dir == "" {
		if e.dir, err = os.MkdirTemp("", "fluxgate-scenario-"); err != nil {
			return nil, fmt.Errorf("create the scenario folder: %w", err)
		}
		e.removeDir = true
	}
	defer func() {
		if err != nil {
			e.Stop()
		}
	}()
	step := func(what string, start time.Time) {
		fmt.Fprintf(e.Log, "%-44s %5.1fs\n", what, time.Since(start).Seconds())
	}

	start := time.Now()
	if e.Cluster, err = cluster.Start(ctx, cluster.Options{
		Nodes: o.Nodes, Dir: filepath.Join(e.dir, "cluster"), Log: o.ProcessLog,
	}); err != nil {
		return nil, err
	}
	step(fmt.Sprintf("control plane and %d kwok nodes ready", o.Nodes), start)
	if e.Client, err = newClient(e.Cluster); err != nil {
		return nil, err
	}

	start = time.Now()
	if e.kustomizeController, err = e.Cluster.KustomizeController(ctx, cluster.KustomizeControllerOptions{}); err != nil {
		return nil, err
	}
	step("Flux CRDs and kustomize-controller ready", start)

	start = time.Now()
	if e.Repo, err = gitsource.New(filepath.Join(e.dir, "git")); err != nil {
		return nil, err
	}
	if e.Source, err = gitsource.NewServer(e.Repo); err != nil {
		return nil, err
	}
	step("Git repository and artifact server ready", start)

	start = time.Now()
	for _, ns := range o.Namespaces {
		if err = e.Cluster.EnsureNamespace(ctx, ns); err != nil {
			return nil, err
		}
	}
	if e.Fluxgate, err = install.Install(ctx, install.Options{
		Kubeconfig: e.Cluster.Kubeconfig,
		Values:     o.FluxgateValues,
		Dir:        filepath.Join(e.dir, "fluxgate"),
		Log:        io.Discard,
		Start: func(name string, cmd *exec.Cmd) (install.Process, error) {
			return e.Cluster.StartProcess(name, cmd)
		},
	}); err != nil {
		return nil, err
	}
	step("fluxgate installed from its chart and ready", start)
	return e, nil
}

// Stop stops everything Setup started, by PID, and removes its folder
// unless it was given one.
func (e *Env) Stop() {
	if e.Source != nil {
		e.Source.Close()
	}
	if e.Cluster != nil {
		e.Cluster.Stop()
	}
	if e.removeDir {
		_ = os.RemoveAll(e.dir)
	}
}

func newClient(c *cluster.Cluster) (client.Client, error) {
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		return nil, fmt.Errorf("scheme: %w", err)
	}
	cl, err := client.New(c.RESTConfig(), client.Options{Scheme: scheme})
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cl, nil
}
