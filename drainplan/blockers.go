package drainplan

import (
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
)

// Semantics is the drain command this package models.
const Semantics = "kubectl drain --ignore-daemonsets --delete-emptydir-data (without --force)"

// maxDisruptedPods is the API server's MaxDisruptedPodSize: past it every
// eviction under the budget is refused.
const maxDisruptedPods = 2000

// DrainAction is what kubectl drain does with a pod of the node.
type DrainAction string

// What kubectl drain does with a pod.
const (
	// DrainEvict: the pod is sent to the Eviction API.
	DrainEvict DrainAction = "Evict"
	// DrainIgnore: a DaemonSet pod, left on the node (--ignore-daemonsets).
	DrainIgnore DrainAction = "Ignore"
	// DrainSkip: a mirror (static) pod, which the API cannot evict.
	DrainSkip DrainAction = "Skip"
	// DrainRefuse: kubectl refuses the whole drain because of this pod
	// (no controller: --force would delete it).
	DrainRefuse DrainAction = "Refuse"
)

// Eviction is what the Eviction API answers for a pod.
type Eviction string

// What the Eviction API answers.
const (
	// EvictionAllowed: the pod is evicted (or deleted) now.
	EvictionAllowed Eviction = "Allowed"
	// EvictionWaits: refused with 429 until the replacements of pods
	// evicted before it are ready; kubectl retries, and by default the
	// drain completes.
	EvictionWaits Eviction = "Waits"
	// EvictionRefused: refused, and retrying does not help until a budget
	// changes (its pods, its spec or its status).
	EvictionRefused Eviction = "Refused"
)

// Reason names why a pod holds a drain.
type Reason string

// Why a pod holds a drain.
const (
	// ReasonBudgetAllowsNoDisruption: its budget has disruptionsAllowed 0
	// (429).
	ReasonBudgetAllowsNoDisruption Reason = "BudgetAllowsNoDisruption"
	// ReasonBudgetUsedUp: its budget allows disruptions now, but they are
	// used up by pods evicted before it, on this node or in earlier steps
	// of a sequence, and evicted pods are assumed not to come back
	// (Options.NoReschedule).
	ReasonBudgetUsedUp Reason = "BudgetUsedUp"
	// ReasonBudgetNotObserved: the disruption controller has not processed
	// the budget's latest generation (429).
	ReasonBudgetNotObserved Reason = "BudgetNotObserved"
	// ReasonBudgetInvalid: negative disruptionsAllowed, or more than 2000
	// disruptedPods not yet confirmed (403).
	ReasonBudgetInvalid Reason = "BudgetInvalid"
	// ReasonMultipleBudgets: more than one budget selects the pod (500).
	ReasonMultipleBudgets Reason = "MultipleBudgets"
	// ReasonNoController: a running pod without a controller; kubectl
	// drain refuses without --force.
	ReasonNoController Reason = "NoController"
)

// Who refuses.
const (
	// RefusedByEvictionAPI: the API server's eviction subresource.
	RefusedByEvictionAPI = "EvictionAPI"
	// RefusedByKubectl: kubectl drain, before any eviction.
	RefusedByKubectl = "kubectl drain"
)

// Pod is one pod of a node and what a drain does with it.
type Pod struct {
	Namespace string `json:"namespace"`
	Name      string `json:"name"`
	Phase     string `json:"phase"`
	Ready     bool   `json:"ready"`
	// Budgets are the names of the PodDisruptionBudgets of its namespace
	// that select it.
	Budgets []string `json:"budgets,omitempty"`
	// LocalStorage is set for a pod with an emptyDir volume: the drain
	// deletes the data (--delete-emptydir-data).
	LocalStorage bool `json:"localStorage,omitempty"`
	// Drain is what kubectl drain does with it; DrainReason says why when
	// it is not DrainEvict.
	Drain       DrainAction `json:"drain"`
	DrainReason string      `json:"drainReason,omitempty"`
	// Eviction is what the Eviction API answers (empty for ignored and
	// skipped pods), for a refused pod with the HTTP Code and the
	// Reason and Message the API server gives.
	Eviction Eviction `json:"eviction,omitempty"`
	Code     int32    `json:"code,omitempty"`
	Reason   Reason   `json:"reason,omitempty"`
	Message  string   `json:"message,omitempty"`
}

