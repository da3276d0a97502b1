# METADATA
# title: Rollout strategy
# description: Workloads roll out without dropping below their ready capacity, so maintenance causes no downtime. Deployments and DaemonSets start a new pod before removing an old one; StatefulSets, which cannot surge, replace one pod at a time, and so do DaemonSets bound to host ports or the host network. Deployments that cannot run old and new pods side by side (their pods mount a PersistentVolumeClaim, or a single replica declares Recreate as a single writer) keep Recreate, with a warning naming the trade-off (for a single writer, the replicas-ha warning); one whose pods mount a claim and that surges is warned that the rollout stalls unless the claim is ReadWriteMany.
# custom:
#   id: rollout-strategy
#   action: deny
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters:
#     maxSurge: 25%
#     maxUnavailable: 0
#     daemonSetMaxSurge: 1
package fluxgate.policies.rollout_strategy

import data.fluxgate.lib.intstr
import data.fluxgate.lib.k8s
import data.fluxgate.lib.workload

# The object under review and the parameters are read through refs rooted
# at input, and derived values are complete rules, computed at most once
# per evaluation (see lib/k8s.rego). Conditions written as a ref compared
# with a constant let OPA's rule index skip a rule without evaluating it.

# A workload without a spec is malformed; the API server rejects it, so
# it is not judged (and patches could not be applied to it).
has_spec if is_object(input.request.object.spec)

# zero_reason explains the default parameter; a team that configures a
# non-zero budget gets a neutral reason instead.
zero_reason := "so no ready pod is removed before its replacement is ready" if {
	intstr.is_zero(input.parameters.maxUnavailable)
} else := "to match the configured rollout budget"

# ---------------------------------------------------------------- Deployment

deployment if {
	k8s.is_write
	k8s.kind == "Deployment"
	has_spec
}

# A Deployment whose pods mount a PersistentVolumeClaim may not be able to
# run an old and a new pod at once: a ReadWriteOncePod claim never can, a
# ReadWriteOnce claim only on the same node (elsewhere the new pod waits
# on a Multi-Attach error and, with maxUnavailable 0, the rollout stalls).
# The claim's access mode is not part of the Deployment: a claim counts
# unless its PersistentVolumeClaim is among the related objects and
# ReadWriteMany. For these, Recreate (or maxSurge 0 with maxUnavailable 1)
# is the only strategy guaranteed to finish, and fluxgate neither denies
# nor rewrites it.
claim_bound if count(workload.unshared_claims) > 0

surging_deployment if {
	deployment
	not claim_bound
}

# A ref through a missing or wrongly typed spec.strategy is undefined, and
# the defaults below are what the API server fills in.
strategy_type := t if {
	t := input.request.object.spec.strategy.type
	t != null
} else := "RollingUpdate"

rolling := r if {
	r := input.request.object.spec.strategy.rollingUpdate
	is_object(r)
} else := {}

# The API server fills an unset strategy with 25%/25% before any webhook
# sees it, so "25%" and unset both count as defaulted.
max_unavailable := v if {
	v := input.request.object.spec.strategy.rollingUpdate.maxUnavailable
	v != null
} else := "25%"

max_surge := v if {
	v := input.request.object.spec.strategy.rollingUpdate.maxSurge
	v != null
} else := "25%"

surge_is_zero if intstr.is_zero(input.request.object.spec.strategy.rollingUpdate.maxSurge)

default_rolling_update := {
	"maxSurge": input.parameters.maxSurge,
	"maxUnavailable": input.parameters.maxUnavailable,
}

# Each patch rule checks that the parent it writes into is an object before
# object.get looks into it; deployment implies that spec is one.
patch contains {"op": "add", "path": "/spec/strategy", "value": value} if {
	surging_deployment
	object.get(input.request.object.spec, "strategy", null) in {null, false}
	value := {"type": "RollingUpdate", "rollingUpdate": default_rolling_update}
}

patch contains {"op": "add", "path": "/spec/strategy/rollingUpdate", "value": default_rolling_update} if {
	surging_deployment
	is_object(input.request.object.spec.strategy)
	strategy_type == "RollingUpdate"
	object.get(input.request.object.spec.strategy, "rollingUpdate", null) in {null, false}
}

patch contains {"op": "add", "path": "/spec/strategy/rollingUpdate/maxSurge", "value": input.parameters.maxSurge} if {
	surging_deployment
	is_object(input.request.object.spec.strategy.rollingUpdate)
	strategy_type == "RollingUpdate"
	object.get(input.request.object.spec.strategy.rollingUpdate, "maxSurge", null) in {null, false}
}

# An explicit maxSurge of 0 with maxUnavailable 0 is rejected by the API
# server, so the defaulted maxUnavailable is left for the deny rule then.
patch contains {"op": "add", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": input.parameters.maxUnavailable} if {
	surging_deployment
	is_object(input.request.object.spec.strategy.rollingUpdate)
	strategy_type == "RollingUpdate"
	object.get(input.request.object.spec.strategy.rollingUpdate, "maxUnavailable", null) in {null, false}
	not surge_is_zero
}

