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

# The resource_* rules are the functions above applied to the object under
# review, computed once per evaluation. "none" stands for undefined.
replicas_of(obj) := r if {
	r := workload.replicas(obj)
} else := "none"

resource_replicas := r if {
	r := workload.resource_replicas
} else := "none"

expected_of(obj) := e if {
	e := workload.expected("Deployment", "web", obj)
} else := "none"

resource_expected := e if {
	e := workload.resource_expected
} else := "none"

test_resource_rules_match_the_functions if {
	hpas := {"horizontalpodautoscalers": [hpa("Deployment", "web", 4), hpa("Deployment", "web", 3), hpa("Deployment", "api", 1)]}
	every replicas in [0, 2, null, "3"] {
		obj := deployment("web", replicas)
		replicas_of(obj) == resource_replicas with input as review(obj, {})
		expected_of(obj) == resource_expected with input as review(obj, {})
		expected_of(obj) == resource_expected with input as review(obj, hpas)
		workload.resource_expected == 3 with input as review(obj, hpas)
		workload.resource_autoscaled with input as review(obj, hpas)
		not workload.resource_autoscaled with input as review(obj, {})
	}
	replicas_of("garbage") == resource_replicas with input as review("garbage", {})
}

test_resource_claims_lists_shared_claims_only if {
	obj := {"spec": {"template": {"spec": {"volumes": [
		{"name": "b", "persistentVolumeClaim": {"claimName": "zeta"}},
		{"name": "a", "persistentVolumeClaim": {"claimName": "alpha"}},
		{"name": "c", "emptyDir": {}},
		{"name": "d", "ephemeral": {"volumeClaimTemplate": {}}},
		{"name": "e", "persistentVolumeClaim": {"claimName": 7}},
		"not a volume",
	]}}}}
	workload.resource_claims == ["alpha", "zeta"] with input as {"request": {"object": obj}}
	workload.resource_claims == [] with input as {"request": {"object": {"spec": {"template": {"spec": {"volumes": "x"}}}}}}
}

pvc(name, modes) := {"metadata": {"name": name}, "spec": {"accessModes": modes}}

test_unshared_claims_leave_out_read_write_many if {
	obj := {"spec": {"template": {"spec": {"volumes": [
		{"name": "a", "persistentVolumeClaim": {"claimName": "shared"}},
		{"name": "b", "persistentVolumeClaim": {"claimName": "once"}},
		{"name": "c", "persistentVolumeClaim": {"claimName": "unseen"}},
	]}}}}
	related := {"persistentvolumeclaims": [
		pvc("shared", ["ReadWriteMany"]),
		pvc("once", ["ReadWriteOnce"]),
		{"metadata": {"name": "garbage"}, "spec": {"accessModes": "ReadWriteMany"}},
	]}
	workload.unshared_claims == ["once", "unseen"] with input as {"request": {"object": obj}, "related": related}
	workload.unshared_claims == ["once", "shared", "unseen"] with input as {"request": {"object": obj}}
}
