// Package signals detects that a cluster is under maintenance or upgrading,
// so that fluxgate's maintenance guard can pause Flux while it is.
//
// The package has two halves. [Detect] is pure: it reads a [Snapshot] of
// cluster state and a [Config] and returns the active [Signal]s, one per
// [Type] at most, sorted by Type, with bounded human-readable details.
// [Load] fills a Snapshot through a controller-runtime client.Reader
// (normally the manager's cache), reading optional sources only when they
// are enabled and treating a missing CRD or object as absent.
// [NextTransition] tells the controller when the freeze-window state next
// changes, so it can requeue exactly then.
//
// # Signals
//
// NodeCordoned: a node matching Config.Nodes.Selector is under maintenance
// when it has spec.unschedulable set or carries a taint whose key is listed
// in Config.Nodes.Taints. A taint whose key is in Config.Nodes.IgnoreTaints
// never counts, and a node that carries such a taint is presumed to be
// cordoned by whoever set it (cluster-autoscaler taints a node
// ToBeDeletedByClusterAutoscaler and, with --cordon-node-before-terminating,
// also cordons it): on that node spec.unschedulable and the
// node.kubernetes.io/unschedulable taint (which the node lifecycle
// controller mirrors from spec.unschedulable) are not counted either. Any
// other listed taint on that node (for example medik8s.io/drain) still
// counts. The kured node annotation is not a NodeCordoned signal; it belongs
// to KuredReboot.
//
// ControlPlaneUpgrade: nodes labelled node-role.kubernetes.io/control-plane
// (or the legacy node-role.kubernetes.io/master) report different
// status.nodeInfo.kubeletVersion values, or the kube-apiserver containers of
// Snapshot.APIServerPods run images with different tags. Nodes that report
// no kubelet version yet and pods without a kube-apiserver container are
// left out. One control-plane node, or equal versions, is no signal.
//
// KuredReboot: the kured DaemonSet carries a weave.works/kured-node-lock
// annotation naming a node. Both of kured's formats are understood: the
// single lock {"nodeID":...,"created":...,"TTL":...} and the multi-owner
// lock {"maxOwners":N,"locks":[...]} used with --concurrency > 1. An absent
// annotation, null, an empty nodeID or an empty lock list is free; a lock
// that recorded a positive TTL and is older than it is free too, as kured
// itself treats it. An annotation that is not valid JSON counts as held
// (the detail and a problem say so): it fails towards pausing. A node
// annotated weave.works/kured-reboot-in-progress (kured --annotate-nodes)
// is also a KuredReboot signal. Neither looks at the node selector.
//
// SystemUpgrade: an upgrade.cattle.io/v1 Plan whose status.applying lists
// nodes.
//
// NodeMaintenance: a nodemaintenance.medik8s.io/v1beta1 NodeMaintenance in
// phase Running (draining) or Succeeded (drained: the node stays in
// maintenance until the NodeMaintenance is deleted). Failed (the operator
// gave up and uncordoned) and an empty phase are not maintenance.
//
// Manual: a fluxgate.dev/maintenance annotation that is not blank, on the
// guard (Config.Manual.GuardAnnotations) or on any node. The value is the
// reason and any non-blank value counts, including "false": remove the
// annotation to end it. Nodes are looked at regardless of the node
// selector: the annotation is an explicit request.
//
// FreezeWindow: scheduled change freezes, modelled on Argo CD deny sync
// windows and Flux Operator schedules; see [Window]. A window that cannot be
// evaluated (bad cron, unknown time zone, non-positive duration) fails
// closed: it is reported as a problem and counts as open, that is, closed
// for deploys, for as long as it stays broken.
//
// # Problems
//
// Detect also returns problems: readable, sorted sentences about
// configuration or cluster state that it could not read as intended (a
// broken window, an unreadable kured lock). Each problem has already been
// resolved towards pausing where that applies; the caller should surface
// problems (status condition, Event), not act on them.
package signals