patch contains {"op": "replace", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": input.parameters.maxUnavailable} if {
	input.request.object.spec.strategy.rollingUpdate.maxUnavailable == "25%"
	surging_deployment
	strategy_type == "RollingUpdate"
	not intstr.same("25%", input.parameters.maxUnavailable)
	not surge_is_zero
}

# A single replica that declares Recreate is a single writer by design
# (external-dns, Flux's source-controller, anything that must never run
# twice): Recreate is the one strategy that guarantees no overlap, and
# with one replica the default RollingUpdate would surge a second copy.
# It is accepted here; replicas-ha names the trade-off (a rollout or a
# drain stops its only pod) and the way out. Several replicas already run
# side by side, so Recreate buys them nothing but downtime; an HPA makes
# the count variable, so it is not single either.
single_writer if {
	workload.resource_replicas <= 1
	not workload.resource_autoscaled
}

deny contains msg if {
	input.request.object.spec.strategy.type == "Recreate"
	surging_deployment
	not single_writer
	msg := sprintf(
		"%s: spec.strategy.type is Recreate, which stops every pod before starting new ones; use type: RollingUpdate with rollingUpdate.maxSurge: %v and rollingUpdate.maxUnavailable: %v",
		[k8s.subject, input.parameters.maxSurge, input.parameters.maxUnavailable],
	)
}

deny contains msg if {
	surging_deployment
	strategy_type == "RollingUpdate"
	not intstr.same(max_unavailable, input.parameters.maxUnavailable)
	msg := sprintf(
		"%s: spec.strategy.rollingUpdate.maxUnavailable is %s; set it to %v %s",
		[k8s.subject, k8s.shown(rolling, "maxUnavailable", "25%"), input.parameters.maxUnavailable, zero_reason],
	)
}

deny contains msg if {
	deployment
	strategy_type == "RollingUpdate"
	intstr.is_zero(max_surge)
	intstr.is_zero(max_unavailable)
	msg := sprintf(
		"%s: spec.strategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxSurge: %v",
		[k8s.subject, input.parameters.maxSurge],
	)
}

# The trade-off stays visible: every rollout of such a Deployment is an
# outage, and the advice says how to avoid it where the storage allows.
warn contains msg if {
	input.request.object.spec.strategy.type == "Recreate"
	deployment
	claim_bound
	msg := sprintf(
		"%s: spec.strategy.type is Recreate, so every rollout stops all pods before starting new ones; accepted because its pods mount PersistentVolumeClaim %s, which old and new pods cannot share unless it is ReadWriteMany. If the claim is ReadWriteMany, use type: RollingUpdate with maxSurge: %v and maxUnavailable: %v; to run more than one replica without downtime, use a StatefulSet with volumeClaimTemplates",
		[k8s.subject, concat(", ", workload.unshared_claims), input.parameters.maxSurge, input.parameters.maxUnavailable],
	)
}

# Surging starts each new pod beside an old one. With a shared claim that
# is not ReadWriteMany, a new pod scheduled to another node waits on a
# Multi-Attach error; a single replica (where 25% surges one pod and lets
# none go) then never finishes its rollout. Nothing is rewritten, as the
# claim may be ReadWriteMany where fluxgate cannot see it, but the risk
# is named.
warn contains msg if {
	deployment
	claim_bound
	strategy_type == "RollingUpdate"
	not intstr.is_zero(max_surge)
	msg := sprintf(
		"%s: its pods mount PersistentVolumeClaim %s and a rollout starts each new pod beside an old one (maxSurge: %v); unless the claim is ReadWriteMany, a new pod on another node cannot attach it (Multi-Attach) and the rollout stalls. Set maxSurge: 0 and maxUnavailable: 1, or type: Recreate, so that the old pod releases the claim first; if the claim is ReadWriteMany, keep the surge (fluxgate did not find the PersistentVolumeClaim to read its access mode)",
		[k8s.subject, concat(", ", workload.unshared_claims), max_surge],
	)
}

# --------------------------------------------------------------- StatefulSet

statefulset if {
	k8s.is_write
	k8s.kind == "StatefulSet"
	has_spec
}

update_type := t if {
	t := input.request.object.spec.updateStrategy.type
	t != null
} else := "RollingUpdate"

update_rolling := r if {
	r := input.request.object.spec.updateStrategy.rollingUpdate
	is_object(r)
} else := {}

# A StatefulSet cannot surge (pod names are unique), so one pod at a time
# is the closest it gets to zero downtime. Percentages are denied outright
# because they grow with the replica count.
too_many_at_once(v) if {
	is_number(v)
	v > 1
}

too_many_at_once(v) if is_string(v)

