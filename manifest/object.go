package manifest

import "strconv"

// Object is one Kubernetes object read from a manifest source.
type Object struct {
	// Data is the decoded object. It holds JSON-compatible values only:
	// map[string]any, []any, string, bool, nil, int64 (integers) and float64
	// (all other numbers).
	Data map[string]any

	// File is where the object was read from: the path as given by the
	// caller (relative paths stay relative), "<stdin>" for standard input,
	// the kustomization directory for objects produced by a kustomize build,
	// or "git:<ref>:<path>" for objects read by [LoadGit].
	File string

	// Line is the 1-based line in File where the object's mapping starts
	// (its first key), or 0 when unknown, as for kustomize output.
	Line int

	// Set names the build unit the object belongs to. Objects of one Set are
	// related (for example a PodDisruptionBudget and the Deployment it
	// protects). Each kustomize build is one Set, named like File; all loose
	// files read by one call form the Set "".
	Set string

	// Cluster names the cluster the object is applied to, when a Flux
	// Kustomization reaches it: the directory of the cluster's Flux entry
	// point (for example "clusters/production"), or a directory given on
	// the command line. Objects of one cluster are related across Sets, and
	// never to objects of another cluster. Empty for objects no Flux
	// Kustomization reaches.
	Cluster string

	// Origin names the Flux object that applies this one, as
	// "Kustomization <namespace>/<name>" or "HelmRelease <namespace>/<name>";
	// empty for objects read directly.
	Origin string
}

// Kind returns the object's kind, or "" if it has none.
func (o Object) Kind() string { return stringField(o.Data, "kind") }

// APIVersion returns the object's apiVersion, or "" if it has none.
func (o Object) APIVersion() string { return stringField(o.Data, "apiVersion") }

// Namespace returns metadata.namespace, or "" if it is not set.
func (o Object) Namespace() string { return stringField(o.metadata(), "namespace") }

// Name returns metadata.name, or "" if it is not set.
func (o Object) Name() string { return stringField(o.metadata(), "name") }

// Location returns "File:Line", or just File when the line is unknown.
func (o Object) Location() string {
	if o.Line > 0 {
		return o.File + ":" + strconv.Itoa(o.Line)
	}
	return o.File
}

func (o Object) metadata() map[string]any {
	m, _ := o.Data["metadata"].(map[string]any)
	return m
}

func stringField(m map[string]any, key string) string {
	s, _ := m[key].(string)
	return s
}
