package fluxgate.lib.pdb_test

import data.fluxgate.lib.pdb

max_unavailable(v) := {"field": "maxUnavailable", "value": v}

min_available(v) := {"field": "minAvailable", "value": v}

labelled(labels) := {"spec": {"template": {"metadata": {"labels": labels}}}}

test_budget_prefers_max_unavailable if {
	pdb.budget({"spec": {"maxUnavailable": 1}}) == max_unavailable(1)
	pdb.budget({"spec": {"minAvailable": "50%"}}) == min_available("50%")
	pdb.budget({"spec": {"maxUnavailable": 1, "minAvailable": 2}}) == max_unavailable(1)
	pdb.budget({"spec": {"maxUnavailable": null, "minAvailable": 2}}) == min_available(2)
}

test_budget_absent if {
	not pdb.budget({"spec": {}})
	not pdb.budget({})
}

test_min_available_int if {
	pdb.desired_healthy(min_available(2), 3) == 2
	pdb.allowed_disruptions(min_available(2), 3) == 1
}

test_min_available_equal_to_replicas_allows_nothing if {
	pdb.allowed_disruptions(min_available(3), 3) == 0
}

test_min_available_above_replicas_allows_nothing if {
	pdb.allowed_disruptions(min_available(5), 3) == 0
}

test_min_available_percent_rounds_up if {
	pdb.desired_healthy(min_available("50%"), 3) == 2
	pdb.allowed_disruptions(min_available("50%"), 3) == 1
}

test_min_available_hundred_percent if {
	pdb.desired_healthy(min_available("100%"), 3) == 3
	pdb.allowed_disruptions(min_available("100%"), 3) == 0
}

test_max_unavailable_int if {
	pdb.desired_healthy(max_unavailable(1), 3) == 2
	pdb.allowed_disruptions(max_unavailable(1), 3) == 1
	pdb.allowed_disruptions(max_unavailable(0), 3) == 0
}

test_max_unavailable_above_replicas_clamps if {
	pdb.desired_healthy(max_unavailable(5), 3) == 0
	pdb.allowed_disruptions(max_unavailable(5), 3) == 3
}

test_max_unavailable_percent_rounds_up if {
	pdb.desired_healthy(max_unavailable("10%"), 3) == 2
	pdb.allowed_disruptions(max_unavailable("10%"), 3) == 1
	pdb.allowed_disruptions(max_unavailable("50%"), 3) == 2
}

test_malformed_budget_values_are_undefined if {
	not pdb.desired_healthy(min_available("two"), 3)
	not pdb.allowed_disruptions(max_unavailable(true), 3)
}

test_always_blocks if {
	pdb.always_blocks(max_unavailable(0))
	pdb.always_blocks(max_unavailable("0%"))
	pdb.always_blocks(min_available("100%"))
	not pdb.always_blocks(max_unavailable(1))
	not pdb.always_blocks(min_available(3))
	not pdb.always_blocks(min_available("99%"))
}

test_min_healthy_rounds_down if {
	pdb.min_healthy(80, 1) == 0
	pdb.min_healthy(80, 2) == 1
	pdb.min_healthy(80, 5) == 4
	pdb.min_healthy(80, 6) == 4
	pdb.min_healthy(80, 7) == 5
	pdb.min_healthy(80, 10) == 8
	pdb.min_healthy(80, 0) == 0
}

test_min_healthy_always_leaves_one_disruption if {
	pdb.min_healthy(100, 4) == 3
	pdb.min_healthy(150, 4) == 3
}

test_selects_by_pod_template_labels if {
	pdb.selects({"spec": {"selector": {"matchLabels": {"app": "web"}}}}, labelled({"app": "web", "x": "y"}))
	not pdb.selects({"spec": {"selector": {"matchLabels": {"app": "web"}}}}, labelled({"app": "api"}))
	pdb.selects({"spec": {"selector": {}}}, labelled({"app": "api"}))
	not pdb.selects({"spec": {}}, labelled({"app": "api"}))
	not pdb.selects({"spec": {"selector": null}}, labelled({"app": "api"}))
}

test_expected_pods_sums_selected_workloads if {
	budget := {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
	workloads := [
		{"kind": "Deployment", "name": "a", "object": object.union(labelled({"app": "web"}), {"spec": {"replicas": 2}})},
		{"kind": "StatefulSet", "name": "b", "object": object.union(labelled({"app": "web"}), {"spec": {"replicas": 3}})},
		{"kind": "Deployment", "name": "c", "object": object.union(labelled({"app": "api"}), {"spec": {"replicas": 7}})},
		{"kind": "Deployment", "name": "d", "object": object.union(labelled({"app": "web"}), {"spec": {"replicas": "9"}})},
	]
	pdb.expected_pods(budget, workloads) == 5 with input as {}
	count(pdb.selected(budget, workloads)) == 3
}

test_selects_resource_is_selects_for_the_object_under_review if {
	budget := {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
	pdb.selects_resource(budget) with input as {"request": {"object": labelled({"app": "web"})}}
	not pdb.selects_resource(budget) with input as {"request": {"object": labelled({"app": "api"})}}
	not pdb.selects_resource("garbage") with input as {"request": {"object": labelled({"app": "web"})}}
	not pdb.selects_resource({"spec": {}}) with input as {"request": {"object": labelled({"app": "web"})}}
}

test_resource_budgets_lists_the_budgets_selecting_the_object if {
	web := {"spec": {"selector": {"matchLabels": {"app": "web"}}}}
	api := {"spec": {"selector": {"matchLabels": {"app": "api"}}}}
	all := {"spec": {"selector": {}}}
	fixture := {"request": {"object": labelled({"app": "web"})}, "related": {"poddisruptionbudgets": [web, api, all]}}
	pdb.resource_budgets == [web, all] with input as fixture
}
