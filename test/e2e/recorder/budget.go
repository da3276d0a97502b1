package recorder

import (
	"fmt"
	"sort"

	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// floorOf returns how many pods a PDB keeps available out of desired,
// rounding as the disruption controller does (percentages up):
// minAvailable, or desired - maxUnavailable; 0 without either.
func floorOf(p *policyv1.PodDisruptionBudget, desired int32) (int32, error) {
	switch {
	case p.Spec.MinAvailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(desired), true)
		if err != nil {
			return 0, fmt.Errorf("pdb %s/%s minAvailable: %w", p.Namespace, p.Name, err)
		}
		return int32(v), nil
	case p.Spec.MaxUnavailable != nil:
		v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(desired), true)
		if err != nil {
			return 0, fmt.Errorf("pdb %s/%s maxUnavailable: %w", p.Namespace, p.Name, err)
		}
		return max(desired-int32(v), 0), nil
	}
	return 0, nil
}

// selects reports whether a PDB covers a Deployment's pods: same
// namespace, and its selector (nil selects nothing, empty everything)
// matches the pod template's labels.
func selects(p *policyv1.PodDisruptionBudget, d deployment) bool {
	if p.Namespace != d.namespace || p.Spec.Selector == nil {
		return false
	}
	sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
	return err == nil && sel.Matches(d.pods)
}

// budget is the floor a Deployment's PDBs set for a number of desired
// replicas: the highest among them, and the PDB setting it ("" with none).
type budget func(desired int32) (floor int32, pdb string)

// budgetFor gathers the PDBs, as last seen, that select a Deployment;
// r.mu is held.
func (r *Recorder) budgetFor(d deployment) budget {
	var pdbs []*policyv1.PodDisruptionBudget
	for _, p := range r.pdbs {
		if selects(p, d) {
			pdbs = append(pdbs, p)
		}
	}
	sort.Slice(pdbs, func(i, j int) bool { return pdbs[i].Name < pdbs[j].Name })
	return func(desired int32) (int32, string) {
		var floor int32
		var name string
		for _, p := range pdbs {
			f, err := floorOf(p, desired)
			if err != nil {
				continue // the API server validates both fields
			}
			if name == "" || f > floor {
				floor, name = f, p.Namespace+"/"+p.Name
			}
		}
		return floor, name
	}
}
