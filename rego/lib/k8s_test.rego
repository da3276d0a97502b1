package fluxgate.lib.k8s_test

import data.fluxgate.lib.k8s

deployment := {
	"kind": "Deployment",
	"metadata": {"name": "web", "namespace": "team-a"},
	"spec": {"template": {"spec": {
		"containers": [{"name": "app"}, "garbage", {"image": "nameless"}],
		"initContainers": [
			{"name": "migrate"},
			{"name": "proxy", "restartPolicy": "Always"},
		],
	}}},
}

request(operation, obj) := {"request": {
	"operation": operation,
	"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
	"namespace": "team-a",
	"name": "web",
	"object": obj,
}}

test_get_tolerates_non_objects if {
	k8s.get("text", ["a"], 1) == 1
	k8s.get({"a": "text"}, ["a", "b"], 2) == 2
	k8s.get({"a": {"b": 3}}, ["a", "b"], 0) == 3
}

test_present_treats_null_as_absent if {
	not k8s.present({"a": null}, ["a"])
	not k8s.present({}, ["a"])
	k8s.present({"a": 0}, ["a"]) == 0
}

test_typed_accessors_fall_back_on_wrong_types if {
	k8s.object_at({"a": [1]}, ["a"]) == {}
	k8s.array_at({"a": {}}, ["a"]) == []
	k8s.string_at({"a": 1}, ["a"]) == ""
	k8s.array_at({"a": [1]}, ["a"]) == [1]
}

test_write_operations if {
	k8s.is_write with input as request("CREATE", deployment)
	k8s.is_write with input as request("UPDATE", deployment)
	not k8s.is_write with input as request("DELETE", null)
	not k8s.is_write with input as request("CONNECT", deployment)
	not k8s.is_write with input as {}
}

test_subject_names_kind_namespace_and_name if {
	k8s.subject == "Deployment team-a/web" with input as request("CREATE", deployment)
}

test_subject_falls_back_to_object_fields if {
	k8s.subject == "Deployment team-a/web" with input as {"request": {"object": deployment}}
}

test_subject_with_generate_name_uses_request_name if {
	obj := object.union(deployment, {"metadata": {"generateName": "web-"}})
	k8s.subject == "Deployment team-a/web" with input as request("CREATE", obj)
}

test_describe_related_object_defaults_to_request_namespace if {
	k8s.describe("PodDisruptionBudget", {"metadata": {"name": "web"}}) == "PodDisruptionBudget team-a/web" with input as request("CREATE", deployment)
	k8s.describe("PodDisruptionBudget", {"metadata": {"name": "web", "namespace": "x"}}) == "PodDisruptionBudget x/web"
}

test_containers_keep_positions_and_skip_garbage if {
	k8s.containers(deployment) == [
		{
			"index": 0, "name": "app", "container": {"name": "app"},
			"path": "spec.template.spec.containers[0]",
			"pointer": "/spec/template/spec/containers/0",
		},
		{
			"index": 2, "name": "#2", "container": {"image": "nameless"},
			"path": "spec.template.spec.containers[2]",
			"pointer": "/spec/template/spec/containers/2",
		},
	]
}

test_sidecars_are_init_containers_that_always_restart if {
	[e.name | some e in k8s.sidecars(deployment)] == ["proxy"]
	[e.path | some e in k8s.sidecars(deployment)] == ["spec.template.spec.initContainers[1]"]
}

test_containers_of_malformed_workloads_are_empty if {
	k8s.containers({}) == []
	k8s.containers({"spec": "nope"}) == []
	k8s.containers({"spec": {"template": {"spec": {"containers": {"name": "x"}}}}}) == []
	k8s.sidecars(null) == []
}

test_related_lists_default_to_empty if {
	k8s.related("deployments") == [] with input as {}
	k8s.related("deployments") == [] with input as {"related": {"deployments": null}}
	k8s.related("deployments") == [{"a": 1}] with input as {"related": {"deployments": [{"a": 1}]}}
}

