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
}

create(pod_spec) := review("CREATE", "Deployment", pod_spec)

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
	policy.deny == {"Deployment team-a/web: container \"app\" (spec.template.spec.containers[0]) has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready"} with input as create({"containers": [{"name": "app"}]})
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
	policy.deny == {"StatefulSet team-a/web: sidecar init container \"proxy\" (spec.template.spec.initContainers[1], restartPolicy: Always) has no readinessProbe; add one so the pod is only marked ready once the sidecar can serve"} with input as review("UPDATE", "StatefulSet", pod)
}

test_plain_init_containers_need_no_probe if {
	count(policy.deny) == 0 with input as create({
		"containers": [{"name": "app", "readinessProbe": probe}],
		"initContainers": [{"name": "migrate", "restartPolicy": "OnFailure"}, {"name": "setup"}],
	})
}

test_unnamed_container_is_named_by_index if {
	policy.deny == {"Deployment team-a/web: container \"#0\" (spec.template.spec.containers[0]) has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready"} with input as create({"containers": [{"image": "web:1"}]})
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
