# METADATA
# title: PodDisruptionBudget coverage
# description: A Deployment or StatefulSet with two or more expected replicas has a PodDisruptionBudget selecting its pods, so node drains evict them gradually instead of all at once.
# custom:
#   id: pdb-coverage
#   action: deny
#   kinds: [Deployment, StatefulSet]
#   parameters: {}
package fluxgate.policies.pdb_coverage

import data.fluxgate.lib.k8s
import data.fluxgate.lib.pdb
import data.fluxgate.lib.selector
import data.fluxgate.lib.workload

# A single replica cannot be protected by a budget without blocking drains;
# replicas-ha covers that case. The facts about the object under review are
# complete rules of the lib, computed once per evaluation.
expected := workload.resource_expected

# covered comes before expected: with a budget in place, the usual case,
# the HPA lookup behind expected is never needed.
uncovered if {
	k8s.is_write
	k8s.kind in {"Deployment", "StatefulSet"}
	not covered
	expected >= 2
}

covered if {
	some p in k8s.related("poddisruptionbudgets")
	pdb.selects_resource(p)
}

finding := sprintf(
	"%s: %v expected pods but no PodDisruptionBudget selects pods labelled %s; add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow so node drains evict at most one pod at a time",
	[k8s.subject, expected, selector.describe(k8s.resource_pod_labels)],
)

# input.context.complete == true is k8s.complete, as a ref the rule index
# can check.
deny contains finding if {
	input.context.complete == true
	uncovered
}

# At admission Flux applies Deployments and StatefulSets before their
# PodDisruptionBudgets, so a missing budget is only a hint there.
warn contains msg if {
	uncovered
	not k8s.complete
	msg := sprintf("%s (the PodDisruptionBudget may still arrive later in the same apply)", [finding])
}
