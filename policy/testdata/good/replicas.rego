# METADATA
# title: Minimum replicas
# description: A test policy that asks for a minimum replica count and defaults it.
# custom:
#   id: min-replicas
#   action: deny
#   kinds: [Deployment]
#   parameters:
#     min: 2
package test.min_replicas

replicas := object.get(input.request.object, ["spec", "replicas"], 1)

deny contains msg if {
	input.request.operation in {"CREATE", "UPDATE"}
	replicas < input.parameters.min
	msg := sprintf("%s has %v replicas, want %v", [input.request.name, replicas, input.parameters.min])
}

warn contains "related set is incomplete" if not input.context.complete

patch contains {"op": "add", "path": "/metadata/labels", "value": {"team": "unknown"}} if {
	not input.request.object.metadata.labels
}
