# METADATA
# title: Change freeze during maintenance
# description: While a maintenance guard holds Flux paused, changes to the pod template of Flux-managed workloads are denied, so nothing rolls out while nodes drain or the control plane upgrades. Off by default; an emergency change is exempted per object with fluxgate.dev/exempt and a reason.
# custom:
#   id: change-freeze
#   action: off
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters: {}
package fluxgate.policies.change_freeze

import data.fluxgate.lib.k8s

deny contains msg if {
	input.maintenance.active == true
	input.request.operation == "UPDATE"
	flux_managed
	not released
	object.get(input.request.object, ["spec", "template"], null) != object.get(input.request.oldObject, ["spec", "template"], null)
	msg := sprintf(
		"%s: spec.template changes are frozen while maintenance is active (%s); Flux applies them once it ends. For an emergency change, annotate the object with fluxgate.dev/exempt: change-freeze and fluxgate.dev/exempt-reason",
		[k8s.subject, reasons],
	)
}

labels := l if {
	l := object.get(input.request.object, ["metadata", "labels"], {})
	is_object(l)
} else := {}

# Flux labels every object it applies with its owner; objects applied by
# hand are not frozen here (their owners are not paused either).
# A Kustomization or HelmRelease a guard lets through for one reconcile
# (fluxgate.dev/reconcile-once) applies what it must: a security fix that
# cannot wait for the end of the maintenance.
released if {
	some r in input.maintenance.releases
	r.kind == "Kustomization"
	labels["kustomize.toolkit.fluxcd.io/name"] == r.name
	labels["kustomize.toolkit.fluxcd.io/namespace"] == r.namespace
}

released if {
	some r in input.maintenance.releases
	r.kind == "HelmRelease"
	labels["helm.toolkit.fluxcd.io/name"] == r.name
	labels["helm.toolkit.fluxcd.io/namespace"] == r.namespace
}

flux_managed if labels["kustomize.toolkit.fluxcd.io/name"]

flux_managed if labels["helm.toolkit.fluxcd.io/name"]

reasons := r if {
	parts := [sprintf("guard %s: %s", [g.name, concat(", ", g.signals)]) |
		some g in input.maintenance.guards
		is_array(g.signals)
	]
	count(parts) > 0
	r := concat("; ", parts)
} else := "a maintenance guard is active"
