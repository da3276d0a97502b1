package cluster

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
)

// BinEnv names the environment variable that points at the folder of the
// cluster's binaries (`make e2e-assets` fills bin/e2e).
const BinEnv = "FLUXGATE_E2E_BIN"

// Binaries are the programs [Options.BinDir] must hold for [Start].
var Binaries = []string{"etcd", "kube-apiserver", "kube-controller-manager", "kube-scheduler", "kwok"}

// KustomizeControllerBinary is the program [Cluster.KustomizeController]
// runs from [Options.BinDir].
const KustomizeControllerBinary = "kustomize-controller"

// StagesDir is the folder, under [Options.BinDir], of the kwok stage files
// (kwok's kustomize/stage/*/*/*.yaml, copied by `make e2e-assets`).
const StagesDir = "kwok-stages"

// Options configure [Start]. The zero value starts one node, in a
// temporary folder removed by Stop, with the binaries of [FindBinDir].
type Options struct {
	// Nodes is the number of fake nodes, named node-1 … node-N (default 1).
	Nodes int

	// NodeAllocatable is what every node offers to pods (default: 8 CPUs,
	// 32Gi of memory, 110 pods).
	NodeAllocatable corev1.ResourceList

	// Dir is the cluster's working folder: certificates, kubeconfigs, etcd's
	// data and the processes' logs (logs/<name>.log). When empty, a
	// temporary folder is made and Stop removes it.
	Dir string

	// BinDir holds the binaries ([Binaries], [KustomizeControllerBinary])
	// and the kwok stages ([StagesDir]); default [FindBinDir].
	BinDir string

	// APIServerFlags are added to kube-apiserver's command line, each
	// "--name=value"; one whose name the cluster sets already replaces it
	// (e.g. "--enable-admission-plugins=...").
	APIServerFlags []string

	// ControllerManagerFlags are added to kube-controller-manager's command
	// line the same way (e.g. "--node-monitor-grace-period=10s").
	ControllerManagerFlags []string

	// AuditPolicy, when set, is written to <Dir>/audit-policy.yaml and
	// turns the apiserver's audit log on, into [Cluster.AuditLog].
	AuditPolicy []byte

	// Log receives the cluster's progress lines and, when a process dies
	// or a start fails, the tail of its log; nil discards them. See
	// [TestLog].
	Log io.Writer

	// StartTimeout bounds each step of the start: every component ready,
	// the nodes Ready (default 60s).
	StartTimeout time.Duration
}

// withDefaults returns the options with every unset field set.
func (o Options) withDefaults() (Options, error) {
	if o.Nodes <= 0 {
		o.Nodes = 1
	}
	if o.NodeAllocatable == nil {
		o.NodeAllocatable = corev1.ResourceList{
			corev1.ResourceCPU:    resource.MustParse("8"),
			corev1.ResourceMemory: resource.MustParse("32Gi"),
			corev1.ResourcePods:   resource.MustParse("110"),
		}
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 60 * time.Second
	}
	if o.BinDir == "" {
		dir, err := FindBinDir()
		if err != nil {
			return o, err
		}
		o.BinDir = dir
	}
	if err := CheckBinDir(o.BinDir); err != nil {
		return o, err
	}
	return o, nil
}

// FindBinDir returns the folder of the cluster's binaries: $FLUXGATE_E2E_BIN,
// else bin/e2e of the repository found by walking up from the working
// directory to go.mod. It does not check the folder's content (see
// [CheckBinDir]).
func FindBinDir() (string, error) {
	if dir := os.Getenv(BinEnv); dir != "" {
		return filepath.Abs(dir)
	}
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("find the e2e binaries: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return filepath.Join(dir, "bin", "e2e"), nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("find the e2e binaries: no go.mod above the working directory; set %s", BinEnv)
		}
		dir = parent
	}
}

// CheckBinDir returns an error naming every binary or stage file of the
// cluster missing from dir, with how to build them.
func CheckBinDir(dir string) error {
	var missing []string
	for _, name := range Binaries {
		if st, err := os.Stat(filepath.Join(dir, name)); err != nil || st.IsDir() {
			missing = append(missing, name)
		}
	}
	if stages, _ := filepath.Glob(filepath.Join(dir, StagesDir, "*.yaml")); len(stages) == 0 {
		missing = append(missing, StagesDir+"/*.yaml")
	}
	if len(missing) > 0 {
		return fmt.Errorf("%w: %s missing from %s: run `make e2e-assets` (or set %s)",
			ErrNoBinaries, strings.Join(missing, ", "), dir, BinEnv)
	}
	return nil
}

// ErrNoBinaries is wrapped by the errors of [Start] and [CheckBinDir] when
// the cluster's binaries are missing.
var ErrNoBinaries = errors.New("e2e binaries missing")
