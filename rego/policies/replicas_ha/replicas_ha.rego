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
# driven by an HPA is judged by its HPA, not by spec.replicas. The cheap
# checks on the object come first; the HPA lookup only runs for a finding.
deny contains msg if {
	k8s.is_write
	r := workload.resource_replicas
	r > 0
	r < 2
	k8s.kind in {"Deployment", "StatefulSet"}
	not workload.resource_autoscaled
	msg := sprintf(
		"%s: spec.replicas is %s, so a node drain or eviction leaves no pod serving; set replicas: 2 or more, or add a HorizontalPodAutoscaler with minReplicas: 2 or more",
		[k8s.subject, shown_replicas],
	)
}

shown_replicas := sprintf("%v", [r]) if {
	r := input.request.object.spec.replicas
	r != null
} else := "unset (defaults to 1)"
