package fluxgate.policies.replicas_ha_test

import data.fluxgate.policies.replicas_ha as policy

review(operation, kind, spec, hpas) := {
	"request": {
		"operation": operation,
		"kind": {"group": "apps", "version": "v1", "kind": kind},
		"namespace": "team-a", "name": "web",
		"object": {"kind": kind, "metadata": {"name": "web", "namespace": "team-a"}, "spec": spec},
	},
	"parameters": {},
	"related": {
		"poddisruptionbudgets": [], "horizontalpodautoscalers": hpas,
		"deployments": [], "statefulsets": [], "daemonsets": [],
	},
	"context": {"complete": false},
}

create(spec) := review("CREATE", "Deployment", spec, [])

hpa(kind, name, min_replicas) := {"spec": {"scaleTargetRef": {"kind": kind, "name": name}, "minReplicas": min_replicas}}

test_two_replicas_are_compliant if {
	count(policy.deny) == 0 with input as create({"replicas": 2})
	count(policy.deny) == 0 with input as review("CREATE", "StatefulSet", {"replicas": 5}, [])
}

test_single_replica if {
	policy.deny == {"Deployment team-a/web: spec.replicas is 1, so a node drain or eviction leaves no pod serving; if two copies can run at once (a stateless server, or a controller with leader election), set replicas: 2 or more, or add a HorizontalPodAutoscaler with minReplicas: 2 or more, together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow; if it must never run twice, declare it a single writer with spec.strategy.type: Recreate"} with input as create({"replicas": 1})
}

test_unset_replicas_default_to_one if {
	policy.deny == {"StatefulSet team-a/web: spec.replicas is unset (defaults to 1), so a node drain or eviction leaves no pod serving; if the application runs as several members (replication, leader election), set replicas: 2 or more, together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow; a single-member StatefulSet is down while its node drains"} with input as review("UPDATE", "StatefulSet", {}, [])
}

test_scaled_to_zero_is_intentional if {
	count(policy.deny) == 0 with input as create({"replicas": 0})
}

test_hpa_takes_over if {
	count(policy.deny) == 0 with input as review("CREATE", "Deployment", {"replicas": 1}, [hpa("Deployment", "web", 3)])
}

test_hpa_for_another_workload_does_not_count if {
	count(policy.deny) == 1 with input as review("CREATE", "Deployment", {"replicas": 1}, [hpa("Deployment", "api", 3), hpa("StatefulSet", "web", 3)])
}

test_daemonsets_are_out_of_scope if {
	count(policy.deny) == 0 with input as review("CREATE", "DaemonSet", {}, [])
}

test_delete_is_ignored if {
	count(policy.deny) == 0 with input as review("DELETE", "Deployment", {"replicas": 1}, [])
}

test_malformed_input_does_not_error if {
	count(policy.deny) == 0 with input as create({"replicas": "1"})
	count(policy.deny) == 0 with input as {"request": {"operation": "CREATE", "kind": {"kind": "Deployment"}, "object": {"spec": {"replicas": [1]}}}}
	count(policy.deny) == 0 with input as {}
}

test_shared_claim_gets_advice_that_works if {
	spec := {"replicas": 1, "template": {"spec": {
		"containers": [{"name": "app"}],
		"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}],
	}}}
	policy.deny == {"Deployment team-a/web: spec.replicas is 1, so a node drain or eviction leaves no pod serving; its pods share PersistentVolumeClaim web-data, so a second replica needs a ReadWriteMany claim: use one and set replicas: 2, or run it as a StatefulSet with volumeClaimTemplates and replicas: 2 or more, together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow"} with input as create(spec)
}

# A claim seen to be ReadWriteMany is no obstacle to a second replica.
test_read_write_many_claim_gets_the_plain_advice if {
	spec := {"replicas": 1, "template": {"spec": {
		"containers": [{"name": "app"}],
		"volumes": [{"name": "data", "persistentVolumeClaim": {"claimName": "web-data"}}],
	}}}
	fixture := object.union(create(spec), {"related": {"persistentvolumeclaims": [{"metadata": {"name": "web-data"}, "spec": {"accessModes": ["ReadWriteMany"]}}]}})
	some msg in policy.deny with input as fixture
	contains(msg, "if two copies can run at once")
	not contains(msg, "PersistentVolumeClaim")
}

test_no_budget_hint_when_a_budget_exists if {
	spec := {"replicas": 1, "template": {"metadata": {"labels": {"app": "web"}}}}
	fixture := object.union(create(spec), {"related": {"poddisruptionbudgets": [{"spec": {"selector": {"matchLabels": {"app": "web"}}, "minAvailable": 1}}]}})
	policy.deny == {"Deployment team-a/web: spec.replicas is 1, so a node drain or eviction leaves no pod serving; if two copies can run at once (a stateless server, or a controller with leader election), set replicas: 2 or more, or add a HorizontalPodAutoscaler with minReplicas: 2 or more; if it must never run twice, declare it a single writer with spec.strategy.type: Recreate"} with input as fixture
}

test_single_writer_advice_changes_the_strategy_too if {
	spec := {"replicas": 1, "strategy": {"type": "Recreate"}}
	policy.deny == {"Deployment team-a/web: spec.replicas is 1, so a node drain or eviction leaves no pod serving; it rolls with Recreate as a single writer, so every rollout stops it too; accepted, since nothing else guarantees it never runs twice. If two copies may run at once (leader election, for example), set replicas: 2 or more with type: RollingUpdate, together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow"} with input as create(spec)
}
