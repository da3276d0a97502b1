package fluxgate.policies.pdb_drain_safe_test

import data.fluxgate.policies.pdb_drain_safe as policy

web := {"app": "web"}

workload(kind, name, replicas, labels) := {
	"apiVersion": "apps/v1", "kind": kind,
	"metadata": {"name": name, "namespace": "team-a"},
	"spec": {
		"replicas": replicas,
		"selector": {"matchLabels": labels},
		"template": {"metadata": {"labels": labels}, "spec": {"containers": [{"name": "app"}]}},
	},
}

deployment(replicas) := workload("Deployment", "web", replicas, web)

budget_with(selector, spec) := {
	"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
	"metadata": {"name": "web-pdb", "namespace": "team-a"},
	"spec": object.union({"selector": selector, "unhealthyPodEvictionPolicy": "AlwaysAllow"}, spec),
}

budget(spec) := budget_with({"matchLabels": web}, spec)

hpa(name, min_replicas) := {"spec": {"scaleTargetRef": {"kind": "Deployment", "name": name}, "minReplicas": min_replicas}}

review_with(operation, obj, related, params) := {
	"request": {
		"uid": "1", "operation": operation,
		"kind": {"group": "", "version": "v1", "kind": obj.kind},
		"namespace": "team-a", "name": obj.metadata.name, "object": obj, "oldObject": null,
	},
	"parameters": params,
	"related": object.union(
		{
			"poddisruptionbudgets": [], "horizontalpodautoscalers": [],
			"deployments": [], "statefulsets": [], "daemonsets": [],
		},
		related,
	),
	"context": {"complete": true},
}

review(obj, related) := review_with("CREATE", obj, related, {"minHealthyPercent": 80})

# review_pdb judges a budget against related Deployments.
review_pdb(spec, deployments) := review(budget(spec), {"deployments": deployments})

pdb_msg(text) := sprintf("PodDisruptionBudget team-a/web-pdb: %s", [text])

# ---------------------------------------------------------------- PDB writes

test_one_disruption_of_three_is_compliant if {
	fixture := review_pdb({"maxUnavailable": 1}, [deployment(3)])
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
}

test_min_available_equal_to_replicas_blocks_drains if {
	policy.deny == {pdb_msg("spec.minAvailable: 3 allows no disruption: 3 pods expected from Deployment web and 3 must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1 instead")} with input as review_pdb({"minAvailable": 3}, [deployment(3)])
}

test_min_available_percent_rounds_up if {
	# ceil(50% of 3) = 2 must stay healthy, so one pod may go.
	count(policy.deny) == 0 with input as review_pdb({"minAvailable": "50%"}, [deployment(3)])
}

test_max_unavailable_percent_rounds_up if {
	# ceil(10% of 3) = 1 pod may go.
	count(policy.deny) == 0 with input as review_pdb({"maxUnavailable": "10%"}, [deployment(3)])
}

test_min_available_hundred_percent_always_denied if {
	expected := {pdb_msg("spec.minAvailable is 100%, so no pod may ever be evicted and every node drain blocks; set spec.maxUnavailable: 1 instead")}
	policy.deny == expected with input as review_pdb({"minAvailable": "100%"}, [deployment(3)])
	policy.deny == expected with input as review_pdb({"minAvailable": "100%"}, [])
}

test_max_unavailable_zero_always_denied if {
	policy.deny == {pdb_msg("spec.maxUnavailable is 0, so no pod may ever be evicted and every node drain blocks; set spec.maxUnavailable: 1 instead")} with input as review_pdb({"maxUnavailable": 0}, [])
	count(policy.deny) == 1 with input as review_pdb({"maxUnavailable": "0%"}, [deployment(4)])
}

test_budget_below_floor_denied if {
	policy.deny == {pdb_msg("spec.maxUnavailable: 3 lets too many pods go at once: 10 pods expected from Deployment web but only 7 must stay healthy, below the floor of 8 (minHealthyPercent 80); set spec.maxUnavailable: 2 or lower, or spec.minAvailable: 8 or higher")} with input as review_pdb({"maxUnavailable": 3}, [deployment(10)])
}

test_floor_rounds_down_for_small_workloads if {
	count(policy.deny) == 0 with input as review_pdb({"maxUnavailable": 1}, [deployment(2)])
	count(policy.deny) == 0 with input as review_pdb({"maxUnavailable": 1}, [deployment(5)])
	count(policy.deny) == 1 with input as review_pdb({"maxUnavailable": 2}, [deployment(5)])
	count(policy.deny) == 0 with input as review_pdb({"maxUnavailable": 2}, [deployment(7)])
	count(policy.deny) == 0 with input as review_pdb({"minAvailable": 8}, [deployment(10)])
	count(policy.deny) == 1 with input as review_pdb({"minAvailable": 7}, [deployment(10)])
}

