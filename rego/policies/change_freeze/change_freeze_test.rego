package fluxgate.policies.change_freeze_test

import data.fluxgate.policies.change_freeze

workload(image, labels) := {
	"apiVersion": "apps/v1",
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "shop", "labels": labels},
	"spec": {"replicas": 3, "template": {"spec": {"containers": [{"name": "web", "image": image}]}}},
}

flux := {"kustomize.toolkit.fluxcd.io/name": "apps", "kustomize.toolkit.fluxcd.io/namespace": "flux-system"}

review(old, new, active) := {
	"request": {
		"operation": "UPDATE",
		"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
		"namespace": "shop",
		"name": "web",
		"object": new,
		"oldObject": old,
	},
	"parameters": {},
	"maintenance": {"active": active, "guards": [{"name": "default", "phase": "Paused", "signals": ["NodeCordoned"]}]},
}

test_template_change_during_maintenance_is_denied if {
	change_freeze.deny == {"Deployment shop/web: spec.template changes are frozen while maintenance is active (guard default: NodeCordoned); Flux applies them once it ends. For an emergency change, annotate the object with fluxgate.dev/exempt: change-freeze and fluxgate.dev/exempt-reason"} with input as review(workload("web:1", flux), workload("web:2", flux), true)
}

test_helm_managed_is_frozen_too if {
	helm := {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "shop"}
	count(change_freeze.deny) == 1 with input as review(workload("web:1", helm), workload("web:2", helm), true)
}

test_no_maintenance_no_freeze if {
	count(change_freeze.deny) == 0 with input as review(workload("web:1", flux), workload("web:2", flux), false)
}

test_scale_without_template_change_is_allowed if {
	scaled := json.patch(workload("web:1", flux), [{"op": "replace", "path": "/spec/replicas", "value": 5}])
	count(change_freeze.deny) == 0 with input as review(workload("web:1", flux), scaled, true)
}

test_objects_flux_does_not_manage_are_not_frozen if {
	count(change_freeze.deny) == 0 with input as review(workload("web:1", {}), workload("web:2", {}), true)
}

test_create_is_not_frozen if {
	doc := json.patch(review(null, workload("web:2", flux), true), [{"op": "replace", "path": "/request/operation", "value": "CREATE"}])
	count(change_freeze.deny) == 0 with input as doc
}

test_missing_maintenance_input_means_no_freeze if {
	doc := json.remove(review(workload("web:1", flux), workload("web:2", flux), true), ["maintenance"])
	count(change_freeze.deny) == 0 with input as doc
}

test_reason_without_guard_details if {
	doc := json.patch(review(workload("web:1", flux), workload("web:2", flux), true), [{"op": "replace", "path": "/maintenance/guards", "value": []}])
	some msg in change_freeze.deny with input as doc
	contains(msg, "(a maintenance guard is active)")
}

test_a_released_kustomization_applies_through_the_freeze if {
	doc := json.patch(review(workload("web:1", flux), workload("web:2", flux), true), [{"op": "add", "path": "/maintenance/releases", "value": [{"kind": "Kustomization", "namespace": "flux-system", "name": "apps"}]}])
	count(change_freeze.deny) == 0 with input as doc
}

test_another_release_does_not_unfreeze if {
	doc := json.patch(review(workload("web:1", flux), workload("web:2", flux), true), [{"op": "add", "path": "/maintenance/releases", "value": [{"kind": "Kustomization", "namespace": "flux-system", "name": "infra"}, {"kind": "HelmRelease", "namespace": "flux-system", "name": "apps"}]}])
	count(change_freeze.deny) == 1 with input as doc
}

test_a_released_helmrelease_applies_through_the_freeze if {
	helm := {"helm.toolkit.fluxcd.io/name": "web", "helm.toolkit.fluxcd.io/namespace": "shop"}
	doc := json.patch(review(workload("web:1", helm), workload("web:2", helm), true), [{"op": "add", "path": "/maintenance/releases", "value": [{"kind": "HelmRelease", "namespace": "shop", "name": "web"}]}])
	count(change_freeze.deny) == 0 with input as doc
}
