package fluxgate.lib.service

import data.fluxgate.lib.k8s

# Whether a Service routes traffic to a workload's pods decides how much a
# missing readiness probe or preStop hook costs: with no Service, nothing
# is sent to a pod that is not ready yet or is shutting down.

# serves holds when Service svc selects pods with labels: a non-empty
# spec.selector whose every pair the labels carry. A Service without a
# selector (endpoints managed by hand, ExternalName) selects no pods.
serves(svc, labels) if {
	sel := svc.spec.selector
	is_object(sel)
	count(sel) > 0
	every k, v in sel {
		labels[k] == v
	}
}

# resource_services are the related Services that route traffic to the
# pods of the object under review, by name, sorted.
resource_services := sort({k8s.name_of(svc) |
	some svc in k8s.related("services")
	serves(svc, k8s.resource_pod_labels)
})

resource_served if count(resource_services) > 0

# names renders resource_services for messages.
names := concat(", ", [sprintf("%s/%s", [k8s.namespace, n]) | some n in resource_services])
