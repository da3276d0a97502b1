package fluxgate.lib.workload_test

import data.fluxgate.lib.workload

deployment(name, replicas) := {
	"kind": "Deployment",
	"metadata": {"name": name},
	"spec": {"replicas": replicas},
}

hpa(kind, name, min_replicas) := {"spec": {
	"scaleTargetRef": {"apiVersion": "apps/v1", "kind": kind, "name": name},
	"minReplicas": min_replicas,
}}

review(obj, related) := {
	"request": {
		"operation": "UPDATE",
		"kind": {"group": "apps", "version": "v1", "kind": "Deployment"},
		"namespace": "team-a", "name": "web", "object": obj,
	},
	"related": object.union(
		{
			"deployments": [], "statefulsets": [], "daemonsets": [],
			"poddisruptionbudgets": [], "horizontalpodautoscalers": [],
		},
		related,
	),
}

test_replicas_default_to_one if {
	workload.replicas({"spec": {}}) == 1
	workload.replicas({}) == 1
	workload.replicas({"spec": {"replicas": null}}) == 1
	workload.replicas({"spec": {"replicas": 0}}) == 0
	workload.replicas({"spec": {"replicas": 4}}) == 4
}

test_replicas_of_wrong_type_are_undefined if {
	not workload.replicas({"spec": {"replicas": "3"}})
}

test_expected_uses_replicas_without_hpa if {
	workload.expected("Deployment", "web", deployment("web", 3)) == 3 with input as review({}, {})
}

test_expected_uses_hpa_min_replicas if {
	fixture := review({}, {"horizontalpodautoscalers": [hpa("Deployment", "web", 4)]})
	workload.expected("Deployment", "web", deployment("web", 10)) == 4 with input as fixture
	workload.autoscaled("Deployment", "web") with input as fixture
}

test_hpa_min_replicas_defaults_to_one if {
	fixture := review({}, {"horizontalpodautoscalers": [{"spec": {"scaleTargetRef": {"kind": "Deployment", "name": "web"}}}]})
	workload.expected("Deployment", "web", deployment("web", 10)) == 1 with input as fixture
}

test_hpa_must_match_kind_and_name if {
	fixture := review({}, {"horizontalpodautoscalers": [
		hpa("StatefulSet", "web", 4),
		hpa("Deployment", "api", 4),
	]})
	workload.expected("Deployment", "web", deployment("web", 3)) == 3 with input as fixture
	not workload.autoscaled("Deployment", "web") with input as fixture
}

test_several_hpas_take_the_smallest_minimum if {
	fixture := review({}, {"horizontalpodautoscalers": [hpa("Deployment", "web", 4), hpa("Deployment", "web", 2)]})
	workload.expected("Deployment", "web", deployment("web", 10)) == 2 with input as fixture
}

test_others_exclude_the_object_under_review if {
	fixture := review(deployment("web", 2), {
		"deployments": [deployment("web", 5), deployment("api", 2), "garbage"],
		"statefulsets": [{"metadata": {"name": "web"}}],
	})
	names := {sprintf("%s/%s", [w.kind, w.name]) | some w in workload.others} with input as fixture
	names == {"Deployment/api", "StatefulSet/web"}
}

test_under_review if {
	w := workload.under_review with input as review(deployment("web", 2), {})
	w.kind == "Deployment"
	w.name == "web"
	w.object.spec.replicas == 2
}
