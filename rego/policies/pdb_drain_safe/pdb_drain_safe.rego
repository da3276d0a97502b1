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
	p := input.parameters.minHealthyPercent
	is_number(p)
} else := intstr.percent(input.parameters.minHealthyPercent)

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
#
# An evaluation holds only the facts the checks need: "pdb" is the related
# budget on a workload write (null on a PDB write), "selected" the other
# workloads it selects and "desired" pdb.desired_healthy, computed once for
# both checks (an evaluation without it could fail no check). The texts
# of a message (who, workload names) are only built when a check fails.
evaluations contains ev if {
	pdb_write
	b := pdb.budget(k8s.resource)
	ws := pdb.selected(k8s.resource, workload.others)
	expected := pdb.expected_of(ws)
	ev := {
		"pdb": null,
		"budget": b,
		"expected": expected,
		"desired": pdb.desired_healthy(b, expected),
		"selected": ws,
	}
}

evaluations contains ev if {
	workload_write
	some p in pdb.resource_budgets
	b := pdb.budget(p)
	ws := pdb.selected(p, workload.others)
	expected := workload.resource_expected + pdb.expected_of(ws)
	ev := {
		"pdb": p,
		"budget": b,
		"expected": expected,
		"desired": pdb.desired_healthy(b, expected),
		"selected": ws,
	}
}

# who names the budget (and, on a workload write, the object under review).
who(ev) := sprintf("%s: %s", [k8s.subject, pdb.text(ev.budget)]) if ev.pdb == null

else := sprintf("%s: %s (%s)", [k8s.subject, k8s.describe("PodDisruptionBudget", ev.pdb), pdb.text(ev.budget)])

# workload_names lists the workloads whose pods the budget guards.
workload_names(ev) := names(ev.selected) if ev.pdb == null

else := names(array.concat([workload.under_review], ev.selected))

names(ws) := concat(", ", sort({sprintf("%s %s", [w.kind, w.name]) | some w in ws}))

fix_suffix(ev) := "" if ev.pdb == null

else := " on the budget"

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

# The budget allows no disruption: pdb.allowed_disruptions == 0, written
# out with the desired count the evaluation already holds.
deny contains msg if {
	some ev in evaluations
	ev.expected >= 1
	max([0, ev.expected - ev.desired]) == 0
	not reported_as_static(ev)
	msg := sprintf(
		"%s allows no disruption: %s expected from %s and %v must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1%s instead",
		[
			who(ev), k8s.quantity(ev.expected, "pod"), workload_names(ev),
			ev.desired, fix_suffix(ev),
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
	ev.desired < floor_count
	msg := sprintf(
		"%s lets too many pods go at once: %s expected from %s but only %v must stay healthy, below the floor of %v (minHealthyPercent %v); set spec.maxUnavailable: %v or lower, or spec.minAvailable: %v or higher%s",
		[
			who(ev), k8s.quantity(ev.expected, "pod"), workload_names(ev), ev.desired, floor_count,
			min_healthy_percent, ev.expected - floor_count, floor_count, fix_suffix(ev),
		],
	)
}

# With the default IfHealthyBudget policy, pods that never become ready
# still count against the budget and can stall a drain indefinitely.
warn contains msg if {
	pdb_write
	object.get(k8s.resource, ["spec", "unhealthyPodEvictionPolicy"], null) != "AlwaysAllow"
	msg := sprintf(
		"%s: spec.unhealthyPodEvictionPolicy is not AlwaysAllow, so crash-looping pods can block node drains; set spec.unhealthyPodEvictionPolicy: AlwaysAllow",
		[k8s.subject],
	)
}

# ------------------------------------------------------- overlapping budgets

# The eviction API refuses to evict a pod that more than one budget
# selects ("This pod has more than one PodDisruptionBudget, which the
# eviction subresource does not support"), whatever the budgets allow, so
# a drain of any node running such a pod never completes. Both writes are
# judged: the budget that creates the overlap, and a workload whose labels
# fall under two budgets.
overlap_advice := "the eviction API refuses to evict a pod that more than one budget selects, so every drain of a node running one blocks; keep exactly one budget per pod: delete the extra budget or narrow its selector"

budget_names(ps) := concat(", ", sort({k8s.describe("PodDisruptionBudget", p) | some p in ps}))

# On a PDB write, each workload the budget selects that another budget
# selects too.
deny contains msg if {
	pdb_write
	some w in pdb.selected(k8s.resource, workload.others)
	workload.expected(w.kind, w.name, w.object) >= 1
	others := [p |
		some p in k8s.related("poddisruptionbudgets")
		pdb.selects(p, w.object)
	]
	count(others) > 0
	msg := sprintf(
		"%s selects the pods of %s %s, which %s also %s; %s",
		[k8s.subject, w.kind, w.name, budget_names(others), select_verb(others), overlap_advice],
	)
}

select_verb(ps) := "selects" if count(ps) == 1

else := "select"

# On a workload write, every budget selecting its pods.
deny contains msg if {
	workload_write
	workload.resource_expected >= 1
	count(pdb.resource_budgets) > 1
	msg := sprintf(
		"%s: its pods are selected by %d PodDisruptionBudgets (%s); %s",
		[k8s.subject, count(pdb.resource_budgets), budget_names(pdb.resource_budgets), overlap_advice],
	)
}