test_complete_only_when_true if {
	k8s.complete with input as {"context": {"complete": true}}
	not k8s.complete with input as {"context": {"complete": false}}
	not k8s.complete with input as {"context": {"complete": "true"}}
	not k8s.complete with input as {}
}

test_shown_makes_defaults_visible if {
	k8s.shown({"a": 2}, "a", 1) == "2"
	k8s.shown({"a": "25%"}, "a", 1) == "25%"
	k8s.shown({"a": null}, "a", 1) == "unset (defaults to 1)"
	k8s.shown({}, "a", "25%") == "unset (defaults to 25%)"
}

test_add_or_replace if {
	k8s.add_or_replace({"a": 0}, "a") == "replace"
	k8s.add_or_replace({"a": null}, "a") == "add"
	k8s.add_or_replace({}, "a") == "add"
}

test_host_ports_cover_init_containers if {
	obj := {"spec": {"template": {"spec": {
		"containers": [{"name": "app", "ports": [{"containerPort": 80}, {"containerPort": 9100, "hostPort": 9100}]}],
		"initContainers": [{"name": "agent", "ports": [{"hostPort": 8125}, {"hostPort": 0}, {"hostPort": "1"}]}],
	}}}}
	k8s.host_ports(obj) == [{"container": "app", "port": 9100}, {"container": "agent", "port": 8125}]
	k8s.host_ports({"spec": {"template": {"spec": {"containers": [{"name": "app", "ports": "80"}]}}}}) == []
}

test_value_or_defaults_absent_and_null if {
	k8s.value_or({"a": null}, ["a"], 1) == 1
	k8s.value_or({}, ["a"], 1) == 1
	k8s.value_or({"a": 0}, ["a"], 1) == 0
	k8s.value_or("x", ["a"], 1) == 1
}

test_quantity if {
	k8s.quantity(1, "pod") == "1 pod"
	k8s.quantity(0, "pod") == "0 pods"
	k8s.quantity(3, "pod") == "3 pods"
}

# The resource_* and pod_* rules are the functions above applied to the
# object under review, computed once per evaluation.
test_resource_rules_match_the_functions if {
	obj := {"spec": {"template": {
		"metadata": {"labels": {"app": "web"}},
		"spec": {
			"containers": [{"name": "app", "ports": [{"hostPort": 80}]}, "garbage", {"ports": [{"hostPort": 81}]}],
			"initContainers": [{"name": "agent", "ports": [{"hostPort": 8125}]}],
		},
	}}}
	fixture := request("CREATE", obj)
	k8s.pod_containers == obj.spec.template.spec.containers with input as fixture
	k8s.pod_init_containers == obj.spec.template.spec.initContainers with input as fixture
	k8s.resource_pod_labels == k8s.pod_labels(obj) with input as fixture
	k8s.resource_host_ports == k8s.host_ports(obj) with input as fixture
	k8s.resource_host_ports == [{"container": "app", "port": 80}, {"container": "#2", "port": 81}, {"container": "agent", "port": 8125}] with input as fixture
}

test_resource_rules_of_malformed_objects_are_empty if {
	every obj in [null, "x", {"spec": {"template": {"spec": {"containers": {"name": "x"}, "initContainers": "x"}}}}] {
		k8s.pod_containers == [] with input as request("CREATE", obj)
		k8s.pod_init_containers == [] with input as request("CREATE", obj)
		k8s.resource_pod_labels == {} with input as request("CREATE", obj)
		k8s.resource_host_ports == [] with input as request("CREATE", obj)
	}
}

test_or_empty if {
	k8s.or_empty("a") == "a"
	k8s.or_empty(1) == ""
	k8s.or_empty(null) == ""
}

test_subject_without_namespace if {
	k8s.subject == "Deployment podinfo" with input as {"request": {"kind": {"kind": "Deployment"}, "object": {"metadata": {"name": "podinfo"}}}}
}
