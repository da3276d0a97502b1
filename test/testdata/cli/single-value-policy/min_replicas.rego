# METADATA
# title: Minimum replicas, written with deny as a single value
# description: Compiles, but the engine reads deny as a set of messages, so it must be rejected at load instead of never denying.
# custom:
#   id: min-replicas
#   kinds: [Deployment]
package acme.policies.min_replicas

deny := msg if {
	input.request.object.spec.replicas < 3
	msg := "fewer than three replicas"
}
