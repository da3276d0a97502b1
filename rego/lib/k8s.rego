package fluxgate.lib.k8s

# Admission input is untrusted: any field may be absent, null or of the
# wrong type. These accessors turn all three into a default instead of an
# error, so policies never need to guard each step themselves.
#
# Speed: each evaluation runs on a fresh input, and every user function
# call costs a cache lookup and a child evaluation whatever its arguments.
# So the object under review is read through refs rooted at input, with
# builtins rather than the functions below, by complete rules that are
# computed at most once per evaluation (resource, kind, subject,
# pod_containers ...). A ref through an absent or wrongly typed field is
# simply undefined, which is what the defaults below are for. The
# functions taking a document stay for related objects and custom
# policies.

# get is object.get that also tolerates a non-object document.
get(doc, path, default_value) := object.get(doc, path, default_value) if is_object(doc)

else := default_value

# present is the value at path; undefined when it is absent or null, which
# the API server treats the same way. As a condition it also fails for
# false, so the inline form of `not present(doc, [f])` for an object doc is
# `object.get(doc, f, null) in {null, false}`.
present(doc, path) := v if {
	is_object(doc)
	v := object.get(doc, path, null)
	v != null
}

# value_or is the value at path, or default_value when absent or null, the
# way the API server applies its defaults.
value_or(doc, path, default_value) := v if {
	v := present(doc, path)
} else := default_value

object_at(doc, path) := v if {
	v := get(doc, path, {})
	is_object(v)
} else := {}

array_at(doc, path) := v if {
	v := get(doc, path, [])
	is_array(v)
} else := []

string_at(doc, path) := v if {
	v := get(doc, path, "")
	is_string(v)
} else := ""

# or_empty is v when it is a string, else "": string_at for a value that
# was already looked up, so callers never pass a whole object to a
# function just to read one field of it.
or_empty(v) := v if is_string(v)

else := ""

request := r if {
	r := input.request
	is_object(r)
} else := {}

operation := o if {
	o := input.request.operation
	is_string(o)
} else := ""

# DELETE and CONNECT carry no object worth judging. Written as a ref in a
# set so the rule index can tell from the input alone whether it holds.
is_write if input.request.operation in {"CREATE", "UPDATE"}

resource := o if {
	o := input.request.object
	is_object(o)
} else := {}

kind := k if {
	k := input.request.kind.kind
	is_string(k)
	k != ""
} else := or_empty(object.get(resource, "kind", ""))

namespace := ns if {
	ns := input.request.namespace
	is_string(ns)
	ns != ""
} else := or_empty(object.get(resource, ["metadata", "namespace"], ""))

# metadata.name may be empty when the object uses generateName.
name := n if {
	n := input.request.object.metadata.name
	is_string(n)
	n != ""
} else := or_empty(object.get(request, "name", ""))

# subject is how every message names the object under review: "Kind
# namespace/name", or "Kind name" for an object without a namespace (a
# manifest that leaves it to the apply, or a cluster-scoped kind).
subject := sprintf("%s %s/%s", [kind, namespace, name]) if namespace != ""

else := sprintf("%s %s", [kind, name])

name_of(obj) := or_empty(object.get(obj, ["metadata", "name"], "")) if is_object(obj)

else := ""

# describe names a related object; related objects share the namespace of
# the request, and manifests often omit metadata.namespace.
describe(k, obj) := sprintf("%s %s/%s", [k, ns, name_of(obj)]) if {
	ns := obj.metadata.namespace
	is_string(ns)
	ns != ""
} else := sprintf("%s %s/%s", [k, namespace, name_of(obj)])

# quantity keeps messages grammatical: "1 pod", "3 pods".
quantity(n, noun) := sprintf("%v %s", [n, noun]) if n == 1

else := sprintf("%v %ss", [n, noun])

# shown renders a field for a message and makes API server defaults
# visible, so users see why a field they never wrote is reported.
shown(doc, field, default_value) := sprintf("%v", [v]) if {
	v := present(doc, [field])
} else := sprintf("unset (defaults to %v)", [default_value])

# add_or_replace picks the JSON patch op for setting a field: "replace"
# requires the member to exist, "add" also overwrites a null.
add_or_replace(doc, field) := "replace" if present(doc, [field])

else := "add"

# complete is true only when related holds the whole manifest set; at
# admission the cache may lag behind the apply.
complete if input.context.complete == true

related(key) := v if {
	is_object(input.related)
	v := input.related[key]
	is_array(v)
} else := []

pod_spec(obj) := object_at(obj, ["spec", "template", "spec"])

pod_labels(obj) := object_at(obj, ["spec", "template", "metadata", "labels"])

# resource_pod_labels is pod_labels(resource), computed once.
resource_pod_labels := l if {
	l := input.request.object.spec.template.metadata.labels
	is_object(l)
} else := {}

# pod_containers and pod_init_containers are the raw container lists of
# the object under review, [] when absent or malformed. Entries that are
# not objects must be skipped (is_object) the way entries does. Policies
# iterate them directly with the index and build names and paths only for
# findings, which keeps the common compliant case cheap.
pod_containers := cs if {
	cs := input.request.object.spec.template.spec.containers
	is_array(cs)
} else := []

pod_init_containers := cs if {
	cs := input.request.object.spec.template.spec.initContainers
	is_array(cs)
} else := []

# containers lists the app containers with their position, so messages and
# patches can point at the exact entry.
containers(obj) := entries(obj, "containers")

init_containers(obj) := entries(obj, "initContainers")

# sidecars are native sidecars: init containers that keep running beside
# the app and therefore take part in readiness like app containers.
sidecars(obj) := [e |
	some e in init_containers(obj)
	e.container.restartPolicy == "Always"
]

entries(obj, field) := [entry(field, i, c) |
	some i, c in array_at(obj, ["spec", "template", "spec", field])
	is_object(c)
]

# entry describes container c at index i of the pod spec list field.
entry(field, i, c) := {
	"index": i,
	"name": container_name(c, i),
	"container": c,
	"path": container_path(field, i),
	"pointer": container_pointer(field, i),
}

container_path(field, i) := sprintf("spec.template.spec.%s[%d]", [field, i])

container_pointer(field, i) := sprintf("/spec/template/spec/%s/%d", [field, i])

# container_name names a container in messages, "#<index>" when it has no
# name.
container_name(c, i) := c.name if {
	is_string(c.name)
	c.name != ""
} else := sprintf("#%d", [i])

# host_ports lists every hostPort of app and init containers; a pod using
# one cannot run twice on the same node.
host_ports(obj) := [{"container": e.name, "port": p} |
	some e in array.concat(containers(obj), init_containers(obj))
	some port in array_at(e.container, ["ports"])
	p := port.hostPort
	is_number(p)
	p > 0
]

# resource_host_ports is host_ports(resource), read from the raw lists.
resource_host_ports := [{"container": container_name(c, i), "port": p} |
	some cs in [pod_containers, pod_init_containers]
	some i, c in cs
	is_object(c)
	ports := object.get(c, "ports", [])
	is_array(ports)
	some port in ports
	p := port.hostPort
	is_number(p)
	p > 0
]