// Key is namespace/name.
func (p Pod) Key() string { return p.Namespace + "/" + p.Name }

// Blocks says whether the pod keeps the drain from completing.
func (p Pod) Blocks() bool { return p.Drain == DrainRefuse || p.Eviction == EvictionRefused }

// Budget is a PodDisruptionBudget as a blocker names it.
type Budget struct {
	Namespace          string `json:"namespace"`
	Name               string `json:"name"`
	DisruptionsAllowed int32  `json:"disruptionsAllowed"`
	CurrentHealthy     int32  `json:"currentHealthy"`
	DesiredHealthy     int32  `json:"desiredHealthy"`
	ExpectedPods       int32  `json:"expectedPods"`
	// UnhealthyPodEvictionPolicy is IfHealthyBudget (the default) or
	// AlwaysAllow.
	UnhealthyPodEvictionPolicy string `json:"unhealthyPodEvictionPolicy"`
	// NotReady are the pods it selects, on any node, that are not ready.
	NotReady []string `json:"notReady,omitempty"`
}

// Key is namespace/name.
func (b Budget) Key() string { return b.Namespace + "/" + b.Name }

// Blocker is one reason a node's drain cannot complete, with the pods of
// the node it holds.
type Blocker struct {
	Reason Reason `json:"reason"`
	// RefusedBy is RefusedByEvictionAPI or RefusedByKubectl.
	RefusedBy string `json:"refusedBy"`
	// Code is the HTTP status of the Eviction API's refusal.
	Code int32 `json:"code,omitempty"`
	// Pods are namespace/name of the pods on the node held.
	Pods []string `json:"pods"`
	// Budget is the budget that refuses, for the budget reasons.
	Budget *Budget `json:"budget,omitempty"`
	// Budgets are namespace/name of the budgets selecting the pods, for
	// ReasonMultipleBudgets.
	Budgets []string `json:"budgets,omitempty"`
	// Message says it in a sentence.
	Message string `json:"message"`
}

// Lasting says whether the blocker holds the drain whatever the pods do
// next: a budget that allows no disruption even with every pod healthy
// (desired healthy at least the expected pods), pods under two budgets,
// pods without a controller. The others (a budget used up by evictions
// whose replacements are not ready yet, a budget not yet observed) are a
// drain waiting, as every drain does for a moment.
func (b Blocker) Lasting() bool {
	if b.Budget == nil {
		return true
	}
	return b.Reason == ReasonBudgetAllowsNoDisruption && b.Budget.DesiredHealthy >= b.Budget.ExpectedPods
}

// Node is what a drain of one node does now.
type Node struct {
	Name          string `json:"name"`
	Unschedulable bool   `json:"unschedulable"`
	// Drainable says whether the drain can complete now.
	Drainable bool      `json:"drainable"`
	Blockers  []Blocker `json:"blockers,omitempty"`
	Warnings  []string  `json:"warnings,omitempty"`
	Pods      []Pod     `json:"pods"`
}

// Blockers judges a drain of node now. pods are the pods of the cluster
// (at least of the namespaces with pods on node: not-ready pods of a
// budget are named wherever they run) and pdbs its PodDisruptionBudgets.
// Evicted pods are assumed replaced by ready ones while the drain runs, as
// kubectl retries: a budget allowing one disruption lets the node's pods
// under it go one after another.
func Blockers(node string, pods []corev1.Pod, pdbs []policyv1.PodDisruptionBudget) Node {
	return newState(pods, pdbs).evaluate(node, false)
}

// budgetState is a budget and its (simulated) status.
type budgetState struct {
	pdb      *policyv1.PodDisruptionBudget
	selector labels.Selector // nil: an invalid selector, matching no pod
	allowed  int32
	current  int32
	// consistent: allowed follows the disruption controller's rule
	// max(0, current-desired), so it can be recomputed in a simulation.
	consistent bool
	notReady   map[string]bool // namespace/name
}

