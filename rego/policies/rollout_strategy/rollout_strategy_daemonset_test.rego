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
	policy.deny == {
		deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxSurge is 1, but container \"exporter\" uses hostPort 9100, so a surge pod cannot start beside the old one on the same node; set maxSurge: 0 and maxUnavailable: 1"),
		deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxUnavailable is 0; set it to 1: container \"exporter\" uses hostPort 9100, so pods cannot surge and nodes must be updated one at a time"),
	} with input as review("DaemonSet", with_host_port(ds_rolling(1, 0)))
}

test_host_port_requires_one_unavailable if {
	fixture := review("DaemonSet", with_host_port(ds_rolling(0, "20%")))
	policy.deny == {deny_msg("DaemonSet", "spec.updateStrategy.rollingUpdate.maxUnavailable is 20%; set it to 1: container \"exporter\" uses hostPort 9100, so pods cannot surge and nodes must be updated one at a time")} with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_host_port_in_init_container_counts if {
	template := {"metadata": {"labels": {"app": "web"}}, "spec": {
		"containers": [app],
		"initContainers": [{"name": "agent", "restartPolicy": "Always", "ports": [{"hostPort": 8125}]}],
	}}
	fixture := review("DaemonSet", {"template": template})
	count(policy.patch) == 0 with input as fixture
	count(policy.deny) == 0 with input as fixture
	count(policy.deny) == 2 with input as review("DaemonSet", {"template": template, "updateStrategy": ds_rolling(1, 0).updateStrategy})
}

test_container_port_without_host_port_still_surges if {
	container := {"name": "app", "ports": [{"containerPort": 8080}]}
	count(policy.patch) == 1 with input as review("DaemonSet", {"template": pod_template(container)})
}
