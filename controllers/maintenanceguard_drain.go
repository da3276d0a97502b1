package controllers

import (
	"context"
	"fmt"
	"slices"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/drainplan"
	"github.com/fluxgate/fluxgate/maintenance/signals"
)

const (
	// maxDrainNodes bounds the cordoned nodes whose pods one reconcile
	// reads: each is one list of pods from the API server.
	maxDrainNodes = 20
	// drainRecheck is how soon a guard looks again at a blocked drain:
	// budgets change through their status, which the guard does not
	// watch.
	drainRecheck = 15 * time.Second
	// drainPatience is how long a budget that would allow a disruption
	// with every pod healthy may refuse one before it counts as blocking:
	// in every drain a budget allowing one disruption refuses the next
	// eviction until the replacement of the last one is ready, and that
	// wait is no blocker.
	drainPatience = 2 * time.Minute
)

// reportDrains sets the DrainBlocked condition from the nodes the
// NodeCordoned signal names: True, naming each node, the pods no eviction
// can move now and why (package drainplan: a budget allowing no
// disruption with its counts, pods under two budgets, pods without a
// controller), while such pods remain; False once every cordoned node can
// be drained. When the blockers change, one Warning Event on the guard and
// one on each blocking PodDisruptionBudget name them. It returns whether a
// drain is blocked, so that the guard looks again soon.
func (r *MaintenanceGuardReconciler) reportDrains(ctx context.Context, g *v1alpha1.MaintenanceGuard, active []signals.Signal, remote client.Reader) (bool, error) {
	budgets, podReader := client.Reader(r.Client), r.APIReader
	if remote != nil {
		budgets, podReader = remote, remote
	}
	var nodes []string
	for _, s := range active {
		if s.Type == signals.NodeCordoned {
			nodes = s.Objects
		}
	}
	if len(nodes) == 0 {
		r.drainWaits.set(g.Name, nil)
		apimeta.SetStatusCondition(&g.Status.Conditions, metav1.Condition{
			Type: v1alpha1.DrainBlockedCondition, Status: metav1.ConditionFalse, ObservedGeneration: g.Generation,
			Reason: v1alpha1.NoCordonedNodesReason, Message: "no node is cordoned",
		})
		return false, nil
	}
	checked := nodes
	if len(checked) > maxDrainNodes {
		checked = checked[:maxDrainNodes]
	}
	var pdbs policyv1.PodDisruptionBudgetList
	if err := budgets.List(ctx, &pdbs); err != nil {
		return false, fmt.Errorf("list PodDisruptionBudgets: %w", err)
	}
	var blocked []drainplan.Node
	waiting := false
	seen := map[string]time.Time{}
	now := r.Now()
	for _, node := range checked {
		var pods corev1.PodList
		if err := podReader.List(ctx, &pods, client.MatchingFields{"spec.nodeName": node}); err != nil {
			return false, fmt.Errorf("list the pods of node %s: %w", node, err)
		}
		n := drainplan.Blockers(node, pods.Items, pdbs.Items)
		if n.Drainable {
			continue
		}
		// A budget that refuses now but would allow a disruption with every
		// pod healthy is a drain waiting for replacements; it blocks once it
		// refused for drainPatience.
		var kept []drainplan.Blocker
		for _, b := range n.Blockers {
			key := node + "/" + string(b.Reason) + "/" + strings.Join(b.Pods, ",")
			since, ok := r.drainWaits.since(g.Name, key)
			if !ok {
				since = now
			}
			seen[key] = since
			if b.Lasting() || now.Sub(since) >= drainPatience {
				kept = append(kept, b)
			} else {
				waiting = true
			}
		}
		if len(kept) > 0 {
			n.Blockers = kept
			blocked = append(blocked, n)
		}
	}
	r.drainWaits.set(g.Name, seen)
	cond := metav1.Condition{Type: v1alpha1.DrainBlockedCondition, ObservedGeneration: g.Generation}
	if len(blocked) == 0 {
		cond.Status, cond.Reason = metav1.ConditionFalse, v1alpha1.DrainsCanCompleteReason
		cond.Message = fmt.Sprintf("every cordoned node can be drained now (%d checked)", len(checked))
		if waiting {
			cond.Message = fmt.Sprintf("every cordoned node can be drained (%d checked); some evictions wait for replacement pods to become ready", len(checked))
		}
		apimeta.SetStatusCondition(&g.Status.Conditions, cond)
		return waiting, nil
	}
	var parts []string
	for _, n := range blocked {
		for _, b := range n.Blockers {
			parts = append(parts, fmt.Sprintf("node %s: %s", n.Name, b.String()))
		}
	}
	cond.Status, cond.Reason = metav1.ConditionTrue, v1alpha1.EvictionRefusedReason
	cond.Message = truncate(strings.Join(parts, "; "), 2048)
	previous := apimeta.FindStatusCondition(g.Status.Conditions, v1alpha1.DrainBlockedCondition)
	changed := previous == nil || previous.Status != metav1.ConditionTrue || previous.Message != cond.Message
	apimeta.SetStatusCondition(&g.Status.Conditions, cond)
	if changed {
		r.event(g, corev1.EventTypeWarning, v1alpha1.DrainBlockedCondition, "%s", cond.Message)
		for _, n := range blocked {
			for _, b := range n.Blockers {
				if b.Budget == nil {
					continue
				}
				i := slices.IndexFunc(pdbs.Items, func(p policyv1.PodDisruptionBudget) bool {
					return p.Namespace == b.Budget.Namespace && p.Name == b.Budget.Name
				})
				if i >= 0 {
					r.event(&pdbs.Items[i], corev1.EventTypeWarning, v1alpha1.DrainBlockedCondition,
						"holds the drain of node %s (MaintenanceGuard %s): %s", n.Name, g.Name, b.String())
				}
			}
		}
	}
	return true, nil
}

// drainWaits remembers, per guard, since when each non-structural blocker
// has been seen, so that a drain waiting for replacement pods is told
// from one that is stuck. It lives in memory: after a restart the
// patience starts again.
type drainWaits struct {
	mu    sync.Mutex
	first map[string]map[string]time.Time
}

func (w *drainWaits) since(guard, key string) (time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	t, ok := w.first[guard][key]
	return t, ok
}

// set replaces what guard has seen: blockers gone are forgotten.
func (w *drainWaits) set(guard string, seen map[string]time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.first == nil {
		w.first = map[string]map[string]time.Time{}
	}
	if len(seen) == 0 {
		delete(w.first, guard)
		return
	}
	w.first[guard] = seen
}
