# METADATA
# title: Graceful shutdown
# description: Containers of pods a Service routes to get a preStop hook, and every container a termination grace period longer than its sleep, so pods keep serving while they are removed from load balancers and finish in-flight work before being killed.
# custom:
#   id: graceful-shutdown
#   action: warn
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters:
#     preStopSleepSeconds: 0
package fluxgate.policies.graceful_shutdown

import data.fluxgate.lib.k8s
import data.fluxgate.lib.service

grace_field := "spec.template.spec.terminationGracePeriodSeconds"

# The API server defaults the grace period to 30 seconds. A value of the
# wrong type leaves it undefined and silences the rules that compare it.
# The object under review is read through refs (see lib/k8s.rego).
grace_period := g if {
	g := input.request.object.spec.template.spec.terminationGracePeriodSeconds
	is_number(g)
} else := 30 if {
	object.get(k8s.resource, ["spec", "template", "spec", "terminationGracePeriodSeconds"], null) in {null, false}
}

# has_pre_stop holds for a sleep, exec or httpGet handler that is set: not
# null, and not false either (k8s.present returns false for false, and a
# false condition fails).
has_pre_stop(c) if {
	some handler in ["sleep", "exec", "httpGet"]
	not object.get(c, ["lifecycle", "preStop", handler], null) in {null, false}
}

# pre_stop_sleep is how long the hook keeps the pod alive on purpose: the
# native sleep action, or sleep commands in an exec hook (summed, since a
# script may sleep more than once).
pre_stop_sleep(c) := s if {
	s := c.lifecycle.preStop.sleep.seconds
	is_number(s)
} else := s if {
	command := c.lifecycle.preStop.exec.command
	is_array(command)
	line := concat(" ", [part | some part in command; is_string(part)])
	found := regex.find_all_string_submatch_n(`(?:^|[\s;&|(/'"])sleep\s+([0-9]+(?:\.[0-9]+)?)s?\b`, line, -1)
	count(found) > 0
	s := sum([to_number(m[1]) | some m in found])
}

sleep_hint := n if {
	n := input.parameters.preStopSleepSeconds
	is_number(n)
	n > 0
} else := 5

# The hook exists to keep serving while endpoints and load balancers
# catch up with the pod's removal; pods no Service routes to (controllers,
# node agents) have nothing to wait for, and are not asked for one.
# Containers are iterated raw (k8s.pod_containers); names and paths are
# only built for findings.
deny contains msg if {
	k8s.is_write
	some i, c in k8s.pod_containers
	is_object(c)
	not has_pre_stop(c)
	service.resource_served
	msg := sprintf(
		"%s: container %q (%s) has no lifecycle.preStop hook; add preStop: {sleep: {seconds: %v}} (or an exec or httpGet hook)%s so the pod keeps serving until endpoints and load balancers stop sending it traffic (Service %s)",
		[k8s.subject, k8s.container_name(c, i), k8s.container_path("containers", i), sleep_hint, grace_hint, service.names],
	)
}

# The sleep counts against the grace period: advice that left a shorter
# grace period in place would cut the sleep (and the shutdown) short.
grace_hint := sprintf(" and raise %s (now %v) above %v", [grace_field, grace_period, sleep_hint]) if {
	grace_period <= sleep_hint
} else := ""

# The ref equals 0 exactly when grace_period does; written this way the
# rule index skips the rule for every other value.
deny contains msg if {
	input.request.object.spec.template.spec.terminationGracePeriodSeconds == 0
	k8s.is_write
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
	some i, c in k8s.pod_containers
	is_object(c)
	s := pre_stop_sleep(c)
	s >= grace_period
	msg := sprintf(
		"%s: container %q (%s) sleeps %s in its preStop hook but %s is %v; set it above %v so the application still gets time to shut down after the sleep",
		[k8s.subject, k8s.container_name(c, i), k8s.container_path("containers", i), k8s.quantity(s, "second"), grace_field, grace_period, s],
	)
}

# Mutation adds the native sleep action where no preStop exists, and only
# when it fits into the grace period; otherwise the deny rules explain.
# Mutation is off by default (preStopSleepSeconds: 0), so inject_seconds
# comes first in the patch rules.
inject_seconds := n if {
	n := input.parameters.preStopSleepSeconds
	is_number(n)
	n > 0
	grace_period > n
	service.resource_served
}

patch contains {"op": "add", "path": sprintf("%s/lifecycle", [k8s.container_pointer("containers", i)]), "value": value} if {
	inject_seconds
	k8s.is_write
	some i, c in k8s.pod_containers
	is_object(c)
	object.get(c, "lifecycle", null) in {null, false}
	value := {"preStop": {"sleep": {"seconds": inject_seconds}}}
}

patch contains {"op": "add", "path": sprintf("%s/lifecycle/preStop", [k8s.container_pointer("containers", i)]), "value": value} if {
	inject_seconds
	k8s.is_write
	some i, c in k8s.pod_containers
	is_object(c.lifecycle)
	object.get(c.lifecycle, "preStop", null) in {null, false}
	value := {"sleep": {"seconds": inject_seconds}}
}
