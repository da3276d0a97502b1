package fluxgate.policies.rollout_strategy_test

import data.fluxgate.policies.rollout_strategy as policy

# Shares review, workload and after_mutation with rollout_strategy_test.rego.

ds_rolling(surge, unavailable) := {"updateStrategy": {
	"type": "RollingUpdate",
	"rollingUpdate": {"maxSurge": surge, "maxUnavailable": unavailable},
}}

exporter := {"name": "exporter", "ports": [{"containerPort": 9100, "hostPort": 9100}]}

with_host_port(spec) := object.union({"template": pod_template(exporter)}, spec)

test_daemonset_surging_is_compliant if {
	fixture := review("DaemonSet", ds_rolling(1, 0))
	count(policy.deny) == 0 with input as fixture
	count(policy.warn) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_daemonset_zero_percent_is_compliant if {
	count(policy.deny) == 0 with input as review("DaemonSet", ds_rolling("10%", "0%"))
}

test_daemonset_unset_strategy_is_patched_whole if {
	policy.patch == {{"op": "add", "path": "/spec/updateStrategy", "value": {
		"type": "RollingUpdate",
		"rollingUpdate": {"maxSurge": 1, "maxUnavailable": 0},
	}}} with input as review("DaemonSet", {})
}

test_daemonset_unset_strategy_denied_without_mutation if {
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxUnavailable is unset (defaults to 1); set it to 0 with maxSurge: 1 so each node starts the new pod before stopping the old one")} with input as review("DaemonSet", {})
}

test_daemonset_api_server_defaults_are_replaced if {
	policy.patch == {
		{"op": "replace", "path": "/spec/updateStrategy/rollingUpdate/maxSurge", "value": 1},
		{"op": "replace", "path": "/spec/updateStrategy/rollingUpdate/maxUnavailable", "value": 0},
	} with input as review("DaemonSet", ds_rolling(0, 1))
}

test_daemonset_rolling_update_without_parameters if {
	policy.patch == {{"op": "add", "path": "/spec/updateStrategy/rollingUpdate", "value": {"maxSurge": 1, "maxUnavailable": 0}}} with input as review("DaemonSet", {"updateStrategy": {"type": "RollingUpdate"}})
}

test_daemonset_empty_rolling_update_gets_both_fields if {
	policy.patch == {
		{"op": "add", "path": "/spec/updateStrategy/rollingUpdate/maxSurge", "value": 1},
		{"op": "add", "path": "/spec/updateStrategy/rollingUpdate/maxUnavailable", "value": 0},
	} with input as review("DaemonSet", {"updateStrategy": {"rollingUpdate": {}}})
}

test_daemonset_surge_parameter_is_used if {
	params := object.union(parameters, {"daemonSetMaxSurge": "10%"})
	policy.patch == {{"op": "add", "path": "/spec/updateStrategy", "value": {
		"type": "RollingUpdate",
		"rollingUpdate": {"maxSurge": "10%", "maxUnavailable": 0},
	}}} with input as review_object("CREATE", "DaemonSet", workload("DaemonSet", {}), params)
}

test_daemonset_mutation_is_idempotent if {
	clean(after_mutation("DaemonSet", {}))
	clean(after_mutation("DaemonSet", ds_rolling(0, 1)))
	clean(after_mutation("DaemonSet", {"updateStrategy": {"type": "RollingUpdate"}}))
	clean(after_mutation("DaemonSet", {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 1}}}))
}

test_daemonset_explicit_max_unavailable_denied_not_patched if {
	fixture := review("DaemonSet", ds_rolling(1, 2))
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxUnavailable is 2; set it to 0 with maxSurge: 1 so each node starts the new pod before stopping the old one")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_daemonset_surge_with_one_unavailable_is_not_treated_as_default if {
	fixture := review("DaemonSet", ds_rolling(2, 1))
	count(policy.patch) == 0 with input as fixture
	count(policy.deny) == 1 with input as fixture
}

