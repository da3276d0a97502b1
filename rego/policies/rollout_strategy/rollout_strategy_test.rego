package fluxgate.policies.rollout_strategy_test

import data.fluxgate.policies.rollout_strategy as policy

parameters := {"maxSurge": "25%", "maxUnavailable": 0, "daemonSetMaxSurge": 1}

pod_template(container) := {
	"metadata": {"labels": {"app": "web"}},
	"spec": {"containers": [container]},
}

app := {"name": "app", "image": "web:1"}

workload(kind, spec) := {
	"apiVersion": "apps/v1",
	"kind": kind,
	"metadata": {"name": "web", "namespace": "team-a"},
	"spec": object.union({"selector": {"matchLabels": {"app": "web"}}, "template": pod_template(app)}, spec),
}

review_object(operation, kind, obj, params) := {
	"request": {
		"uid": "1", "operation": operation, "dryRun": false,
		"kind": {"group": "apps", "version": "v1", "kind": kind},
		"namespace": "team-a", "name": "web", "object": obj, "oldObject": null,
		"userInfo": {"username": "flux", "groups": []},
	},
	"parameters": params,
	"related": {
		"poddisruptionbudgets": [], "horizontalpodautoscalers": [],
		"deployments": [], "statefulsets": [], "daemonsets": [],
	},
	"context": {"complete": true},
}

review(kind, spec) := review_object("CREATE", kind, workload(kind, spec), parameters)

# apply_patches applies ops in path order, as the engine does.
apply_patches(obj, ops) := json.patch(obj, [op |
	some path in sort({o.path | some o in ops})
	some op in ops
	op.path == path
])

# after_mutation re-runs the policy on the patched object, like the webhook
# validating what it just mutated.
after_mutation(kind, spec) := {"patch": p, "deny": d} if {
	obj := apply_patches(workload(kind, spec), policy.patch) with input as review(kind, spec)
	p := policy.patch with input as review_object("CREATE", kind, obj, parameters)
	d := policy.deny with input as review_object("CREATE", kind, obj, parameters)
}

clean(result) if {
	count(result.patch) == 0
	count(result.deny) == 0
}

rolling(surge, unavailable) := {"strategy": {
	"type": "RollingUpdate",
	"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
}}

deny_msg(kind, text) := sprintf("%s team-a/web: %s", [kind, text])

# ---------------------------------------------------------------- Deployment