test_percent_budget_below_floor if {
	# 50% of 4 lets 2 go; the floor is floor(0.8 * 4) = 3.
	count(policy.deny) == 1 with input as review_pdb({"maxUnavailable": "50%"}, [deployment(4)])
}

test_min_healthy_percent_as_percentage_string if {
	fixture := review_with("CREATE", budget({"maxUnavailable": 2}), {"deployments": [deployment(10)]}, {"minHealthyPercent": "90%"})
	count(policy.deny) == 1 with input as fixture
}

test_hpa_min_replicas_sets_expected_pods if {
	fixture := review(budget({"minAvailable": 2}), {"deployments": [deployment(10)], "horizontalpodautoscalers": [hpa("web", 2)]})
	policy.deny == {pdb_msg("spec.minAvailable: 2 allows no disruption: 2 pods expected from Deployment web and 2 must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1 instead")} with input as fixture
}

test_expected_pods_sum_over_selected_workloads if {
	related := {
		"deployments": [deployment(2), workload("Deployment", "api", 5, {"app": "api"})],
		"statefulsets": [workload("StatefulSet", "web-db", 1, web)],
	}
	count(policy.deny) == 0 with input as review(budget({"minAvailable": 2}), related)
	policy.deny == {pdb_msg("spec.minAvailable: 3 allows no disruption: 3 pods expected from Deployment web, StatefulSet web-db and 3 must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1 instead")} with input as review(budget({"minAvailable": 3}), related)
}

test_daemonsets_are_ignored if {
	count(policy.deny) == 0 with input as review(budget({"minAvailable": 1}), {"daemonsets": [workload("DaemonSet", "agent", null, web)]})
}

test_budget_without_matching_workloads if {
	count(policy.deny) == 0 with input as review_pdb({"minAvailable": 3}, [workload("Deployment", "api", 3, {"app": "api"})])
	count(policy.deny) == 0 with input as review(budget_with(null, {"minAvailable": 3}), {"deployments": [deployment(3)]})
}

test_match_expressions_select_workloads if {
	sel := {"matchExpressions": [
		{"key": "app", "operator": "In", "values": ["web", "api"]},
		{"key": "canary", "operator": "DoesNotExist"},
	]}
	count(policy.deny) == 1 with input as review(budget_with(sel, {"minAvailable": 3}), {"deployments": [deployment(3)]})
	canary := workload("Deployment", "web", 3, {"app": "web", "canary": "true"})
	count(policy.deny) == 0 with input as review(budget_with(sel, {"minAvailable": 3}), {"deployments": [canary]})
}

test_empty_selector_selects_every_workload if {
	fixture := review(budget_with({}, {"minAvailable": 3}), {"deployments": [workload("Deployment", "api", 3, {"app": "api"})]})
	count(policy.deny) == 1 with input as fixture
}

test_warns_without_always_allow if {
	fixture := review_pdb({"maxUnavailable": 1, "unhealthyPodEvictionPolicy": "IfHealthyBudget"}, [deployment(3)])
	policy.warn == {pdb_msg("spec.unhealthyPodEvictionPolicy is not AlwaysAllow, so crash-looping pods can block node drains; set spec.unhealthyPodEvictionPolicy: AlwaysAllow")} with input as fixture
	count(policy.deny) == 0 with input as fixture
}

test_budget_without_fields_only_warns_about_policy if {
	fixture := review_pdb({"unhealthyPodEvictionPolicy": null}, [deployment(3)])
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 1 with input as fixture
}

# ----------------------------------------------------------- workload writes

test_scale_down_that_blocks_drains_is_denied if {
	related := {"poddisruptionbudgets": [budget({"minAvailable": 2})]}
	count(policy.deny) == 0 with input as review(deployment(3), related)
	policy.deny == {"Deployment team-a/web: PodDisruptionBudget team-a/web-pdb (spec.minAvailable: 2) allows no disruption: 2 pods expected from Deployment web and 2 must stay healthy, so every node drain blocks; set spec.maxUnavailable: 1 on the budget instead"} with input as review(deployment(2), related)
}

test_other_selected_workloads_count_on_workload_write if {
	related := {
		"poddisruptionbudgets": [budget({"minAvailable": 1})],
		"statefulsets": [workload("StatefulSet", "web-db", 1, web)],
	}
	count(policy.deny) == 0 with input as review(deployment(1), related)
}

test_stale_copy_of_the_workload_is_not_counted if {
	related := {"poddisruptionbudgets": [budget({"minAvailable": 1})], "deployments": [deployment(5)]}
	denials := policy.deny with input as review(deployment(1), related)
	count(denials) == 1
	some msg in denials
	contains(msg, "allows no disruption: 1 pod expected from Deployment web and")
}

