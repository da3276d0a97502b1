package fluxgate.policies.readiness_probe_test

import data.fluxgate.policies.readiness_probe as policy

probe := {"httpGet": {"path": "/ready", "port": 8080}}

review(operation, kind, pod_spec) := {
	"request": {
		"operation": operation,
		"kind": {"group": "apps", "version": "v1", "kind": kind},
		"namespace": "team-a", "name": "web",
		"object": {
			"kind": kind,
			"metadata": {"name": "web", "namespace": "team-a"},
			"spec": {"template": {"metadata": {"labels": {"app": "web"}}, "spec": pod_spec}},
		},
	},
	"parameters": {},
	"related": {"services": [{"metadata": {"name": "web"}, "spec": {"selector": {"app": "web"}}}]},
}

create(pod_spec) := review("CREATE", "Deployment", pod_spec)

# unserved is a review where no Service selects the pods.
unserved(kind, pod_spec) := object.union(review("CREATE", kind, pod_spec), {"related": {"services": [{"metadata": {"name": "api"}, "spec": {"selector": {"app": "api"}}}]}})

test_probed_containers_are_compliant if {
	pod := {
		"containers": [{"name": "app", "readinessProbe": probe}, {"name": "log", "readinessProbe": {"exec": {"command": ["true"]}}}],
		"initContainers": [{"name": "migrate"}, {"name": "proxy", "restartPolicy": "Always", "readinessProbe": probe}],
	}
	every kind in ["Deployment", "StatefulSet", "DaemonSet"] {
		count(policy.deny) == 0 with input as review("CREATE", kind, pod)
	}
}

test_container_without_probe if {
	policy.deny == {"Deployment team-a/web: container \"app\" (spec.template.spec.containers[0]) has no readinessProbe, and Service team-a/web sends its pods traffic; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready"} with input as create({"containers": [{"name": "app"}]})
}

test_one_message_per_container if {
	pod := {"containers": [{"name": "app"}, {"name": "worker", "readinessProbe": null}, {"name": "ok", "readinessProbe": probe}]}
	count(policy.deny) == 2 with input as create(pod)
}

test_sidecar_without_probe if {
	pod := {
		"containers": [{"name": "app", "readinessProbe": probe}],
		"initContainers": [{"name": "migrate"}, {"name": "proxy", "restartPolicy": "Always"}],
	}
	policy.deny == {"StatefulSet team-a/web: sidecar init container \"proxy\" (spec.template.spec.initContainers[1], restartPolicy: Always) has no readinessProbe, and Service team-a/web sends its pods traffic; add one (httpGet, tcpSocket, grpc or exec) so the pod is only marked ready once the sidecar can serve"} with input as review("UPDATE", "StatefulSet", pod)
}

test_plain_init_containers_need_no_probe if {
	count(policy.deny) == 0 with input as create({
		"containers": [{"name": "app", "readinessProbe": probe}],
		"initContainers": [{"name": "migrate", "restartPolicy": "OnFailure"}, {"name": "setup"}],
	})
}

test_unnamed_container_is_named_by_index if {
	policy.deny == {"Deployment team-a/web: container \"#0\" (spec.template.spec.containers[0]) has no readinessProbe, and Service team-a/web sends its pods traffic; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready"} with input as create({"containers": [{"image": "web:1"}]})
}

test_delete_is_ignored if {
	fixture := json.patch(create({"containers": [{"name": "app"}]}), [
		{"op": "replace", "path": "/request/operation", "value": "DELETE"},
		{"op": "replace", "path": "/request/object", "value": null},
	])
	count(policy.deny) == 0 with input as fixture
}

test_malformed_input_does_not_error if {
	count(policy.deny) == 0 with input as {}
	count(policy.deny) == 0 with input as {"request": {"operation": "CREATE", "object": {"spec": 3}}}
	count(policy.deny) == 0 with input as create({"containers": "app"})
	count(policy.deny) == 0 with input as create({"containers": [null, 7]})
}

# Controllers and node agents that no Service selects lose no traffic to a
# missing probe: a warning, not a denial (cert-manager's controller,
# prometheus-operator).
test_unserved_pods_are_warned_not_denied if {
	every kind in ["Deployment", "StatefulSet", "DaemonSet"] {
		count(policy.deny) == 0 with input as unserved(kind, {"containers": [{"name": "app"}]})
	}
	policy.warn == {"Deployment team-a/web: container \"app\" (spec.template.spec.containers[0]) has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the rollout only proceeds once it is ready (no Service selects its pods, so no traffic is lost meanwhile)"} with input as unserved("Deployment", {"containers": [{"name": "app"}]})
}

test_served_pods_get_no_warning if {
	count(policy.warn) == 0 with input as create({"containers": [{"name": "app"}]})
}
