// Package drainplan says, before a maintenance window, whether each node
// can be drained now, which pods would hold a drain and why, and in which
// order nodes can be drained one at a time.
//
// # The drain it models
//
// A drain is `kubectl drain --ignore-daemonsets --delete-emptydir-data`
// without --force ([Semantics]): kubectl picks the pods of the node as its
// drain package (k8s.io/kubectl/pkg/drain) does, and sends each to the
// policy/v1 Eviction API, retrying evictions refused with 429:
//
//   - mirror (static) pods are skipped, DaemonSet pods are left on the node
//     (--ignore-daemonsets), finished pods (Succeeded, Failed) are deleted;
//   - pods with emptyDir volumes are evicted and their data lost
//     (--delete-emptydir-data): a warning, not a blocker;
//   - a running pod that declares no controller makes kubectl refuse the
//     whole drain before any eviction (it needs --force): a blocker.
//
// Each pod kubectl would evict is then judged by the rules of the API
// server's eviction subresource (k8s.io/kubernetes
// pkg/registry/core/pod/storage/eviction.go, v1.36):
//
//   - Pending, finished and terminating pods are deleted without looking at
//     budgets;
//   - a pod selected by more than one PodDisruptionBudget of its namespace
//     is refused with HTTP 500 ("This pod has more than one
//     PodDisruptionBudget, which the eviction subresource does not
//     support");
//   - a pod that is not ready passes when its budget has
//     unhealthyPodEvictionPolicy AlwaysAllow, or (IfHealthyBudget, the
//     default) when the budget has currentHealthy >= desiredHealthy > 0;
//   - otherwise the budget must have status.observedGeneration >=
//     generation (else 429, not yet processed), disruptionsAllowed >= 0
//     and at most 2000 disruptedPods (else 403), and disruptionsAllowed >
//     0 (else 429: the budget allows no disruption). Each eviction that
//     passes uses up one disruption.
//
// A budget that allows d > 0 disruptions and selects more than d healthy
// pods on the node lets d go at once; the others are refused with 429
// until their replacements are ready elsewhere, and kubectl retries them.
// Those pods [Waits]: by default (replacements become ready) the drain
// completes; with [Options.NoReschedule] they are refused for good.
//
// # The sequence
//
// [Sequence] drains the requested nodes one at a time, greedily: at each
// step the first remaining node (in the order given) that can be drained
// under the simulated budgets is drained next; when none can, the rest are
// reported blocked with what blocks each. After a step, by default, every
// pod evicted from the node is assumed rescheduled elsewhere and ready
// before the next step: a budget's healthy count is back where it was, and
// not-ready pods that were evicted come back ready (which can unblock a
// budget). With [Options.NoReschedule] evicted pods are assumed not to come
// back during the maintenance (a full cluster, slow starts): each healthy
// pod evicted lowers its budget's currentHealthy and disruptionsAllowed for
// every later step. Where pods land, capacity, affinity and volumes are not
// modelled.
//
// # Why not kubectl's drain package
//
// k8s.io/kubectl/pkg/drain is already in the module graph (through Helm),
// but its filters are unexported methods of drain.Helper that list pods and
// look up DaemonSets through a live kubernetes.Interface, and it does not
// look at budgets at all (it evicts and retries). [Blockers] must run on
// objects already at hand (the maintenance guard's cache), so the filters
// are re-implemented here with kubectl's messages; a test compares them
// with drain.Helper.GetPodsForDeletion on the same pods. One difference:
// kubectl refuses a DaemonSet pod whose DaemonSet is gone; here every pod
// a DaemonSet controls is ignored.
package drainplan