test_scale_up_below_floor_is_denied if {
	fixture := review(deployment(10), {"poddisruptionbudgets": [budget({"maxUnavailable": "50%"})]})
	policy.deny == {"Deployment team-a/web: PodDisruptionBudget team-a/web-pdb (spec.maxUnavailable: 50%) lets too many pods go at once: 10 pods expected from Deployment web but only 5 must stay healthy, below the floor of 8 (minHealthyPercent 80); set spec.maxUnavailable: 2 or lower, or spec.minAvailable: 8 or higher on the budget"} with input as fixture
}

test_unrelated_budget_is_ignored_on_workload_write if {
	fixture := review(deployment(1), {"poddisruptionbudgets": [budget_with({"matchLabels": {"app": "api"}}, {"minAvailable": 1})]})
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
}

test_scaled_to_zero_workload_is_not_blocked if {
	count(policy.deny) == 0 with input as review(deployment(0), {"poddisruptionbudgets": [budget({"maxUnavailable": 0})]})
}

test_statefulset_write if {
	sts := workload("StatefulSet", "web", 2, web)
	count(policy.deny) == 1 with input as review(sts, {"poddisruptionbudgets": [budget({"minAvailable": 2})]})
}

# ---------------------------------------------------------------- robustness

test_delete_is_ignored if {
	count(policy.deny) == 0 with input as review_with("DELETE", budget({"maxUnavailable": 0}), {}, {"minHealthyPercent": 80})
	count(policy.warn) == 0 with input as review_with("DELETE", budget({"maxUnavailable": 0}), {}, {"minHealthyPercent": 80})
}

test_malformed_input_does_not_error if {
	count(policy.deny) == 0 with input as review(deployment("3"), {"poddisruptionbudgets": [budget({"minAvailable": 3})]})
	count(policy.deny) == 0 with input as review_pdb({"minAvailable": "three"}, [deployment(3)])
	count(policy.deny) == 0 with input as review_pdb({"minAvailable": 3}, [deployment("3"), "garbage", null])
	count(policy.deny) == 0 with input as review(deployment(1), {"poddisruptionbudgets": ["garbage", {"spec": null}]})
	count(policy.deny) == 0 with input as {"request": {"operation": "CREATE", "kind": {"kind": "PodDisruptionBudget"}}}
	count(policy.deny) == 0 with input as {}
}

# ------------------------------------------------------- overlapping budgets

tier_budget := object.union(budget_with({"matchLabels": {"tier": "front"}}, {"maxUnavailable": 1}), {"metadata": {"name": "tier"}})

front := {"app": "web", "tier": "front"}

test_overlapping_budget_denied_on_pdb_write if {
	fixture := review(tier_budget, {
		"deployments": [workload("Deployment", "web", 3, front)],
		"poddisruptionbudgets": [budget({"maxUnavailable": 1})],
	})
	policy.deny == {"PodDisruptionBudget team-a/tier selects the pods of Deployment web, which PodDisruptionBudget team-a/web-pdb also selects; the eviction API refuses to evict a pod that more than one budget selects, so every drain of a node running one blocks; keep exactly one budget per pod: delete the extra budget or narrow its selector"} with input as fixture
}

test_overlapping_budgets_denied_on_workload_write if {
	fixture := review(workload("Deployment", "web", 3, front), {"poddisruptionbudgets": [tier_budget, budget({"maxUnavailable": 1})]})
	policy.deny == {"Deployment team-a/web: its pods are selected by 2 PodDisruptionBudgets (PodDisruptionBudget team-a/tier, PodDisruptionBudget team-a/web-pdb); the eviction API refuses to evict a pod that more than one budget selects, so every drain of a node running one blocks; keep exactly one budget per pod: delete the extra budget or narrow its selector"} with input as fixture
}

test_budgets_over_different_pods_do_not_overlap if {
	fixture := review(tier_budget, {
		"deployments": [workload("Deployment", "api", 3, {"tier": "front"}), workload("Deployment", "web", 3, web)],
		"poddisruptionbudgets": [budget({"maxUnavailable": 1})],
	})
	count(policy.deny) == 0 with input as fixture
}

# A budget alone never overlaps.
test_single_budget_does_not_overlap if {
	fixture := review(budget({"maxUnavailable": 1}), {"deployments": [deployment(3)], "poddisruptionbudgets": []})
	count(policy.deny) == 0 with input as fixture
}

test_overlap_of_scaled_to_zero_workload_is_not_denied if {
	fixture := review(workload("Deployment", "web", 0, front), {"poddisruptionbudgets": [tier_budget, budget({"maxUnavailable": 1})]})
	count(policy.deny) == 0 with input as fixture
}
