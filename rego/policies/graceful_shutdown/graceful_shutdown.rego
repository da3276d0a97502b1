# METADATA
# title: Graceful shutdown
# description: Containers get a preStop hook and a termination grace period longer than its sleep, so pods keep serving while they are removed from load balancers and finish in-flight work before being killed.
# custom:
#   id: graceful-shutdown
#   action: warn
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters:
#     preStopSleepSeconds: 0
package fluxgate.policies.graceful_shutdown

import data.fluxgate.lib.k8s

grace_field := "spec.template.spec.terminationGracePeriodSeconds"

# The API server defaults the grace period to 30 seconds. A value of the
# wrong type leaves it undefined and silences the rules that compare it.
grace_period := g if {
	g := k8s.present(k8s.resource, ["spec", "template", "spec", "terminationGracePeriodSeconds"])
	is_number(g)
} else := 30 if {
	not k8s.present(k8s.resource, ["spec", "template", "spec", "terminationGracePeriodSeconds"])
}

has_pre_stop(c) if {
	some handler in ["sleep", "exec", "httpGet"]
	k8s.present(k8s.object_at(c, ["lifecycle", "preStop"]), [handler])
}

# pre_stop_sleep is how long the hook keeps the pod alive on purpose: the
# native sleep action, or sleep commands in an exec hook (summed, since a
# script may sleep more than once).
pre_stop_sleep(c) := s if {
	s := c.lifecycle.preStop.sleep.seconds
	is_number(s)
} else := s if {
	command := k8s.array_at(c, ["lifecycle", "preStop", "exec", "command"])
	line := concat(" ", [part | some part in command; is_string(part)])
	found := regex.find_all_string_submatch_n(`(?:^|[\s;&|(/'"])sleep\s+([0-9]+(?:\.[0-9]+)?)s?\b`, line, -1)
	count(found) > 0
	s := sum([to_number(m[1]) | some m in found])
}

sleep_hint := n if {
	n := k8s.parameters.preStopSleepSeconds
	is_number(n)
	n > 0
} else := 5

deny contains msg if {
	k8s.is_write
	some e in k8s.containers(k8s.resource)
	not has_pre_stop(e.container)
	msg := sprintf(
		"%s: container %q (%s) has no lifecycle.preStop hook; add preStop: {sleep: {seconds: %v}} (or an exec or httpGet hook) so the pod keeps serving until endpoints and load balancers stop sending it traffic",
		[k8s.subject, e.name, e.path, sleep_hint],
	)
}

deny contains msg if {
	k8s.is_write
	grace_period == 0
	msg := sprintf(
		"%s: %s is 0, so pods are killed at once without running preStop hooks or shutting down gracefully; remove it (defaults to 30) or set it above the preStop sleep",
		[k8s.subject, grace_field],
	)
}

# Kubernetes counts the preStop hook against the grace period, so a sleep
# that fills it leaves the application no time to stop after SIGTERM.
deny contains msg if {
	k8s.is_write
	grace_period > 0
	some e in k8s.containers(k8s.resource)
	s := pre_stop_sleep(e.container)
	s >= grace_period
	msg := sprintf(
		"%s: container %q (%s) sleeps %s in its preStop hook but %s is %v; set it above %v so the application still gets time to shut down after the sleep",
		[k8s.subject, e.name, e.path, k8s.quantity(s, "second"), grace_field, grace_period, s],
	)
}

# Mutation adds the native sleep action where no preStop exists, and only
# when it fits into the grace period; otherwise the deny rules explain.
inject_seconds := n if {
	n := k8s.parameters.preStopSleepSeconds
	is_number(n)
	n > 0
	grace_period > n
}

patch contains {"op": "add", "path": sprintf("%s/lifecycle", [e.pointer]), "value": value} if {
	k8s.is_write
	inject_seconds
	some e in k8s.containers(k8s.resource)
	not k8s.present(e.container, ["lifecycle"])
	value := {"preStop": {"sleep": {"seconds": inject_seconds}}}
}

patch contains {"op": "add", "path": sprintf("%s/lifecycle/preStop", [e.pointer]), "value": value} if {
	k8s.is_write
	inject_seconds
	some e in k8s.containers(k8s.resource)
	is_object(e.container.lifecycle)
	not k8s.present(e.container.lifecycle, ["preStop"])
	value := {"sleep": {"seconds": inject_seconds}}
}
