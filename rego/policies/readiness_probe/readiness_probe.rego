# METADATA
# title: Readiness probe
# description: Every container, including native sidecars, declares a readinessProbe, so a pod only receives traffic once it can serve and a rollout only removes old pods after their replacements are ready. Denied where a Service sends the pods traffic; a warning for pods no Service selects (controllers, node agents), where a missing probe only lets a rollout move on early.
# custom:
#   id: readiness-probe
#   action: deny
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters: {}
package fluxgate.policies.readiness_probe

import data.fluxgate.lib.k8s
import data.fluxgate.lib.service

# Without a probe a container counts as ready the moment it starts, which
# lets rollouts and drains remove the old pods too early. The raw container
# lists are iterated so that names and paths are only built for findings;
# a probe that is null or false counts as missing (see k8s.present).
missing contains {"what": sprintf("container %q (%s)", [k8s.container_name(c, i), k8s.container_path("containers", i)]), "why": "so the pod only receives traffic, and the rollout only proceeds, once it is ready"} if {
	k8s.is_write
	some i, c in k8s.pod_containers
	is_object(c)
	object.get(c, "readinessProbe", null) in {null, false}
}

# A native sidecar (restartPolicy: Always) gates pod readiness like an app
# container, e.g. a proxy that must be up before traffic flows through it.
missing contains {"what": sprintf("sidecar init container %q (%s, restartPolicy: Always)", [k8s.container_name(c, i), k8s.container_path("initContainers", i)]), "why": "so the pod is only marked ready once the sidecar can serve"} if {
	k8s.is_write
	some i, c in k8s.pod_init_containers
	c.restartPolicy == "Always"
	object.get(c, "readinessProbe", null) in {null, false} # c has a restartPolicy, so it is an object
}

# Traffic is what a pod that is not ready yet loses: where a Service
# routes to the pods, a missing probe drops requests on every rollout.
deny contains msg if {
	some m in missing
	service.resource_served
	msg := sprintf(
		"%s: %s has no readinessProbe, and Service %s sends its pods traffic; add one (httpGet, tcpSocket, grpc or exec) %s",
		[k8s.subject, m.what, service.names, m.why],
	)
}

# Without a Service (controllers, node agents, workers) nothing is sent to
# an unready pod; the probe still keeps a rollout from moving on before
# the new pod works, so it is a warning there.
warn contains msg if {
	some m in missing
	not service.resource_served
	msg := sprintf(
		"%s: %s has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the rollout only proceeds once it is ready (no Service selects its pods, so no traffic is lost meanwhile)",
		[k8s.subject, m.what],
	)
}
