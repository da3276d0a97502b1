package signals

import (
	"fmt"
	"sort"
	"strings"
	"time"
	"unicode"
	"unicode/utf8"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// Type names a kind of signal.
type Type string

// The signal types, one per source of maintenance evidence.
const (
	// NodeCordoned: nodes matching the selector are cordoned
	// (spec.unschedulable) or carry a configured maintenance taint.
	NodeCordoned Type = "NodeCordoned"
	// ControlPlaneUpgrade: control-plane kubelets or kube-apiserver static
	// pods run different versions.
	ControlPlaneUpgrade Type = "ControlPlaneUpgrade"
	// KuredReboot: kured holds its reboot lock for a node, or a node is
	// annotated as rebooting by kured.
	KuredReboot Type = "KuredReboot"
	// SystemUpgrade: a system-upgrade-controller Plan is applying to nodes.
	SystemUpgrade Type = "SystemUpgrade"
	// NodeMaintenance: a medik8s NodeMaintenance is Running or Succeeded.
	NodeMaintenance Type = "NodeMaintenance"
	// Manual: the fluxgate.dev/maintenance annotation is set on the guard or
	// on a node.
	Manual Type = "Manual"
	// FreezeWindow: a scheduled freeze window is open, or cannot be
	// evaluated and so counts as open.
	FreezeWindow Type = "FreezeWindow"
)

// Well-known keys the detectors read.
const (
	// AnnotationManual declares maintenance by hand on the guard or on a
	// Node; its value is the reason.
	AnnotationManual = "fluxgate.dev/maintenance"
	// AnnotationKuredLock is the annotation on kured's DaemonSet that holds
	// its reboot lock.
	AnnotationKuredLock = "weave.works/kured-node-lock"
	// AnnotationKuredRebootInProgress is set on a Node by kured
	// --annotate-nodes while it reboots the node.
	AnnotationKuredRebootInProgress = "weave.works/kured-reboot-in-progress"
	// LabelControlPlane marks control-plane nodes.
	LabelControlPlane = "node-role.kubernetes.io/control-plane"
	// LabelMaster is the legacy control-plane node label, still set by
	// some distributions next to LabelControlPlane.
	LabelMaster = "node-role.kubernetes.io/master"
	// TaintUnschedulable is the taint the node lifecycle controller adds
	// while spec.unschedulable is true; the usual entry of Nodes.Taints.
	TaintUnschedulable = "node.kubernetes.io/unschedulable"
	// TaintClusterAutoscalerDelete is cluster-autoscaler's scale-down
	// taint; the usual entry of Nodes.IgnoreTaints.
	TaintClusterAutoscalerDelete = "ToBeDeletedByClusterAutoscaler"
	// TaintMedik8sDrain is the taint medik8s node-maintenance-operator adds
	// to the node it drains.
	TaintMedik8sDrain = "medik8s.io/drain"
	// DefaultKuredNamespace and DefaultKuredDaemonSet name kured's
	// DaemonSet when Config.Kured leaves them empty.
	DefaultKuredNamespace = "kube-system"
	// DefaultKuredDaemonSet is kured's DaemonSet name by default.
	DefaultKuredDaemonSet = "kured"
	// APIServerNamespace and APIServerComponentLabel select the
	// kube-apiserver static (mirror) pods.
	APIServerNamespace = "kube-system"
	// APIServerComponentLabel is the label key (with value
	// APIServerComponent) kubeadm puts on kube-apiserver static pods.
	APIServerComponentLabel = "component"
	// APIServerComponent is the value of APIServerComponentLabel.
	APIServerComponent = "kube-apiserver"
	// APIServerContainer is the container whose image tag is compared.
	APIServerContainer = "kube-apiserver"
)

// maxDetail bounds Signal.Detail in bytes; maxNames bounds how many names
// a detail lists before "and N more"; maxReason bounds one quoted reason.
const (
	maxDetail = 256
	maxNames  = 5
	maxReason = 64
)

// Signal is one active reason to pause.
type Signal struct {
	// Type is the kind of signal. Detect returns at most one Signal per
	// Type.
	Type Type
	// Detail says, for humans, which nodes, versions, windows or reasons
	// are involved. It lists at most five names of a kind before
	// "and N more" and is at most 256 bytes long.
	Detail string
	// Objects names what the signal is about, sorted and without
	// duplicates: node names for every type except FreezeWindow, which
	// lists window names. It may be empty (a guard-only Manual signal, an
	// unreadable kured lock).
	Objects []string
}

// Config says which signals to look for. It mirrors the guard's
// spec.signals; the controller maps its CRD type onto it.
type Config struct {
	// Nodes configures NodeCordoned.
	Nodes NodesConfig
	// ControlPlane configures ControlPlaneUpgrade.
	ControlPlane ControlPlaneConfig
	// Kured configures KuredReboot.
	Kured KuredConfig
	// SystemUpgrade configures SystemUpgrade.
	SystemUpgrade SystemUpgradeConfig
	// NodeMaintenance configures NodeMaintenance.
	NodeMaintenance NodeMaintenanceConfig
	// Manual configures Manual.
	Manual ManualConfig
	// Windows are scheduled freeze windows (FreezeWindow); none means no
	// FreezeWindow signal.
	Windows []Window
}

// NodesConfig configures the NodeCordoned signal.
type NodesConfig struct {
	// Enabled turns the signal on.
	Enabled bool
	// Selector limits the nodes looked at; nil means all nodes.
	Selector labels.Selector
	// Taints are taint keys that mark a node as under maintenance, next to
	// spec.unschedulable; callers normally pass TaintUnschedulable (and
	// perhaps TaintMedik8sDrain). Nil means none: only spec.unschedulable.
	Taints []string
	// IgnoreTaints are taint keys of processes that cordon nodes without
	// maintenance, such as TaintClusterAutoscalerDelete. A node carrying
	// one is not counted for spec.unschedulable or TaintUnschedulable; see
	// the package documentation.
	IgnoreTaints []string
}

// ControlPlaneConfig configures the ControlPlaneUpgrade signal.
type ControlPlaneConfig struct {
	// Enabled turns the signal on.
	Enabled bool
}

// KuredConfig configures the KuredReboot signal.
type KuredConfig struct {
	// Enabled turns the signal on.
	Enabled bool
	// Namespace and DaemonSet name kured's DaemonSet; empty means
	// DefaultKuredNamespace and DefaultKuredDaemonSet.
	Namespace, DaemonSet string
}

// SystemUpgradeConfig configures the SystemUpgrade signal.
type SystemUpgradeConfig struct {
	// Enabled turns the signal on.
	Enabled bool
}

// NodeMaintenanceConfig configures the NodeMaintenance signal.
type NodeMaintenanceConfig struct {
	// Enabled turns the signal on.
	Enabled bool
}

// ManualConfig configures the Manual signal.
type ManualConfig struct {
	// Enabled turns the signal on.
	Enabled bool
	// GuardAnnotations are the guard object's annotations; a non-empty
	// AnnotationManual among them declares maintenance.
	GuardAnnotations map[string]string
}

// kuredKey returns the namespace and name of kured's DaemonSet.
func (c KuredConfig) kuredKey() (namespace, name string) {
	namespace, name = c.Namespace, c.DaemonSet
	if namespace == "" {
		namespace = DefaultKuredNamespace
	}
	if name == "" {
		name = DefaultKuredDaemonSet
	}
	return namespace, name
}

// needsNodes says whether any enabled detector reads Snapshot.Nodes.
func (c Config) needsNodes() bool {
	return c.Nodes.Enabled || c.ControlPlane.Enabled || c.Kured.Enabled || c.Manual.Enabled
}

// Snapshot is the cluster state the detectors read.
type Snapshot struct {
	// Nodes are all nodes of the cluster (Load reads them only when a
	// node-based signal is enabled).
	Nodes []corev1.Node
	// APIServerPods are the kube-system pods labelled
	// component=kube-apiserver (kubeadm's static pods).
	APIServerPods []corev1.Pod
	// KuredDaemonSet is kured's DaemonSet; nil when absent.
	KuredDaemonSet *appsv1.DaemonSet
	// Plans are upgrade.cattle.io/v1 Plans; nil when the CRD is absent.
	Plans []unstructured.Unstructured
	// NodeMaintenances are nodemaintenance.medik8s.io/v1beta1
	// NodeMaintenances; nil when the CRD is absent.
	NodeMaintenances []unstructured.Unstructured
	// Now is the time windows and lock TTLs are judged at.
	Now time.Time
}

// Detect returns the active signals, at most one per Type and sorted by
// Type, and problems: sorted, readable sentences about configuration or
// state that could not be read as intended. Every problem has already been
// resolved towards pausing where that applies: a window with a bad cron,
// an unknown time zone or a non-positive duration is reported as a problem
// and as an open FreezeWindow (closed for deploys); an unreadable kured
// lock as a problem and as a held lock. Detect does not modify its inputs.
func Detect(cfg Config, s Snapshot) (active []Signal, problems []string) {
	add := func(sig *Signal, probs []string) {
		if sig != nil {
			sig.Detail = bound(sig.Detail, maxDetail)
			sig.Objects = sortedUnique(sig.Objects)
			active = append(active, *sig)
		}
		problems = append(problems, probs...)
	}
	if cfg.Nodes.Enabled {
		add(detectCordoned(cfg.Nodes, s.Nodes), nil)
	}
	if cfg.ControlPlane.Enabled {
		add(detectControlPlane(s.Nodes, s.APIServerPods), nil)
	}
	if cfg.Kured.Enabled {
		add(detectKured(cfg.Kured, s))
	}
	if cfg.SystemUpgrade.Enabled {
		add(detectPlans(s.Plans))
	}
	if cfg.NodeMaintenance.Enabled {
		add(detectNodeMaintenances(s.NodeMaintenances), nil)
	}
	if cfg.Manual.Enabled {
		add(detectManual(cfg.Manual, s.Nodes), nil)
	}
	if len(cfg.Windows) > 0 {
		add(detectWindows(cfg.Windows, s.Now))
	}
	sort.SliceStable(active, func(i, j int) bool { return active[i].Type < active[j].Type })
	sort.Strings(problems)
	return active, problems
}

// nameList renders names, sorted, listing at most maxNames of them and
// then "and N more".
func nameList(names []string) string {
	names = sortedUnique(names)
	if len(names) <= maxNames {
		return strings.Join(names, ", ")
	}
	return fmt.Sprintf("%s and %d more", strings.Join(names[:maxNames], ", "), len(names)-maxNames)
}

// sortedUnique returns a sorted copy of names without duplicates or empty
// entries; nil when nothing is left.
func sortedUnique(names []string) []string {
	var out []string
	for _, n := range names {
		if n != "" {
			out = append(out, n)
		}
	}
	sort.Strings(out)
	j := 0
	for i, n := range out {
		if i == 0 || n != out[j-1] {
			out[j] = n
			j++
		}
	}
	if j == 0 {
		return nil
	}
	return out[:j]
}

// plural returns "1 node" or "2 nodes".
func plural(n int, word string) string {
	if n == 1 {
		return "1 " + word
	}
	return fmt.Sprintf("%d %ss", n, word)
}

// bound cuts s to at most limit bytes on a rune boundary, ending in "…" when
// it had to cut.
func bound(s string, limit int) string {
	if len(s) <= limit {
		return s
	}
	const ellipsis = "…"
	cut := max(limit-len(ellipsis), 0)
	for cut > 0 && !utf8.RuneStart(s[cut]) {
		cut--
	}
	return s[:cut] + ellipsis
}

// reasonText makes a user-supplied reason safe for a one-line detail:
// control characters become spaces, invisible formatting characters go,
// runs of spaces collapse and the result is bounded.
func reasonText(s string) string {
	s = strings.Map(func(r rune) rune {
		switch {
		case unicode.IsControl(r) || unicode.IsSpace(r):
			return ' '
		case unicode.Is(unicode.Cf, r): // invisible formatting, bidi overrides
			return -1
		}
		return r
	}, s)
	return bound(strings.Join(strings.Fields(s), " "), maxReason)
}
