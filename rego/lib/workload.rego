package fluxgate.lib.workload

import data.fluxgate.lib.k8s

# replicas is spec.replicas with the API server default of 1. A value of
# the wrong type is left undefined so rules built on it stay silent rather
# than judging a number we made up.
replicas(obj) := r if {
	r := obj.spec.replicas
	is_number(r)
} else := 1 if {
	k8s.get(obj, ["spec", "replicas"], null) == null
}

# resource_replicas is replicas(k8s.resource), computed once.
resource_replicas := r if {
	r := input.request.object.spec.replicas
	is_number(r)
} else := 1 if {
	object.get(k8s.resource, ["spec", "replicas"], null) == null
}

targets(hpa, kind, name) if {
	hpa.spec.scaleTargetRef.kind == kind
	hpa.spec.scaleTargetRef.name == name
}

hpa_min_replicas(hpa) := m if {
	m := hpa.spec.minReplicas
	is_number(m)
} else := 1

hpa_minimums(kind, name) := {hpa_min_replicas(h) |
	some h in k8s.related("horizontalpodautoscalers")
	h.spec.scaleTargetRef.kind == kind
	h.spec.scaleTargetRef.name == name
}

autoscaled(kind, name) if count(hpa_minimums(kind, name)) > 0

# expected is how many pods the workload keeps at its low point: an HPA
# may scale down to minReplicas, and spec.replicas no longer applies. With
# several HPAs (a misconfiguration) the smallest minimum is the safe bet.
expected(kind, name, obj) := min(m) if {
	m := hpa_minimums(kind, name)
	count(m) > 0
} else := replicas(obj)

# resource_hpa_minimums, resource_autoscaled and resource_expected are the
# functions above for the object under review, computed once.
resource_hpa_minimums := {hpa_min_replicas(h) |
	hpas := input.related.horizontalpodautoscalers
	is_array(hpas)
	some h in hpas
	h.spec.scaleTargetRef.kind == k8s.kind
	h.spec.scaleTargetRef.name == k8s.name
}

resource_autoscaled if count(resource_hpa_minimums) > 0

resource_expected := min(resource_hpa_minimums) if {
	count(resource_hpa_minimums) > 0
} else := resource_replicas

# under_review is the workload being admitted, in the same shape as others.
under_review := {"kind": k8s.kind, "name": k8s.name, "object": k8s.resource}

related_kinds := {"Deployment": "deployments", "StatefulSet": "statefulsets"}

# others are the related Deployments and StatefulSets, the workloads a node
# drain evicts under a PodDisruptionBudget (drains skip DaemonSet pods). The
# object under review is excluded even if a stale copy shows up.
others := [w |
	some kind, key in related_kinds
	list := input.related[key] # k8s.related(key), inlined
	is_array(list)
	some obj in list
	is_object(obj)
	name := k8s.or_empty(object.get(obj, ["metadata", "name"], ""))
	not is_under_review(kind, name)
	w := {"kind": kind, "name": name, "object": obj}
]

is_under_review(kind, name) if {
	k8s.kind == kind
	k8s.name == name
}

# resource_claims are the PersistentVolumeClaims the pods of the object
# under review mount, sorted: every pod shares them (generic ephemeral
# volumes, one claim per pod, are not among them).
resource_claims := sort({name |
	volumes := input.request.object.spec.template.spec.volumes
	is_array(volumes)
	some v in volumes
	name := v.persistentVolumeClaim.claimName
	is_string(name)
})

# unshared_claims are the resource_claims that old and new pods, or pods
# on different nodes, may not be able to mount at once: all but those a
# related PersistentVolumeClaim of the namespace declares ReadWriteMany. A
# claim fluxgate cannot see (not yet created, or not among the manifests
# checked) counts as unshared, since ReadWriteOnce is what most storage
# gives.
unshared_claims := [name |
	some name in resource_claims
	not read_write_many(name)
]

read_write_many(name) if {
	some pvc in k8s.related("persistentvolumeclaims")
	k8s.name_of(pvc) == name
	modes := object.get(pvc, ["spec", "accessModes"], [])
	is_array(modes)
	"ReadWriteMany" in modes
}