func (b *budgetState) key() string { return b.pdb.Namespace + "/" + b.pdb.Name }

func (b *budgetState) selects(pod *corev1.Pod) bool {
	return b.selector != nil && pod.Namespace == b.pdb.Namespace && b.selector.Matches(labels.Set(pod.Labels))
}

func (b *budgetState) desired() int32 { return b.pdb.Status.DesiredHealthy }

// setCurrent changes the healthy count and, where the status follows the
// controller's rule, the disruptions allowed with it.
func (b *budgetState) setCurrent(current int32) {
	b.current = current
	if b.consistent {
		b.allowed = max(0, current-b.desired())
	}
}

func (b *budgetState) policy() string {
	if p := b.pdb.Spec.UnhealthyPodEvictionPolicy; p != nil {
		return string(*p)
	}
	return string(policyv1.IfHealthyBudget)
}

func (b *budgetState) view() *Budget {
	nr := make([]string, 0, len(b.notReady))
	for k := range b.notReady {
		nr = append(nr, k)
	}
	slices.Sort(nr)
	return &Budget{
		Namespace: b.pdb.Namespace, Name: b.pdb.Name,
		DisruptionsAllowed: b.allowed, CurrentHealthy: b.current,
		DesiredHealthy: b.desired(), ExpectedPods: b.pdb.Status.ExpectedPods,
		UnhealthyPodEvictionPolicy: b.policy(), NotReady: nr,
	}
}

// state is the cluster as a plan sees it: pods by node and budgets with
// their (simulated) status.
type state struct {
	pods    []corev1.Pod
	byNode  map[string][]int // indexes into pods, sorted by namespace/name
	budgets []*budgetState   // sorted by namespace/name
	gone    map[string]bool  // pods evicted in earlier steps
}

func newState(pods []corev1.Pod, pdbs []policyv1.PodDisruptionBudget) *state {
	s := &state{pods: pods, byNode: map[string][]int{}, gone: map[string]bool{}}
	for i := range pods {
		if n := pods[i].Spec.NodeName; n != "" {
			s.byNode[n] = append(s.byNode[n], i)
		}
	}
	for _, idx := range s.byNode {
		slices.SortFunc(idx, func(a, b int) int {
			return strings.Compare(pods[a].Namespace+"/"+pods[a].Name, pods[b].Namespace+"/"+pods[b].Name)
		})
	}
	for i := range pdbs {
		pdb := &pdbs[i]
		b := &budgetState{
			pdb: pdb, allowed: pdb.Status.DisruptionsAllowed, current: pdb.Status.CurrentHealthy,
			notReady: map[string]bool{},
		}
		b.consistent = b.allowed == max(0, b.current-pdb.Status.DesiredHealthy)
		// As the API server: an invalid selector matches no pod; a nil
		// selector (labels.Nothing) none either; an empty one every pod.
		if sel, err := metav1.LabelSelectorAsSelector(pdb.Spec.Selector); err == nil {
			b.selector = sel
		}
		for j := range pods {
			p := &pods[j]
			if b.selects(p) && !finished(p) && p.DeletionTimestamp == nil && !podReady(p) {
				b.notReady[p.Namespace+"/"+p.Name] = true
			}
		}
		s.budgets = append(s.budgets, b)
	}
	slices.SortFunc(s.budgets, func(a, b *budgetState) int { return strings.Compare(a.key(), b.key()) })
	return s
}

