package fluxgate.policies.graceful_shutdown_test

import data.fluxgate.policies.graceful_shutdown as policy

sleep_hook(seconds) := {"preStop": {"sleep": {"seconds": seconds}}}

exec_hook(command) := {"preStop": {"exec": {"command": command}}}

container(name, lifecycle) := {"name": name, "image": "web:1", "lifecycle": lifecycle}

workload(kind, pod_spec) := {
	"kind": kind,
	"metadata": {"name": "web", "namespace": "team-a"},
	"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}},
}

review_with(operation, obj, seconds) := {
	"request": {
		"operation": operation,
		"kind": {"group": "apps", "version": "v1", "kind": obj.kind},
		"namespace": "team-a", "name": "web", "object": obj,
	},
	"parameters": {"preStopSleepSeconds": seconds},
	"related": {"services": [{"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}]},
}

review(pod_spec) := review_with("CREATE", workload("Deployment", pod_spec), 0)

mutating(pod_spec, seconds) := review_with("CREATE", workload("Deployment", pod_spec), seconds)

subject := "Deployment team-a/web"

test_sleeping_container_is_compliant if {
	every kind in ["Deployment", "StatefulSet", "DaemonSet"] {
		count(policy.deny) == 0 with input as review_with("CREATE", workload(kind, {"containers": [container("app", sleep_hook(5))]}), 0)
	}
}

test_exec_and_http_hooks_are_compliant if {
	pod := {"containers": [
		container("app", exec_hook(["sleep", "10"])),
		container("nginx", exec_hook(["nginx", "-s", "quit"])),
		container("api", {"preStop": {"httpGet": {"path": "/drain", "port": 8080}}}),
	]}
	count(policy.deny) == 0 with input as review(pod)
}

test_missing_pre_stop if {
	policy.deny == {sprintf("%s: container \"app\" (spec.template.spec.containers[0]) has no lifecycle.preStop hook; add preStop: {sleep: {seconds: 5}} (or an exec or httpGet hook) so the pod keeps serving until endpoints and load balancers stop sending it traffic (Service team-a/web)", [subject])} with input as review({"containers": [{"name": "app"}]})
}

test_unsupported_or_empty_hooks_count_as_missing if {
	pod := {"containers": [
		container("a", {"preStop": {"tcpSocket": {"port": 80}}}),
		container("b", {"preStop": {}}),
		container("c", {"postStart": {"exec": {"command": ["true"]}}}),
		container("d", null),
	]}
	count(policy.deny) == 4 with input as review(pod)
}

test_init_containers_are_not_checked if {
	pod := {"containers": [container("app", sleep_hook(5))], "initContainers": [{"name": "proxy", "restartPolicy": "Always"}]}
	count(policy.deny) == 0 with input as review(pod)
}

test_zero_grace_period if {
	pod := {"terminationGracePeriodSeconds": 0, "containers": [container("app", sleep_hook(5))]}
	policy.deny == {sprintf("%s: spec.template.spec.terminationGracePeriodSeconds is 0, so pods are killed at once without running preStop hooks or shutting down gracefully; remove it (defaults to 30) or set it above the preStop sleep", [subject])} with input as review(pod)
}

test_sleep_filling_the_grace_period if {
	pod := {"terminationGracePeriodSeconds": 10, "containers": [container("app", sleep_hook(10))]}
	policy.deny == {sprintf("%s: container \"app\" (spec.template.spec.containers[0]) sleeps 10 seconds in its preStop hook but spec.template.spec.terminationGracePeriodSeconds is 10; set it above 10 so the application still gets time to shut down after the sleep", [subject])} with input as review(pod)
}

test_sleep_compared_to_default_grace_period if {
	count(policy.deny) == 0 with input as review({"containers": [container("app", sleep_hook(29))]})
	count(policy.deny) == 1 with input as review({"containers": [container("app", sleep_hook(30))]})
}

test_exec_sleep_commands_are_parsed if {
	every command in [["sleep", "40"], ["/bin/sh", "-c", "sleep 40"], ["sh", "-c", "sleep 20; nginx -s quit; sleep 20"], ["/bin/sleep", "40s"]] {
		count(policy.deny) == 1 with input as review({"containers": [container("app", exec_hook(command))]})
	}
	count(policy.deny) == 0 with input as review({"containers": [container("app", exec_hook(["/bin/sh", "-c", "sleep 25"]))]})
	count(policy.deny) == 0 with input as review({"containers": [container("app", exec_hook(["/usr/bin/nosleep", "40"]))]})
}

test_patch_adds_lifecycle_when_missing if {
	pod := {"containers": [container("app", sleep_hook(5)), {"name": "worker"}]}
	policy.patch == {{"op": "add", "path": "/spec/template/spec/containers/1/lifecycle", "value": sleep_hook(5)}} with input as mutating(pod, 5)
}

test_patch_adds_pre_stop_to_existing_lifecycle if {
	pod := {"containers": [container("app", {"postStart": {"exec": {"command": ["true"]}}})]}
	policy.patch == {{"op": "add", "path": "/spec/template/spec/containers/0/lifecycle/preStop", "value": {"sleep": {"seconds": 5}}}} with input as mutating(pod, 5)
}

test_patch_replaces_null_lifecycle if {
	policy.patch == {{"op": "add", "path": "/spec/template/spec/containers/0/lifecycle", "value": sleep_hook(5)}} with input as mutating({"containers": [container("app", null)]}, 5)
}

test_no_patch_by_default_or_when_hook_exists if {
	count(policy.patch) == 0 with input as review({"containers": [{"name": "app"}]})
	count(policy.patch) == 0 with input as mutating({"containers": [container("app", exec_hook(["true"]))]}, 5)
	count(policy.patch) == 0 with input as mutating({"containers": [container("app", {"preStop": {"tcpSocket": {"port": 80}}})]}, 5)
}

test_no_patch_when_sleep_would_not_fit if {
	count(policy.patch) == 0 with input as mutating({"terminationGracePeriodSeconds": 5, "containers": [{"name": "app"}]}, 5)
	count(policy.patch) == 1 with input as mutating({"terminationGracePeriodSeconds": 6, "containers": [{"name": "app"}]}, 5)
	count(policy.patch) == 0 with input as mutating({"containers": [{"name": "app"}]}, 30)
}

test_mutation_is_idempotent if {
	pod := {"containers": [{"name": "app"}, container("sidecar", {"postStart": {"exec": {"command": ["true"]}}})]}
	ops := policy.patch with input as mutating(pod, 5)
	count(ops) == 2
	obj := json.patch(workload("Deployment", pod), [op | some path in sort({o.path | some o in ops}); some op in ops; op.path == path])
	count(policy.patch) == 0 with input as review_with("CREATE", obj, 5)
	count(policy.deny) == 0 with input as review_with("CREATE", obj, 5)
}

test_delete_is_ignored if {
	fixture := review_with("DELETE", workload("Deployment", {"containers": [{"name": "app"}]}), 5)
	count(policy.deny) == 0 with input as fixture
	count(policy.patch) == 0 with input as fixture
}

test_malformed_input_does_not_error if {
	count(policy.deny) == 0 with input as review({"terminationGracePeriodSeconds": "30", "containers": [container("app", sleep_hook(100))]})
	count(policy.deny) == 0 with input as review({"containers": [container("app", exec_hook("sleep 100"))]})
	count(policy.deny) == 0 with input as review({"containers": [container("app", {"preStop": {"sleep": {"seconds": "100"}}})]})
	count(policy.patch) == 0 with input as mutating({"containers": [container("app", "none")]}, 5)
	count(policy.patch) == 0 with input as review_with("CREATE", workload("Deployment", {"containers": [{"name": "app"}]}), "5")
	count(policy.deny) == 0 with input as {}
}

# Pods no Service routes to have no endpoints to wait for: no hook is
# asked for, and none is injected (flannel, cert-manager's controller).
test_unserved_pods_need_no_hook if {
	fixture := object.union(review({"containers": [{"name": "app"}]}), {"related": {"services": []}})
	count(policy.deny) == 0 with input as fixture
	count(policy.patch) == 0 with input as object.union(fixture, {"parameters": {"preStopSleepSeconds": 5}})
}

# MetalLB's speaker shape: a 2-second grace period, so a 5-second sleep
# alone would be cut short.
test_short_grace_period_is_raised_in_the_advice if {
	policy.deny == {sprintf("%s: container \"app\" (spec.template.spec.containers[0]) has no lifecycle.preStop hook; add preStop: {sleep: {seconds: 5}} (or an exec or httpGet hook) and raise spec.template.spec.terminationGracePeriodSeconds (now 2) above 5 so the pod keeps serving until endpoints and load balancers stop sending it traffic (Service team-a/web)", [subject])} with input as review({"terminationGracePeriodSeconds": 2, "containers": [{"name": "app"}]})
}