deny contains msg if {
	v := input.request.object.spec.updateStrategy.rollingUpdate.maxUnavailable
	statefulset
	update_type == "RollingUpdate"
	too_many_at_once(v)
	msg := sprintf(
		"%s: spec.updateStrategy.rollingUpdate.maxUnavailable is %v; remove it or set it to 1: a StatefulSet cannot surge, so replacing one pod at a time keeps the others serving",
		[k8s.subject, v],
	)
}

warn contains msg if {
	input.request.object.spec.updateStrategy.type == "OnDelete"
	k8s.kind in {"StatefulSet", "DaemonSet"}
	k8s.is_write
	has_spec
	msg := sprintf(
		"%s: spec.updateStrategy.type is OnDelete, so template changes only reach pods that someone deletes by hand; use RollingUpdate",
		[k8s.subject],
	)
}

# ----------------------------------------------------------------- DaemonSet

rolling_daemonset if {
	k8s.is_write
	k8s.kind == "DaemonSet"
	has_spec
	update_type == "RollingUpdate"
}

# The API server defaults a DaemonSet to maxUnavailable 1, maxSurge 0.
ds_max_unavailable := v if {
	v := input.request.object.spec.updateStrategy.rollingUpdate.maxUnavailable
	v != null
} else := 1

ds_max_surge := v if {
	v := input.request.object.spec.updateStrategy.rollingUpdate.maxSurge
	v != null
} else := 0

host_ports := k8s.resource_host_ports

host_network if input.request.object.spec.template.spec.hostNetwork == true

# Two pods cannot bind the same hostPort on one node, so the surge pod of a
# DaemonSet with host ports would never start. With hostNetwork every port
# the process opens is a host port, declared or not, so the same holds.
uses_host_ports if count(host_ports) > 0

uses_host_ports if host_network

# host_binding names what ties a DaemonSet's pods to the node, for messages.
host_binding := "it runs with hostNetwork: true, so every port it opens is a host port" if {
	host_network
} else := sprintf("container %q uses hostPort %v", [host_ports[0].container, host_ports[0].port])

surging_daemonset if {
	rolling_daemonset
	not uses_host_ports
}

ds_defaulted if {
	intstr.same(ds_max_unavailable, 1)
	intstr.is_zero(ds_max_surge)
}

ds_rolling_update := {"maxSurge": input.parameters.daemonSetMaxSurge, "maxUnavailable": 0}

patch contains {"op": "add", "path": "/spec/updateStrategy", "value": value} if {
	surging_daemonset
	object.get(input.request.object.spec, "updateStrategy", null) in {null, false}
	value := {"type": "RollingUpdate", "rollingUpdate": ds_rolling_update}
}

patch contains {"op": "add", "path": "/spec/updateStrategy/rollingUpdate", "value": ds_rolling_update} if {
	surging_daemonset
	is_object(input.request.object.spec.updateStrategy)
	object.get(input.request.object.spec.updateStrategy, "rollingUpdate", null) in {null, false}
}

patch contains {"op": op, "path": sprintf("/spec/updateStrategy/rollingUpdate/%s", [field]), "value": value} if {
	surging_daemonset
	is_object(input.request.object.spec.updateStrategy.rollingUpdate)
	ds_defaulted
	some field, value in ds_rolling_update
	not ds_has(field, value)
	op := k8s.add_or_replace(update_rolling, field)
}

# A helper, because negating a call with an undefined argument would fail
# the whole rule instead of succeeding.
ds_has(field, value) if {
	v := update_rolling[field]
	v != null
	intstr.same(v, value)
}

deny contains msg if {
	surging_daemonset
	not intstr.is_zero(ds_max_unavailable)
	msg := sprintf(
		"%s: spec.updateStrategy.rollingUpdate.maxUnavailable is %s; set it to 0 with maxSurge: %v so each node starts the new pod before stopping the old one",
		[k8s.subject, k8s.shown(update_rolling, "maxUnavailable", 1), input.parameters.daemonSetMaxSurge],
	)
}

deny contains msg if {
	surging_daemonset
	intstr.is_zero(ds_max_surge)
	intstr.is_zero(ds_max_unavailable)
	msg := sprintf(
		"%s: spec.updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxSurge: %v",
		[k8s.subject, input.parameters.daemonSetMaxSurge],
	)
}

deny contains msg if {
	rolling_daemonset
	uses_host_ports
	not intstr.is_zero(ds_max_surge)
	msg := sprintf(
		"%s: spec.updateStrategy.rollingUpdate.maxSurge is %v, but %s: a surge pod cannot start beside the old one on the same node, and the rollout stalls; set maxSurge: 0 and maxUnavailable: 1 (or more)",
		[k8s.subject, ds_max_surge, host_binding],
	)
}

deny contains msg if {
	rolling_daemonset
	uses_host_ports
	intstr.is_zero(ds_max_surge)
	intstr.is_zero(ds_max_unavailable)
	msg := sprintf(
		"%s: spec.updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxUnavailable: 1 (or more): it cannot surge because %s",
		[k8s.subject, host_binding],
	)
}