// evaluate judges a drain of node in the current state. noReschedule:
// evicted pods are not replaced while the drain runs, so a budget's
// disruptions used up on this node refuse the rest for good.
func (s *state) evaluate(node string, noReschedule bool) Node {
	out := Node{Name: node, Pods: []Pod{}}
	used := map[*budgetState]int32{}
	for _, i := range s.byNode[node] {
		pod := &s.pods[i]
		if s.gone[pod.Namespace+"/"+pod.Name] {
			continue
		}
		var budgets []*budgetState
		for _, b := range s.budgets {
			if b.selects(pod) {
				budgets = append(budgets, b)
			}
		}
		p := Pod{Namespace: pod.Namespace, Name: pod.Name, Phase: string(pod.Status.Phase), Ready: podReady(pod)}
		for _, b := range budgets {
			p.Budgets = append(p.Budgets, b.pdb.Name)
		}
		p.Drain, p.DrainReason = drainAction(pod)
		p.LocalStorage = p.Drain != DrainIgnore && p.Drain != DrainSkip && !finished(pod) && hasLocalStorage(pod)
		if p.LocalStorage {
			out.Warnings = append(out.Warnings, fmt.Sprintf("%s: emptyDir data is deleted (--delete-emptydir-data; without it kubectl refuses the drain)", p.Key()))
		}
		if p.Drain == DrainEvict || p.Drain == DrainRefuse {
			judgeEviction(&p, pod, budgets, used, noReschedule)
		}
		out.Pods = append(out.Pods, p)
	}
	out.Blockers = blockersOf(out.Pods, s.budgets)
	out.Drainable = len(out.Blockers) == 0
	return out
}

// drainAction is what kubectl drain's filters do with a pod (filters.go:
// daemonSetFilter, mirrorPodFilter, localStorageFilter, unreplicatedFilter
// in that order) with --ignore-daemonsets --delete-emptydir-data.
func drainAction(pod *corev1.Pod) (DrainAction, string) {
	if ref := metav1.GetControllerOf(pod); ref != nil && ref.Kind == "DaemonSet" && ref.APIVersion == "apps/v1" && !finished(pod) {
		return DrainIgnore, "ignoring DaemonSet-managed Pods"
	}
	if _, ok := pod.Annotations[corev1.MirrorPodAnnotationKey]; ok {
		return DrainSkip, "mirror (static) pod"
	}
	if metav1.GetControllerOf(pod) == nil && !finished(pod) {
		return DrainRefuse, "Pods that declare no controller (use --force to override)"
	}
	return DrainEvict, ""
}

// judgeEviction fills in what the Eviction API answers for pod, as
// EvictionREST.Create does; used counts the disruptions used so far on
// the node per budget.
func judgeEviction(p *Pod, pod *corev1.Pod, budgets []*budgetState, used map[*budgetState]int32, noReschedule bool) {
	refuse := func(code int32, r Reason, msg string) {
		p.Eviction, p.Code, p.Reason, p.Message = EvictionRefused, code, r, msg
	}
	switch {
	case finished(pod) || pod.Status.Phase == corev1.PodPending || pod.DeletionTimestamp != nil:
		p.Eviction = EvictionAllowed // canIgnorePDB
		return
	case len(budgets) > 1:
		refuse(500, ReasonMultipleBudgets, "This pod has more than one PodDisruptionBudget, which the eviction subresource does not support.")
		return
	case len(budgets) == 0:
		p.Eviction = EvictionAllowed
		return
	}
	b := budgets[0]
	if !podReady(pod) {
		if b.policy() == string(policyv1.AlwaysAllow) {
			p.Eviction = EvictionAllowed
			return
		}
		if b.current >= b.desired() && b.desired() > 0 {
			p.Eviction = EvictionAllowed
			return
		}
	}
	// checkAndDecrement
	pdb := b.pdb
	switch {
	case pdb.Status.ObservedGeneration < pdb.Generation:
		refuse(429, ReasonBudgetNotObserved, fmt.Sprintf("The disruption budget %s is still being processed by the server.", pdb.Name))
		return
	case b.allowed < 0:
		refuse(403, ReasonBudgetInvalid, fmt.Sprintf("poddisruptionbudget %q is forbidden: pdb disruptions allowed is negative", pdb.Name))
		return
	case len(pdb.Status.DisruptedPods) > maxDisruptedPods:
		refuse(403, ReasonBudgetInvalid, fmt.Sprintf("poddisruptionbudget %q is forbidden: DisruptedPods map too big - too many evictions not confirmed by PDB controller", pdb.Name))
		return
	case b.allowed == 0 && pdb.Status.DisruptionsAllowed > 0:
		refuse(429, ReasonBudgetUsedUp, fmt.Sprintf("The disruption budget %s allows %d disruptions now, used up by the earlier steps", pdb.Name, pdb.Status.DisruptionsAllowed))
		return
	case b.allowed == 0:
		refuse(429, ReasonBudgetAllowsNoDisruption, noDisruptionMessage(b))
		return
	}
	used[b]++
	switch {
	case used[b] <= b.allowed:
		p.Eviction = EvictionAllowed
	case noReschedule:
		refuse(429, ReasonBudgetUsedUp, fmt.Sprintf("The disruption budget %s allows %d disruptions, used up by pods evicted before this one, and evicted pods are assumed not to come back", pdb.Name, b.allowed))
	default:
		p.Eviction = EvictionWaits
		p.Message = fmt.Sprintf("The disruption budget %s allows %d disruptions at a time: evicted once earlier pods' replacements are ready", pdb.Name, b.allowed)
	}
}

