# METADATA
# title: Replicas for high availability
# description: Deployments and StatefulSets run at least two replicas, or are scaled by an HPA, so a node drain or eviction never takes the last pod away.
# custom:
#   id: replicas-ha
#   action: warn
#   kinds: [Deployment, StatefulSet]
#   parameters: {}
package fluxgate.policies.replicas_ha

import data.fluxgate.lib.k8s
import data.fluxgate.lib.workload

# spec.replicas: 0 is an intentional scale-down, not a risk. A workload
# driven by an HPA is judged by its HPA, not by spec.replicas.
deny contains msg if {
	k8s.is_write
	k8s.kind in {"Deployment", "StatefulSet"}
	r := workload.replicas(k8s.resource)
	r > 0
	r < 2
	not workload.autoscaled(k8s.kind, k8s.name)
	msg := sprintf(
		"%s: spec.replicas is %s, so a node drain or eviction leaves no pod serving; set replicas: 2 or more, or add a HorizontalPodAutoscaler with minReplicas: 2 or more",
		[k8s.subject, shown_replicas],
	)
}

shown_replicas := sprintf("%v", [r]) if {
	r := k8s.present(k8s.resource, ["spec", "replicas"])
} else := "unset (defaults to 1)"
