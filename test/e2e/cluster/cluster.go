package cluster

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
)

// Cluster is a running simulated cluster. Its fields are set by [Start]
// and must not be changed.
type Cluster struct {
	// Dir is the working folder: pki/, *.kubeconfig, etcd/, logs/.
	Dir string

	// BinDir is the folder the binaries were taken from.
	BinDir string

	// Kubeconfig is the path of a kubeconfig for an administrator
	// (group system:masters).
	Kubeconfig string

	// Server is the apiserver's URL, https://127.0.0.1:<port>.
	Server string

	// AuditLog is the apiserver's audit log, when [Options.AuditPolicy]
	// was set.
	AuditLog string

	// Nodes are the names of the fake nodes, in order.
	Nodes []string

	// Client is a clientset for the administrator.
	Client kubernetes.Interface

	opts        Options
	log         io.Writer
	pki         *pki
	kubeconfigs map[string]string
	restConfig  *rest.Config
	removeDir   bool

	mu       sync.Mutex
	procs    []*Process
	stopped  bool
	stopOnce sync.Once
}

// Start starts a cluster: it generates certificates and kubeconfigs,
// starts etcd, kube-apiserver, kube-controller-manager, kube-scheduler and
// kwok, waits until each is ready, then creates [Options.Nodes] fake nodes
// and waits until they are Ready and untainted. On error, whatever was
// started is stopped again. Call [Cluster.Stop] when done.
func Start(ctx context.Context, opts Options) (*Cluster, error) {
	opts, err := opts.withDefaults()
	if err != nil {
		return nil, err
	}
	c := &Cluster{BinDir: opts.BinDir, opts: opts, log: opts.Log, Dir: opts.Dir}
	if c.Dir == "" {
		if c.Dir, err = os.MkdirTemp("", "fluxgate-e2e-"); err != nil {
			return nil, fmt.Errorf("create the cluster's folder: %w", err)
		}
		c.removeDir = true
	} else if c.Dir, err = filepath.Abs(c.Dir); err != nil {
		return nil, fmt.Errorf("cluster folder: %w", err)
	}
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("create the cluster's folder: %w", err)
	}
	started := time.Now()
	if err := c.start(ctx); err != nil {
		c.Stop()
		return nil, err
	}
	c.logf("cluster ready with %d nodes in %s (folder %s)", len(c.Nodes), time.Since(started).Round(100*time.Millisecond), c.Dir)
	return c, nil
}

// start does the work of Start.
func (c *Cluster) start(ctx context.Context) error {
	var err error
	if c.pki, err = newPKI(filepath.Join(c.Dir, "pki")); err != nil {
		return err
	}
	etcdURL, err := c.startEtcd(ctx)
	if err != nil {
		return err
	}
	apiPort, err := freePort()
	if err != nil {
		return err
	}
	c.Server = fmt.Sprintf("https://127.0.0.1:%d", apiPort)
	if c.kubeconfigs, err = writeKubeconfigs(c.Dir, c.Server, c.pki); err != nil {
		return err
	}
	c.Kubeconfig = c.kubeconfigs["admin"]
	if c.restConfig, err = clientcmd.BuildConfigFromFlags("", c.Kubeconfig); err != nil {
		return fmt.Errorf("load %s: %w", c.Kubeconfig, err)
	}
	c.restConfig.QPS, c.restConfig.Burst = 100, 200
	if c.Client, err = kubernetes.NewForConfig(c.restConfig); err != nil {
		return fmt.Errorf("create a client: %w", err)
	}
	if err := c.startAPIServer(ctx, etcdURL, apiPort); err != nil {
		return err
	}
	if err := c.startControllerManager(ctx); err != nil {
		return err
	}
	if err := c.startScheduler(ctx); err != nil {
		return err
	}
	if err := c.startKwok(ctx); err != nil {
		return err
	}
	return c.createNodes(ctx)
}

// RESTConfig returns a copy of the administrator's client configuration.
func (c *Cluster) RESTConfig() *rest.Config {
	return rest.CopyConfig(c.restConfig)
}

// StartProcess starts cmd as a process of the cluster: its output goes to
// <Dir>/logs/<name>.log (unless cmd sets Stdout or Stderr), its unexpected
// exit is reported to [Options.Log] with the tail of that log, and
// [Cluster.Stop] ends it. It fails once the cluster is stopped.
func (c *Cluster) StartProcess(name string, cmd *exec.Cmd) (*Process, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.stopped {
		return nil, fmt.Errorf("start %s: %w", name, ErrStopped)
	}
	p, err := startProcess(name, cmd, filepath.Join(c.Dir, "logs", name+".log"), func(p *Process) {
		c.logf("%s", p.describeExit())
	})
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	c.logf("started %s (pid %d)", name, p.PID())
	return p, nil
}

// Processes returns the processes the cluster started, in start order,
// ended ones included.
func (c *Cluster) Processes() []*Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]*Process(nil), c.procs...)
}

// Process returns the process started under name, or nil.
func (c *Cluster) Process(name string) *Process {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, p := range c.procs {
		if p.name == name {
			return p
		}
	}
	return nil
}

// Stop ends every process the cluster started, in reverse start order, by
// PID: SIGTERM, then SIGKILL after [StopGrace]. It removes the working
// folder if Start made it. It is idempotent and safe after a failed start.
func (c *Cluster) Stop() {
	c.stopOnce.Do(func() {
		c.mu.Lock()
		c.stopped = true
		procs := append([]*Process(nil), c.procs...)
		c.mu.Unlock()
		for i := len(procs) - 1; i >= 0; i-- {
			procs[i].Stop(StopGrace)
		}
		if c.removeDir {
			_ = os.RemoveAll(c.Dir)
		}
		c.logf("cluster stopped")
	})
}

// ErrStopped is wrapped by the errors of a stopped cluster's methods.
var ErrStopped = errors.New("cluster stopped")

// logf writes a progress line to the cluster's log.
func (c *Cluster) logf(format string, args ...any) {
	fmt.Fprintf(c.log, "e2e cluster: "+format+"\n", args...)
}
