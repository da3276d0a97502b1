# METADATA
# title: Drain-safe PodDisruptionBudgets
# description: PodDisruptionBudgets must let node drains make progress (at least one disruption allowed) without letting too many pods go at once (at least minHealthyPercent stay healthy), so maintenance neither stalls nor causes downtime.
# custom:
#   id: pdb-drain-safe
#   action: deny
#   kinds: [PodDisruptionBudget, Deployment, StatefulSet]
#   parameters:
#     minHealthyPercent: 80
package fluxgate.policies.pdb_drain_safe

import data.fluxgate.lib.intstr
import data.fluxgate.lib.k8s
import data.fluxgate.lib.pdb
import data.fluxgate.lib.workload

min_healthy_percent := p if {
	p := k8s.parameters.minHealthyPercent
	is_number(p)
} else := intstr.percent(k8s.parameters.minHealthyPercent)

pdb_write if {
	k8s.is_write
	k8s.kind == "PodDisruptionBudget"
}

workload_write if {
	k8s.is_write
	k8s.kind in {"Deployment", "StatefulSet"}
}

# An evaluation pairs a budget with the pods it guards. On a PDB write the
# pods come from the related workloads; on a workload write from the object
# under review (its new replica count) plus the other workloads the same
# budget selects, so a scale-down that stalls drains is caught right there.
evaluations contains ev if {
	pdb_write
	b := pdb.budget(k8s.resource)
	ev := {
		"who": sprintf("%s: %s", [k8s.subject, pdb.text(b)]),
		"budget": b,
		"expected": pdb.expected_pods(k8s.resource, workload.others),
		"workloads": workload_names(pdb.selected(k8s.resource, workload.others)),
		"fix_suffix": "",
	}
}

evaluations contains ev if {
	workload_write
	some p in k8s.related("poddisruptionbudgets")
	pdb.selects(p, k8s.resource)
	b := pdb.budget(p)
	own := workload.expected(k8s.kind, k8s.name, k8s.resource)
	ev := {
		"who": sprintf("%s: %s (%s)", [k8s.subject, k8s.describe("PodDisruptionBudget", p), pdb.text(b)]),
		"budget": b,
		"expected": own + pdb.expected_pods(p, workload.others),
		"workloads": workload_names(array.concat([workload.under_review], pdb.selected(p, workload.others))),
		"fix_suffix": " on the budget",
	}
}

workload_names(ws) := concat(", ", sort({sprintf("%s %s", [w.kind, w.name]) | some w in ws}))

# Budgets that forbid every eviction are reported on their own on a PDB
# write, whether or not any workload is known yet.
deny contains msg if {
	pdb_write
	b := pdb.budget(k8s.resource)
	pdb.always_blocks(b)
	msg := sprintf(
		"%s: spec.%s is %v, so no pod may ever be evicted and every node drain blocks; set spec.maxUnavailable: 1 instead",
		[k8s.subject, b.field, b.value],
	)
}

deny contains msg if {
	some ev in evaluations
	ev.expected >= 1
	not reported_as_static(ev)
	pdb.allowed_disruptions(ev.budget, ev.expected) == 0
	msg := sprintf(
		"%s allows no disruption: %s expected from %s and %v must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1%s instead",
		[
			ev.who, k8s.quantity(ev.expected, "pod"), ev.workloads,
			pdb.desired_healthy(ev.budget, ev.expected), ev.fix_suffix,
		],
	)
}

reported_as_static(ev) if {
	pdb_write
	pdb.always_blocks(ev.budget)
}

deny contains msg if {
	some ev in evaluations
	ev.expected >= 1
	floor_count := pdb.min_healthy(min_healthy_percent, ev.expected)
	desired := pdb.desired_healthy(ev.budget, ev.expected)
	desired < floor_count
	msg := sprintf(
		"%s lets too many pods go at once: %s expected from %s but only %v must stay healthy, below the floor of %v (minHealthyPercent %v); set spec.maxUnavailable: %v or lower, or spec.minAvailable: %v or higher%s",
		[
			ev.who, k8s.quantity(ev.expected, "pod"), ev.workloads, desired, floor_count,
			min_healthy_percent, ev.expected - floor_count, floor_count, ev.fix_suffix,
		],
	)
}

# With the default IfHealthyBudget policy, pods that never become ready
# still count against the budget and can stall a drain indefinitely.
warn contains msg if {
	pdb_write
	k8s.get(k8s.resource, ["spec", "unhealthyPodEvictionPolicy"], null) != "AlwaysAllow"
	msg := sprintf(
		"%s: spec.unhealthyPodEvictionPolicy is not AlwaysAllow, so crash-looping pods can block node drains; set spec.unhealthyPodEvictionPolicy: AlwaysAllow",
		[k8s.subject],
	)
}