// noDisruptionMessage is the API server's cause for a 429 on a budget
// allowing no disruption.
func noDisruptionMessage(b *budgetState) string {
	pdb := b.pdb
	var cond *metav1.Condition
	for i := range pdb.Status.Conditions {
		if pdb.Status.Conditions[i].Type == policyv1.DisruptionAllowedCondition {
			cond = &pdb.Status.Conditions[i]
		}
	}
	switch {
	case cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != "" && cond.Reason == policyv1.SyncFailedReason:
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently because it failed sync: %s", pdb.Name, cond.Message)
	case b.current <= b.desired():
		return fmt.Sprintf("The disruption budget %s needs %d healthy pods and has %d currently", pdb.Name, b.desired(), b.current)
	case cond != nil && cond.Status == metav1.ConditionFalse && cond.Message != "":
		return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently (%s): %s", pdb.Name, cond.Reason, cond.Message)
	}
	return fmt.Sprintf("The disruption budget %s does not allow evicting pods currently", pdb.Name)
}

// blockersOf groups the pods that hold a drain by reason and budget.
func blockersOf(pods []Pod, budgets []*budgetState) []Blocker {
	byName := map[string]*budgetState{}
	for _, b := range budgets {
		byName[b.key()] = b
	}
	var out []Blocker
	index := map[string]int{}
	add := func(key string, mk func() Blocker, pod string) {
		i, ok := index[key]
		if !ok {
			i = len(out)
			index[key] = i
			out = append(out, mk())
		}
		out[i].Pods = append(out[i].Pods, pod)
	}
	for _, p := range pods {
		if p.Drain == DrainRefuse {
			add(string(ReasonNoController), func() Blocker {
				return Blocker{Reason: ReasonNoController, RefusedBy: RefusedByKubectl,
					Message: "kubectl drain refuses to start: Pods that declare no controller (use --force to override)"}
			}, p.Key())
		}
		if p.Eviction != EvictionRefused {
			continue
		}
		switch p.Reason {
		case ReasonMultipleBudgets:
			names := make([]string, len(p.Budgets))
			for i, n := range p.Budgets {
				names[i] = p.Namespace + "/" + n
			}
			add(string(p.Reason)+"|"+strings.Join(names, ","), func() Blocker {
				return Blocker{Reason: p.Reason, RefusedBy: RefusedByEvictionAPI, Code: p.Code, Budgets: names,
					Message: fmt.Sprintf("pods selected by %d budgets (%s): %s", len(names), strings.Join(names, ", "), p.Message)}
			}, p.Key())
		default:
			b := byName[p.Namespace+"/"+p.Budgets[0]]
			add(string(p.Reason)+"|"+b.key(), func() Blocker {
				return Blocker{Reason: p.Reason, RefusedBy: RefusedByEvictionAPI, Code: p.Code, Budget: b.view(), Message: p.Message}
			}, p.Key())
		}
	}
	return out
}

func finished(pod *corev1.Pod) bool {
	return pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed
}

// podReady is the API server's IsPodReady: condition Ready is True.
func podReady(pod *corev1.Pod) bool {
	for _, c := range pod.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func hasLocalStorage(pod *corev1.Pod) bool {
	for _, v := range pod.Spec.Volumes {
		if v.EmptyDir != nil {
			return true
		}
	}
	return false
}
