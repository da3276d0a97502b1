# METADATA
# title: Readiness probe
# description: Every container, including native sidecars, declares a readinessProbe, so a pod only receives traffic once it can serve and a rollout only removes old pods after their replacements are ready.
# custom:
#   id: readiness-probe
#   action: deny
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters: {}
package fluxgate.policies.readiness_probe

import data.fluxgate.lib.k8s

# Without a probe a container counts as ready the moment it starts, which
# lets rollouts and drains remove the old pods too early. The raw container
# lists are iterated so that names and paths are only built for findings;
# a probe that is null or false counts as missing (see k8s.present).
deny contains msg if {
	k8s.is_write
	some i, c in k8s.pod_containers
	is_object(c)
	object.get(c, "readinessProbe", null) in {null, false}
	msg := sprintf(
		"%s: container %q (%s) has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready",
		[k8s.subject, k8s.container_name(c, i), k8s.container_path("containers", i)],
	)
}

# A native sidecar (restartPolicy: Always) gates pod readiness like an app
# container, e.g. a proxy that must be up before traffic flows through it.
deny contains msg if {
	k8s.is_write
	some i, c in k8s.pod_init_containers
	c.restartPolicy == "Always"
	object.get(c, "readinessProbe", null) in {null, false} # c has a restartPolicy, so it is an object
	msg := sprintf(
		"%s: sidecar init container %q (%s, restartPolicy: Always) has no readinessProbe; add one so the pod is only marked ready once the sidecar can serve",
		[k8s.subject, k8s.container_name(c, i), k8s.container_path("initContainers", i)],
	)
}
