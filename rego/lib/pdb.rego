package fluxgate.lib.pdb

import data.fluxgate.lib.intstr
import data.fluxgate.lib.k8s
import data.fluxgate.lib.selector
import data.fluxgate.lib.workload

# The arithmetic mirrors the disruption controller with every pod healthy,
# so findings match what a node drain would actually experience.

selects(pdb, obj) if selector.matches(k8s.get(pdb, ["spec", "selector"], null), k8s.pod_labels(obj))

# selects_resource is selects(pdb, k8s.resource) with the labels of the
# object under review computed once.
selects_resource(pdb) if {
	is_object(pdb)
	selector.matches(object.get(pdb, ["spec", "selector"], null), k8s.resource_pod_labels)
}

# resource_budgets are the related budgets that select the pods of the
# object under review, computed once per evaluation.
resource_budgets := [p |
	some p in k8s.related("poddisruptionbudgets")
	selects_resource(p)
]

# budget is the field the PDB relies on. maxUnavailable wins when both are
# set, as in the disruption controller (the API server rejects that anyway).
budget(pdb) := {"field": "maxUnavailable", "value": v} if {
	v := pdb.spec.maxUnavailable
	v != null
} else := {"field": "minAvailable", "value": v} if {
	v := pdb.spec.minAvailable
	v != null
}

# text renders a budget the way it is written in YAML.
text(b) := sprintf("spec.%s: %v", [b.field, b.value])

desired_healthy(b, expected) := max([0, expected - intstr.scaled(b.value, expected)]) if b.field == "maxUnavailable"

desired_healthy(b, expected) := intstr.scaled(b.value, expected) if b.field == "minAvailable"

allowed_disruptions(b, expected) := max([0, expected - desired_healthy(b, expected)])

# always_blocks holds for budgets that forbid every eviction whatever the
# replica count.
always_blocks(b) if {
	b.field == "maxUnavailable"
	intstr.is_zero(b.value)
}

always_blocks(b) if {
	b.field == "minAvailable"
	intstr.percent(b.value) >= 100
}

# min_healthy is the floor of pods that must survive a drain. Rounding down
# keeps a budget allowing one disruption acceptable for small workloads;
# the cap at expected - 1 keeps it acceptable even at 100 percent, so the
# floor never demands a budget that blocks drains.
min_healthy(percent, expected) := max([0, min([floor((percent * expected) / 100), expected - 1])])

# selected lists the workloads (shaped like workload.others) a PDB selects.
selected(pdb, workloads) := [w |
	some w in workloads
	selects(pdb, w.object)
]

# expected_pods sums the expected pods of the workloads a PDB selects;
# workloads whose replica count is malformed are left out.
expected_pods(pdb, workloads) := expected_of(selected(pdb, workloads))

# expected_of is expected_pods for an already selected list.
expected_of(ws) := sum([n |
	some w in ws
	n := workload.expected(w.kind, w.name, w.object)
])
