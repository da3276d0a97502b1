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
# lets rollouts and drains remove the old pods too early.
deny contains msg if {
	k8s.is_write
	some e in k8s.containers(k8s.resource)
	not k8s.present(e.container, ["readinessProbe"])
	msg := sprintf(
		"%s: container %q (%s) has no readinessProbe; add one (httpGet, tcpSocket, grpc or exec) so the pod only receives traffic, and the rollout only proceeds, once it is ready",
		[k8s.subject, e.name, e.path],
	)
}

# A native sidecar (restartPolicy: Always) gates pod readiness like an app
# container, e.g. a proxy that must be up before traffic flows through it.
deny contains msg if {
	k8s.is_write
	some e in k8s.sidecars(k8s.resource)
	not k8s.present(e.container, ["readinessProbe"])
	msg := sprintf(
		"%s: sidecar init container %q (%s, restartPolicy: Always) has no readinessProbe; add one so the pod is only marked ready once the sidecar can serve",
		[k8s.subject, e.name, e.path],
	)
}
