package fluxgate.lib.service

import data.fluxgate.lib.k8s

# Whether a Service routes traffic to a workload's pods decides how much a
# missing readiness probe or preStop hook costs: with no Service, nothing
# is sent to a pod that is not ready yet or is shutting down.

# serves holds when Service svc sends traffic to pods with labels: a
# non-empty spec.selector whose every pair the labels carry, and a port
# that is not only for metrics. A Service without a selector (endpoints
# managed by hand, ExternalName) selects no pods; a headless Service
# without ports still gives each pod its DNS name, so it counts.
serves(svc, labels) if {
	sel := svc.spec.selector
	is_object(sel)
	count(sel) > 0
	every k, v in sel {
		labels[k] == v
	}
	carries_traffic(svc)
}

# Controllers commonly have a Service only for Prometheus to scrape
# (cert-manager's, prometheus-operator's own): a scrape missed during a
# rollout costs no user a request, so a Service whose every port is named
# for metrics, or targets a port so named, does not count.
carries_traffic(svc) if {
	ports := object.get(svc, ["spec", "ports"], [])
	is_array(ports)
	count(ports) == 0
}

carries_traffic(svc) if {
	some p in svc.spec.ports
	not metrics_port(p)
}

metrics_port(p) if metrics_name(p.name)

metrics_port(p) if metrics_name(p.targetPort)

metrics_name(n) if {
	is_string(n)
	regex.match(`(?i)metrics|prometheus`, n)
}

# resource_services are the related Services that route traffic to the
# pods of the object under review, by name, sorted.
resource_services := sort({k8s.name_of(svc) |
	some svc in k8s.related("services")
	serves(svc, k8s.resource_pod_labels)
})

resource_served if count(resource_services) > 0

# names renders resource_services for messages.
names := concat(", ", [qualified(n) | some n in resource_services])

qualified(n) := sprintf("%s/%s", [k8s.namespace, n]) if k8s.namespace != ""

else := n