test_daemonset_rollout_that_cannot_progress if {
	fixture := review("DaemonSet", ds_rolling(0, 0))
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxSurge: 1")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_daemonset_on_delete_warns_without_patch if {
	fixture := review("DaemonSet", {"updateStrategy": {"type": "OnDelete"}})
	count(policy.warn) == 1 with input as fixture
	count(policy.deny) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

# ------------------------------------------------------------ with hostPorts

test_host_port_defaults_are_compliant_and_not_patched if {
	every spec in [{}, ds_rolling(0, 1), {"updateStrategy": {"rollingUpdate": {}}}] {
		count(policy.deny) == 0 with input as review("DaemonSet", with_host_port(spec))
		count(policy.patch) == 0 with input as review("DaemonSet", with_host_port(spec))
	}
}

test_host_port_surge_denied if {
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxSurge is 1, but container \"exporter\" uses hostPort 9100: a surge pod cannot start beside the old one on the same node, and the rollout stalls; set maxSurge: 0 and maxUnavailable: 1 (or more)")} with input as review("DaemonSet", with_host_port(ds_rolling(1, 0)))
}

# kube-prometheus' node-exporter rolls with maxUnavailable: 10%: more than
# one node at a time is a choice, not a stalled rollout.
test_host_port_any_positive_unavailable_is_compliant if {
	every unavailable in [1, 3, "10%", "20%"] {
		fixture := review("DaemonSet", with_host_port(ds_rolling(0, unavailable)))
		count(policy.deny) == 0 with input as fixture
		count(policy.patch) == 0 with input as fixture
	}
}

test_host_port_nothing_may_move_denied if {
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxSurge and maxUnavailable are both 0, so the rollout can neither add a new pod nor remove an old one; set maxUnavailable: 1 (or more): it cannot surge because container \"exporter\" uses hostPort 9100")} with input as review("DaemonSet", with_host_port(ds_rolling(0, "0%")))
}

test_host_port_in_init_container_counts if {
	template := {"metadata": {"labels": {"app": "web"}}, "spec": {
		"containers": [app],
		"initContainers": [{"name": "agent", "restartPolicy": "Always", "ports": [{"hostPort": 8125}]}],
	}}
	fixture := review("DaemonSet", {"template": template})
	count(policy.patch) == 0 with input as fixture
	count(policy.deny) == 0 with input as fixture
	count(policy.deny) == 1 with input as review("DaemonSet", {"template": template, "updateStrategy": ds_rolling(1, 0).updateStrategy})
}

# ------------------------------------------------------- with hostNetwork

# Shaped like calico-node: host network, no declared ports.
host_network_template := {"metadata": {"labels": {"app": "cni"}}, "spec": {
	"hostNetwork": true,
	"containers": [{"name": "cni", "readinessProbe": {"exec": {"command": ["true"]}}}],
}}

test_host_network_defaults_are_compliant_and_not_patched if {
	every spec in [{}, ds_rolling(0, 1), {"updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}}}] {
		fixture := review("DaemonSet", object.union({"template": host_network_template}, spec))
		count(policy.deny) == 0 with input as fixture
		count(policy.patch) == 0 with input as fixture
	}
}

test_host_network_surge_denied if {
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxSurge is 1, but it runs with hostNetwork: true, so every port it opens is a host port: a surge pod cannot start beside the old one on the same node, and the rollout stalls; set maxSurge: 0 and maxUnavailable: 1 (or more)")} with input as review("DaemonSet", {"template": host_network_template, "updateStrategy": ds_rolling(1, 0).updateStrategy})
}

test_host_network_false_still_surges if {
	template := json.patch(host_network_template, [{"op": "replace", "path": "/spec/hostNetwork", "value": false}])
	count(policy.patch) == 1 with input as review("DaemonSet", {"template": template})
}

test_container_port_without_host_port_still_surges if {
	container := {"name": "app", "ports": [{"containerPort": 8080}]}
	count(policy.patch) == 1 with input as review("DaemonSet", {"template": pod_template(container)})
}
