# METADATA
# title: Pinned images
# description: >-
#   Containers name an image by tag or digest, never :latest or no tag. A
#   pod that a drain reschedules onto another node pulls its image again;
#   with a moving tag it may start a different version from its peers.
# custom:
#   id: image-pinned
#   action: deny
#   kinds: [Deployment, StatefulSet, DaemonSet]
#   parameters:
#     allowedRegistries: []
package acme.policies.image_pinned

import data.fluxgate.lib.k8s

deny contains msg if {
	k8s.is_write
	some e in array.concat(k8s.containers(k8s.resource), k8s.init_containers(k8s.resource))
	image := k8s.string_at(e.container, ["image"])
	not pinned(image)
	msg := sprintf("%s: container %q uses image %q, which moves; name a version tag or a digest (e.g. %s:1.2.3)", [k8s.subject, e.name, image, repository(image)])
}

deny contains msg if {
	k8s.is_write
	count(input.parameters.allowedRegistries) > 0
	some e in array.concat(k8s.containers(k8s.resource), k8s.init_containers(k8s.resource))
	image := k8s.string_at(e.container, ["image"])
	not allowed_registry(image)
	msg := sprintf("%s: container %q pulls from outside the allowed registries %v: %q", [k8s.subject, e.name, input.parameters.allowedRegistries, image])
}

pinned(image) if contains(image, "@sha256:")

pinned(image) if {
	not contains(image, "@")
	tag := tag_of(image)
	tag != ""
	tag != "latest"
}

# The tag follows the last colon after the last slash; a colon before it
# belongs to a registry port.
tag_of(image) := tag if {
	last := regex.replace(image, `^.*/`, "")
	contains(last, ":")
	tag := regex.replace(last, `^[^:]*:`, "")
} else := ""

repository(image) := regex.replace(image, `(@.*|:[^:/]*)$`, "")

allowed_registry(image) if {
	some prefix in input.parameters.allowedRegistries
	startswith(image, prefix)
}