test_deployment_compliant if {
	fixture := review("Deployment", rolling("25%", 0))
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_deployment_zero_percent_equals_zero if {
	count(policy.deny) == 0 with input as review("Deployment", rolling(1, "0%"))
}

test_deployment_unset_strategy_is_patched_whole if {
	policy.patch == {{"op": "add", "path": "/spec/strategy", "value": {
		"type": "RollingUpdate",
		"rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0},
	}}} with input as review("Deployment", {})
}

test_deployment_unset_strategy_denied_without_mutation if {
	policy.deny == {deny_msg("Deployment", "spec.strategy.rollingUpdate.maxUnavailable is unset (defaults to 25%); set it to 0 so no ready pod is removed before its replacement is ready")} with input as review("Deployment", {})
}

test_deployment_api_server_defaults_are_patched if {
	policy.patch == {{"op": "replace", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": 0}} with input as review("Deployment", rolling("25%", "25%"))
}

test_deployment_defaulted_denied_without_mutation if {
	policy.deny == {deny_msg("Deployment", "spec.strategy.rollingUpdate.maxUnavailable is 25%; set it to 0 so no ready pod is removed before its replacement is ready")} with input as review("Deployment", rolling("25%", "25%"))
}

test_deployment_rolling_update_without_parameters if {
	policy.patch == {{"op": "add", "path": "/spec/strategy/rollingUpdate", "value": {"maxSurge": "25%", "maxUnavailable": 0}}} with input as review("Deployment", {"strategy": {"type": "RollingUpdate"}})
}

test_deployment_missing_type_counts_as_rolling_update if {
	policy.patch == {
		{"op": "add", "path": "/spec/strategy/rollingUpdate/maxSurge", "value": "25%"},
		{"op": "add", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": 0},
	} with input as review("Deployment", {"strategy": {"rollingUpdate": {}}})
}

test_deployment_missing_max_unavailable_is_added if {
	policy.patch == {{"op": "add", "path": "/spec/strategy/rollingUpdate/maxUnavailable", "value": 0}} with input as review("Deployment", {"strategy": {"rollingUpdate": {"maxSurge": 1}}})
}

test_deployment_mutation_is_idempotent if {
	clean(after_mutation("Deployment", {}))
	clean(after_mutation("Deployment", rolling("25%", "25%")))
	clean(after_mutation("Deployment", {"strategy": {"type": "RollingUpdate"}}))
	clean(after_mutation("Deployment", {"strategy": {"rollingUpdate": {"maxSurge": 2}}}))
}

test_deployment_recreate_denied_not_patched if {
	fixture := review("Deployment", {"replicas": 3, "strategy": {"type": "Recreate"}})
	policy.deny == {deny_msg("Deployment", "spec.strategy.type is Recreate, which stops every pod before starting new ones; use type: RollingUpdate with rollingUpdate.maxSurge: 25% and rollingUpdate.maxUnavailable: 0")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_deployment_explicit_max_unavailable_denied_not_patched if {
	fixture := review("Deployment", rolling(1, 2))
	policy.deny == {deny_msg("Deployment", "spec.strategy.rollingUpdate.maxUnavailable is 2; set it to 0 so no ready pod is removed before its replacement is ready")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_deployment_explicit_percentage_denied if {
	count(policy.deny) == 1 with input as review("Deployment", rolling(1, "10%"))
}

test_deployment_rollout_that_cannot_progress if {
	policy.deny == {deny_msg("Deployment", "spec.strategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxSurge: 25%")} with input as review("Deployment", rolling("0%", 0))
}

test_deployment_zero_surge_keeps_defaulted_max_unavailable if {
	fixture := review("Deployment", rolling(0, "25%"))
	count(policy.patch) == 0 with input as fixture
	count(policy.deny) == 1 with input as fixture
}

test_deployment_configured_budget if {
	params := object.union(parameters, {"maxUnavailable": 1})
	count(policy.deny) == 0 with input as review_object("CREATE", "Deployment", workload("Deployment", rolling(1, 1)), params)
	policy.deny == {deny_msg("Deployment", "spec.strategy.rollingUpdate.maxUnavailable is 3; set it to 1 to match the configured rollout budget")} with input as review_object("CREATE", "Deployment", workload("Deployment", rolling(1, 3)), params)
}

test_deployment_update_is_checked if {
	count(policy.deny) == 1 with input as review_object("UPDATE", "Deployment", workload("Deployment", rolling(1, 2)), parameters)
}

test_delete_is_ignored if {
	fixture := review_object("DELETE", "Deployment", null, parameters)
	count(policy.deny) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_malformed_deployments_do_not_error if {
	count(policy.deny) == 0 with input as review_object("CREATE", "Deployment", {"kind": "Deployment"}, parameters)
	count(policy.patch) == 0 with input as review_object("CREATE", "Deployment", {"spec": "nope"}, parameters)
	count(policy.patch) == 0 with input as review("Deployment", {"strategy": "fast"})
	count(policy.patch) == 0 with input as review("Deployment", {"strategy": {"rollingUpdate": "fast"}})
}

# --------------------------------------------------------------- StatefulSet

test_statefulset_defaults_are_compliant if {
	fixture := review("StatefulSet", {})
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_statefulset_one_at_a_time_is_compliant if {
	count(policy.deny) == 0 with input as review("StatefulSet", {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}})
	count(policy.deny) == 0 with input as review("StatefulSet", {"updateStrategy": {"rollingUpdate": {"partition": 2}}})
}

test_statefulset_several_at_once_denied if {
	policy.deny == {deny_msg("StatefulSet", "spec.updateStrategy.rollingUpdate.maxUnavailable is 2; remove it or set it to 1: a StatefulSet cannot surge, so replacing one pod at a time keeps the others serving")} with input as review("StatefulSet", {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}})
}

test_statefulset_percentage_denied if {
	count(policy.deny) == 1 with input as review("StatefulSet", {"updateStrategy": {"rollingUpdate": {"maxUnavailable": "10%"}}})
}

test_statefulset_on_delete_warns if {
	fixture := review("StatefulSet", {"updateStrategy": {"type": "OnDelete"}})
	policy.warn == {deny_msg("StatefulSet", "spec.updateStrategy.type is OnDelete, so template changes only reach pods that someone deletes by hand; use RollingUpdate")} with input as fixture
	count(policy.deny) == 0 with input as fixture
}

# ------------------------------------------- Deployment with a volume claim

with_claim(spec) := object.union({"template": {
	"metadata": {"labels": {"app": "web"}},
	"spec": {
		"containers": [app],
		"volumes": [
			{"name": "scratch", "emptyDir": {}},
			{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}},
		],
	},
}}, spec)

test_claim_recreate_warns_not_denies if {
	fixture := review("Deployment", with_claim({"strategy": {"type": "Recreate"}}))
	count(policy.deny) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
	policy.warn == {deny_msg("Deployment", "spec.strategy.type is Recreate, so every rollout stops all pods before starting new ones; accepted because its pods mount PersistentVolumeClaim web-data, which old and new pods cannot share unless it is ReadWriteMany. If the claim is ReadWriteMany, use type: RollingUpdate with maxSurge: 25% and maxUnavailable: 0; to run more than one replica without downtime, use a StatefulSet with volumeClaimTemplates")} with input as fixture
}

# maxSurge 0 with maxUnavailable 1 stops the old pod before the new one
# mounts the claim: the rolling form of Recreate, and not denied either.
test_claim_stop_then_start_is_compliant if {
	fixture := review("Deployment", with_claim(rolling(0, 1)))
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

# The API server's default is left alone: rewriting it to maxUnavailable 0
# would make a single-replica Deployment wait forever on a Multi-Attach
# error when its new pod lands on another node. That it surges is named.
test_claim_defaults_not_patched if {
	every spec in [{}, rolling("25%", "25%"), {"strategy": {"type": "RollingUpdate"}}] {
		fixture := review("Deployment", with_claim(spec))
		count(policy.patch) == 0 with input as fixture
		count(policy.deny) == 0 with input as fixture
		policy.warn == {claim_surge_msg("25%")} with input as fixture
	}
}

claim_surge_msg(surge) := deny_msg("Deployment", sprintf("its pods mount PersistentVolumeClaim web-data and a rollout starts each new pod beside an old one (maxSurge: %s); unless the claim is ReadWriteMany, a new pod on another node cannot attach it (Multi-Attach) and the rollout stalls. Set maxSurge: 0 and maxUnavailable: 1, or type: Recreate, so that the old pod releases the claim first; if the claim is ReadWriteMany, keep the surge (fluxgate did not find the PersistentVolumeClaim to read its access mode)", [surge]))

test_claim_surge_warned if {
	every c in [[1, "1"], ["50%", "50%"]] {
		fixture := review("Deployment", with_claim(rolling(c[0], 0)))
		policy.warn == {claim_surge_msg(c[1])} with input as fixture
		count(policy.deny) == 0 with input as fixture
		count(policy.patch) == 0 with input as fixture
	}
}

test_claim_cannot_do_nothing if {
	count(policy.deny) == 1 with input as review("Deployment", with_claim(rolling(0, 0)))
}

test_ephemeral_volume_is_not_a_shared_claim if {
	spec := {"template": {
		"metadata": {"labels": {"app": "web"}},
		"spec": {"containers": [app], "volumes": [{"name": "cache", "ephemeral": {"volumeClaimTemplate": {"spec": {}}}}]},
	}, "strategy": {"type": "Recreate"}, "replicas": 2}
	count(policy.deny) == 1 with input as review("Deployment", spec)
}

# ------------------------------------------- single writer (one replica)

# Shaped like external-dns and Flux's source-controller.
test_single_replica_recreate_is_a_single_writer if {
	every spec in [{"replicas": 1, "strategy": {"type": "Recreate"}}, {"strategy": {"type": "Recreate"}}] {
		fixture := review("Deployment", spec)
		count(policy.deny) == 0 with input as fixture
		count(policy.patch) == 0 with input as fixture
		count(policy.warn) == 0 with input as fixture
	}
}

test_autoscaled_recreate_is_not_a_single_writer if {
	fixture := object.union(review("Deployment", {"replicas": 1, "strategy": {"type": "Recreate"}}), {"related": {"horizontalpodautoscalers": [{"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": 2}}]}})
	count(policy.deny) == 1 with input as fixture
}

# Without a declared Recreate a single replica is mutated like any other.
test_single_replica_without_strategy_is_patched if {
	count(policy.patch) == 1 with input as review("Deployment", {"replicas": 1})
}

# A claim whose PersistentVolumeClaim is seen to be ReadWriteMany lets old
# and new pods run side by side: the Deployment rolls with surge like any
# other (defaults patched, Recreate denied), and nothing warns.
with_rwx(fixture, modes) := object.union(fixture, {"related": {"persistentvolumeclaims": [{
	"metadata": {"name": "web-data", "namespace": "team-a"},
	"spec": {"accessModes": modes},
}]}})

test_read_write_many_claim_surges if {
	fixture := with_rwx(review("Deployment", with_claim({})), ["ReadWriteMany"])
	count(policy.warn) == 0 with input as fixture
	count(policy.patch) > 0 with input as fixture
	recreate := with_rwx(review("Deployment", with_claim({"replicas": 3, "strategy": {"type": "Recreate"}})), ["ReadWriteMany"])
	count(policy.deny) == 1 with input as recreate
	count(policy.warn) == 0 with input as recreate
}

test_read_write_once_claim_seen_still_warns if {
	fixture := with_rwx(review("Deployment", with_claim({})), ["ReadWriteOnce"])
	policy.warn == {claim_surge_msg("25%")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}
