package drainplan

import (
	"slices"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
)

// Options tune the model.
type Options struct {
	// NoReschedule assumes that evicted pods do not come back ready during
	// the maintenance: a budget's disruptions used up on a node, or in an
	// earlier step, refuse later evictions for good. By default evicted
	// pods are assumed rescheduled elsewhere and ready again, within a
	// drain (kubectl retries) and before the next step.
	NoReschedule bool
}

// Assumption says in a sentence what the options assume.
func (o Options) Assumption() string {
	if o.NoReschedule {
		return "evicted pods do not come back during the maintenance: each healthy pod evicted uses up one disruption of its budget for every later step"
	}
	return "evicted pods are rescheduled elsewhere and ready again before the next eviction retry and the next step; evicted not-ready pods come back ready"
}

// Sequence is the simulation of draining nodes one at a time.
type Sequence struct {
	Assumption string `json:"assumption"`
	// Order lists the nodes that can be drained, in the order found.
	Order []string `json:"order"`
	// Blocked lists the nodes no step could drain.
	Blocked []string `json:"blocked,omitempty"`
	Steps   []Step   `json:"steps"`
}

// Step is one node of the sequence, judged on the budgets as the earlier
// steps left them.
type Step struct {
	Step      int       `json:"step"`
	Node      string    `json:"node"`
	Drainable bool      `json:"drainable"`
	Blockers  []Blocker `json:"blockers,omitempty"`
	// Budgets are the budgets selecting pods of the node, with the
	// estimate of their allowance before and after the step.
	Budgets []BudgetStep `json:"budgets,omitempty"`
}

// BudgetStep is one budget's estimate in a step.
type BudgetStep struct {
	Budget string `json:"budget"`
	// AllowedBefore is disruptionsAllowed when the step starts.
	AllowedBefore int32 `json:"allowedBefore"`
	// Healthy is the number of ready pods of the node it selects: the
	// disruptions the step needs from it.
	Healthy int32 `json:"healthy"`
	// AllowedAfter is disruptionsAllowed when the next step starts (equal
	// to AllowedBefore for a blocked step).
	AllowedAfter int32 `json:"allowedAfter"`
}

// Simulate drains nodes one at a time, greedily: at each step the first
// remaining node, in the order given, whose drain can complete on the
// budgets as earlier steps left them; when none can, every remaining node
// is a blocked step, judged on that same state. See the package
// documentation for the model.
func Simulate(nodes []string, pods []corev1.Pod, pdbs []policyv1.PodDisruptionBudget, o Options) Sequence {
	s := newState(pods, pdbs)
	seq := Sequence{Assumption: o.Assumption(), Order: []string{}, Steps: []Step{}}
	remaining := slices.Clone(nodes)
	for len(remaining) > 0 {
		picked := -1
		var judged Node
		for i, n := range remaining {
			if judged = s.evaluate(n, o.NoReschedule); judged.Drainable {
				picked = i
				break
			}
		}
		if picked < 0 {
			for _, n := range remaining {
				judged := s.evaluate(n, o.NoReschedule)
				seq.Steps = append(seq.Steps, Step{
					Step: len(seq.Steps) + 1, Node: n, Blockers: judged.Blockers, Budgets: s.budgetSteps(judged, false, o),
				})
				seq.Blocked = append(seq.Blocked, n)
			}
			break
		}
		seq.Steps = append(seq.Steps, Step{
			Step: len(seq.Steps) + 1, Node: judged.Name, Drainable: true, Budgets: s.budgetSteps(judged, true, o),
		})
		seq.Order = append(seq.Order, judged.Name)
		remaining = slices.Delete(remaining, picked, picked+1)
	}
	return seq
}

// budgetSteps reports the budgets of a judged node and, when apply is
// set, changes their simulated status as draining the node does.
func (s *state) budgetSteps(n Node, apply bool, o Options) []BudgetStep {
	var out []BudgetStep
	for _, b := range s.budgets {
		var healthy, notReady int32
		var keys []string
		for _, p := range n.Pods {
			if p.Drain == DrainIgnore || p.Drain == DrainSkip || !slices.Contains(p.Budgets, b.pdb.Name) || p.Namespace != b.pdb.Namespace {
				continue
			}
			keys = append(keys, p.Key())
			if p.Phase != string(corev1.PodRunning) {
				continue // pending and finished pods count for nothing
			}
			if p.Ready {
				healthy++
			} else {
				notReady++
			}
		}
		if keys == nil {
			continue
		}
		st := BudgetStep{Budget: b.key(), AllowedBefore: b.allowed, Healthy: healthy, AllowedAfter: b.allowed}
		if apply {
			for _, k := range keys {
				s.gone[k] = true
				delete(b.notReady, k)
			}
			if o.NoReschedule {
				if b.consistent {
					b.setCurrent(b.current - healthy)
				} else {
					b.current -= healthy
					b.allowed = max(0, b.allowed-healthy)
				}
			} else {
				// Healthy pods come back healthy; not-ready ones come
				// back ready.
				b.setCurrent(b.current + notReady)
			}
			st.AllowedAfter = b.allowed
		}
		out = append(out, st)
	}
	return out
}
