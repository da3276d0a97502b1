package drainplan

import (
	"context"
	"fmt"
	"slices"
	"strings"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Report is a drain plan: each node judged now, and the sequence.
type Report struct {
	// Semantics is the drain modelled ([Semantics]).
	Semantics string `json:"semantics"`
	// Nodes are the requested nodes, each judged on the budgets as they
	// are now.
	Nodes    []Node   `json:"nodes"`
	Sequence Sequence `json:"sequence"`
}

// Drainable says whether every node of the report can be drained now.
func (r *Report) Drainable() bool {
	for _, n := range r.Nodes {
		if !n.Drainable {
			return false
		}
	}
	return true
}

// Plan reads the nodes, pods and PodDisruptionBudgets of the cluster
// through c and judges a drain of each of nodes (every node, by name, when
// none is given), then simulates draining them one at a time. A node that
// does not exist is an error.
func Plan(ctx context.Context, c client.Reader, nodes []string, o Options) (*Report, error) {
	var nodeObjs []corev1.Node
	if len(nodes) == 0 {
		var list corev1.NodeList
		if err := c.List(ctx, &list); err != nil {
			return nil, fmt.Errorf("list nodes: %w", err)
		}
		nodeObjs = list.Items
		slices.SortFunc(nodeObjs, func(a, b corev1.Node) int { return strings.Compare(a.Name, b.Name) })
	} else {
		for _, name := range nodes {
			var n corev1.Node
			if err := c.Get(ctx, types.NamespacedName{Name: name}, &n); err != nil {
				if apierrors.IsNotFound(err) {
					return nil, fmt.Errorf("node %s: not found", name)
				}
				return nil, fmt.Errorf("get node %s: %w", name, err)
			}
			nodeObjs = append(nodeObjs, n)
		}
	}
	var pods corev1.PodList
	if err := c.List(ctx, &pods); err != nil {
		return nil, fmt.Errorf("list pods: %w", err)
	}
	var pdbs policyv1.PodDisruptionBudgetList
	if err := c.List(ctx, &pdbs); err != nil {
		return nil, fmt.Errorf("list PodDisruptionBudgets: %w", err)
	}
	return Analyze(nodeObjs, pods.Items, pdbs.Items, o), nil
}

// Analyze is Plan on objects at hand: nodes are the nodes to drain, in
// the order to try them, pods and pdbs those of the cluster.
func Analyze(nodes []corev1.Node, pods []corev1.Pod, pdbs []policyv1.PodDisruptionBudget, o Options) *Report {
	r := &Report{Semantics: Semantics, Nodes: []Node{}}
	s := newState(pods, pdbs)
	names := make([]string, 0, len(nodes))
	for _, n := range nodes {
		judged := s.evaluate(n.Name, o.NoReschedule)
		judged.Unschedulable = n.Spec.Unschedulable
		r.Nodes = append(r.Nodes, judged)
		names = append(names, n.Name)
	}
	r.Sequence = Simulate(names, pods, pdbs, o)
	return r
}
