package fluxgate.lib.k8s

# Admission input is untrusted: any field may be absent, null or of the
# wrong type. These accessors turn all three into a default instead of an
# error, so policies never need to guard each step themselves.

# get is object.get that also tolerates a non-object document.
get(doc, path, default_value) := v if {
	is_object(doc)
	v := object.get(doc, path, default_value)
} else := default_value

# present is the value at path; undefined when it is absent or null, which
# the API server treats the same way.
present(doc, path) := v if {
	v := get(doc, path, null)
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

request := object_at(input, ["request"])

operation := string_at(request, ["operation"])

# DELETE and CONNECT carry no object worth judging.
is_write if operation in {"CREATE", "UPDATE"}

resource := object_at(request, ["object"])

kind := k if {
	k := string_at(request, ["kind", "kind"])
	k != ""
} else := string_at(resource, ["kind"])

namespace := ns if {
	ns := string_at(request, ["namespace"])
	ns != ""
} else := string_at(resource, ["metadata", "namespace"])

# metadata.name may be empty when the object uses generateName.
name := n if {
	n := string_at(resource, ["metadata", "name"])
	n != ""
} else := string_at(request, ["name"])

# subject is how every message names the object under review.
subject := sprintf("%s %s/%s", [kind, namespace, name])

name_of(obj) := string_at(obj, ["metadata", "name"])

# describe names a related object; related objects share the namespace of
# the request, and manifests often omit metadata.namespace.
describe(k, obj) := sprintf("%s %s/%s", [k, ns, name_of(obj)]) if {
	ns := string_at(obj, ["metadata", "namespace"])
	ns != ""
} else := sprintf("%s %s/%s", [k, namespace, name_of(obj)])

parameters := object_at(input, ["parameters"])

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
complete if object_at(input, ["context"]).complete == true

related(key) := array_at(object_at(input, ["related"]), [key])

pod_spec(obj) := object_at(obj, ["spec", "template", "spec"])

pod_labels(obj) := object_at(obj, ["spec", "template", "metadata", "labels"])

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

entries(obj, field) := [e |
	some i, c in array_at(obj, ["spec", "template", "spec", field])
	is_object(c)
	e := {
		"index": i,
		"name": container_name(c, i),
		"container": c,
		"path": sprintf("spec.template.spec.%s[%d]", [field, i]),
		"pointer": sprintf("/spec/template/spec/%s/%d", [field, i]),
	}
]

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
