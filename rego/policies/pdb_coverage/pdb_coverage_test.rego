package fluxgate.policies.pdb_coverage_test

import data.fluxgate.policies.pdb_coverage as policy

web := {"app": "web", "tier": "frontend"}

workload(kind, replicas) := {
	"apiVersion": "apps/v1", "kind": kind,
	"metadata": {"name": "web", "namespace": "team-a"},
	"spec": {
		"replicas": replicas,
		"selector": {"matchLabels": web},
		"template": {"metadata": {"labels": web}, "spec": {"containers": [{"name": "app"}]}},
	},
}

budget(selector) := {
	"kind": "PodDisruptionBudget",
	"metadata": {"name": "web", "namespace": "team-a"},
	"spec": {"selector": selector, "maxUnavailable": 1},
}

hpa(min_replicas) := {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}, "minReplicas": min_replicas}}

review_with(operation, obj, pdbs, hpas, context) := {
	"request": {
		"operation": operation,
		"kind": {"group": "apps", "version": "v1", "kind": object.get(obj, "kind", "Deployment")},
		"namespace": "team-a", "name": "web", "object": obj,
	},
	"parameters": {},
	"related": {
		"poddisruptionbudgets": pdbs, "horizontalpodautoscalers": hpas,
		"deployments": [], "statefulsets": [], "daemonsets": [],
	},
	"context": context,
}

check(obj, pdbs) := review_with("CREATE", obj, pdbs, [], {"complete": true})

admission(obj, pdbs) := review_with("CREATE", obj, pdbs, [], {"complete": false})

finding := "Deployment team-a/web: 3 expected pods but no PodDisruptionBudget selects pods labelled app=web,tier=frontend; add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow so node drains evict at most one pod at a time"

test_covered_workload_is_compliant if {
	fixture := check(workload("Deployment", 3), [budget({"matchLabels": {"app": "web"}})])
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
}

test_missing_budget_denied_when_manifest_set_is_complete if {
	fixture := check(workload("Deployment", 3), [])
	policy.deny == {finding} with input as fixture
	count(policy.warn) == 0 with input as fixture
}

test_missing_budget_only_warns_at_admission if {
	fixture := admission(workload("Deployment", 3), [])
	policy.warn == {sprintf("%s (the PodDisruptionBudget may still arrive later in the same apply)", [finding])} with input as fixture
	count(policy.deny) == 0 with input as fixture
}

test_missing_context_counts_as_incomplete if {
	fixture := review_with("UPDATE", workload("Deployment", 3), [], [], null)
	count(policy.warn) == 1 with input as fixture
	count(policy.deny) == 0 with input as fixture
}

test_budget_for_other_pods_does_not_cover if {
	count(policy.deny) == 1 with input as check(workload("Deployment", 3), [budget({"matchLabels": {"app": "api"}})])
	count(policy.deny) == 1 with input as check(workload("Deployment", 3), [budget(null)])
}

test_empty_selector_covers_every_workload if {
	count(policy.deny) == 0 with input as check(workload("Deployment", 3), [budget({})])
}

test_match_expressions_cover if {
	sel := {"matchExpressions": [
		{"key": "tier", "operator": "Exists"},
		{"key": "app", "operator": "NotIn", "values": ["api"]},
	]}
	count(policy.deny) == 0 with input as check(workload("Deployment", 3), [budget(sel)])
	miss := {"matchExpressions": [{"key": "app", "operator": "In", "values": ["api"]}]}
	count(policy.deny) == 1 with input as check(workload("Deployment", 3), [budget(miss)])
}

test_single_replica_needs_no_budget if {
	count(policy.deny) == 0 with input as check(workload("Deployment", 1), [])
	count(policy.deny) == 0 with input as check(workload("Deployment", null), [])
	count(policy.deny) == 0 with input as check(workload("Deployment", 0), [])
}

test_hpa_min_replicas_decides if {
	count(policy.deny) == 1 with input as review_with("CREATE", workload("Deployment", 1), [], [hpa(2)], {"complete": true})
	count(policy.deny) == 0 with input as review_with("CREATE", workload("Deployment", 5), [], [hpa(1)], {"complete": true})
}

test_statefulset if {
	policy.deny == {"StatefulSet team-a/web: 2 expected pods but no PodDisruptionBudget selects pods labelled app=web,tier=frontend; add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow so node drains evict at most one pod at a time"} with input as check(workload("StatefulSet", 2), [])
}

test_daemonsets_are_out_of_scope if {
	count(policy.deny) == 0 with input as check(workload("DaemonSet", 3), [])
}

test_delete_is_ignored if {
	count(policy.deny) == 0 with input as review_with("DELETE", workload("Deployment", 3), [], [], {"complete": true})
}

test_malformed_input_does_not_error if {
	count(policy.deny) == 0 with input as check(workload("Deployment", "3"), [])
	count(policy.deny) == 0 with input as check({"kind": "Deployment"}, [])
	count(policy.deny) == 1 with input as check(workload("Deployment", 3), ["garbage", null, {"spec": 1}])
	count(policy.warn) == 0 with input as {}
}
