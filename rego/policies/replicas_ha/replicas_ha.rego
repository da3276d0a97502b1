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
import data.fluxgate.lib.pdb
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
		"%s: spec.replicas is %s, so a node drain or eviction leaves no pod serving; %s",
		[k8s.subject, shown_replicas, advice],
	)
}

# The advice depends on what a second copy needs, because "add a replica"
# is wrong for software that must never run twice (a controller without
# leader election, an IP allocator, a single-member database): it asks
# first whether two copies can run at once, and names the way to declare
# that they cannot.
#
# A second replica of a Deployment whose pods share a PersistentVolumeClaim
# cannot mount a ReadWriteOnce claim on another node, so the advice names
# what does work (a claim known to be ReadWriteMany is no obstacle).
advice := sprintf(
	"its pods share PersistentVolumeClaim %s, so a second replica needs a ReadWriteMany claim: use one and set replicas: 2, or run it as a StatefulSet with volumeClaimTemplates and replicas: 2 or more%s",
	[concat(", ", workload.unshared_claims), budget_hint],
) if {
	k8s.kind == "Deployment"
	count(workload.unshared_claims) > 0
} else := sprintf(
	"it rolls with Recreate as a single writer, so every rollout stops it too; accepted, since nothing else guarantees it never runs twice. If two copies may run at once (leader election, for example), set replicas: 2 or more with type: RollingUpdate%s",
	[budget_hint],
) if {
	k8s.kind == "Deployment"
	input.request.object.spec.strategy.type == "Recreate"
} else := sprintf(
	"if two copies can run at once (a stateless server, or a controller with leader election), set replicas: 2 or more, or add a HorizontalPodAutoscaler with minReplicas: 2 or more%s; if it must never run twice, declare it a single writer with spec.strategy.type: Recreate",
	[budget_hint],
) if {
	k8s.kind == "Deployment"
} else := sprintf(
	"if the application runs as several members (replication, leader election), set replicas: 2 or more%s; a single-member StatefulSet is down while its node drains",
	[budget_hint],
)

# Two replicas need a budget (pdb-coverage), so advice that stopped at the
# replica count would trade this warning for a denial.
budget_hint := "" if {
	some p in k8s.related("poddisruptionbudgets")
	pdb.selects_resource(p)
} else := ", together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow"

shown_replicas := sprintf("%v", [r]) if {
	r := input.request.object.spec.replicas
	r != null
} else := "unset (defaults to 1)"
