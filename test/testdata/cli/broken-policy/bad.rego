# METADATA
# title: Broken
# custom:
#   id: broken
#   kinds: [Deployment]
package acme.policies.broken

deny contains msg if {
	msg := concat(", ", input.request.object.metadata.labels
}
