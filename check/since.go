package check

import "github.com/fluxgate/fluxgate/policy"

// findingKey identifies a finding across two revisions: where it applies
// (cluster, origin) and about what (kind, namespace, name), by which policy
// and saying what. The file and line are left out, so that moving a
// manifest does not make its findings new.
type findingKey struct {
	cluster, origin, kind, namespace, name, policy, message string
}

func keyOfResult(r *Result) findingKey {
	return findingKey{r.Cluster, r.Origin, r.Kind, r.Namespace, r.Name, r.Policy, r.Message}
}

// Since returns the report of the findings of r that base does not have
// (as many times as r has them more often than base), in r's order, with
// the summary counting only those; Objects stays r's.
func (r *Report) Since(base *Report) *Report {
	seen := map[findingKey]int{}
	for i := range base.Results {
		seen[keyOfResult(&base.Results[i])]++
	}
	out := &Report{Results: []Result{}, Policies: r.Policies}
	out.Summary.Objects = r.Summary.Objects
	for i := range r.Results {
		res := r.Results[i]
		k := keyOfResult(&res)
		if seen[k] > 0 {
			seen[k]--
			continue
		}
		out.Results = append(out.Results, res)
		out.Summary.count(policy.Action(res.Action))
	}
	return out
}
