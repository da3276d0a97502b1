package manifest

import (
	"errors"
	"fmt"

	"go.yaml.in/yaml/v3"
)

// readObjects decodes a manifest stream into objects of the given set.
//
// In strict mode every document must be a Kubernetes object. Otherwise (files
// found by walking a directory) a stream none of whose documents is an object
// yields no objects and no error; a stream mixing objects and other documents
// is still an error.
func readObjects(file string, data []byte, set string, strict bool) ([]Object, error) {
	docs, err := decodeStream(file, data)
	if err != nil {
		return nil, err
	}
	if !strict {
		found := false
		for _, d := range docs {
			if objectProblem(d.value) == nil {
				found = true
				break
			}
		}
		if !found {
			return nil, nil
		}
	}
	var out []Object
	for _, d := range docs {
		objs, err := docObjects(file, d.node, d.value, set)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// docObjects turns one decoded document into objects, expanding Lists.
func docObjects(file string, n *yaml.Node, v any, set string) ([]Object, error) {
	n = resolveAlias(n)
	if err := objectProblem(v); err != nil {
		if _, isMap := v.(map[string]any); !isMap {
			err = fmt.Errorf("expected a Kubernetes object (a mapping), got %s", describeNode(n))
		}
		return nil, &ParseError{File: file, Line: n.Line, Err: err}
	}
	m := v.(map[string]any)
	if m["kind"] != "List" {
		return []Object{{Data: m, File: file, Line: n.Line, Set: set}}, nil
	}
	items, ok := m["items"].([]any)
	if !ok && m["items"] != nil {
		return nil, &ParseError{File: file, Line: n.Line, Err: errors.New("the items of a List must be a sequence")}
	}
	itemNodes := listItemNodes(n)
	var out []Object
	for i, item := range items {
		in := n
		if len(itemNodes) == len(items) {
			in = itemNodes[i]
		}
		objs, err := docObjects(file, in, item, set)
		if err != nil {
			return nil, err
		}
		out = append(out, objs...)
	}
	return out, nil
}

// listItemNodes returns the item nodes of a List mapping node, or nil.
func listItemNodes(n *yaml.Node) []*yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if resolveAlias(n.Content[i]).Value == "items" {
			if seq := resolveAlias(n.Content[i+1]); seq.Kind == yaml.SequenceNode {
				return seq.Content
			}
			return nil
		}
	}
	return nil
}

// objectProblem says why v is not a Kubernetes object, or returns nil.
func objectProblem(v any) error {
	m, ok := v.(map[string]any)
	if !ok {
		return errors.New("expected a Kubernetes object (a mapping)")
	}
	var missing []string
	for _, field := range []string{"apiVersion", "kind"} {
		switch s, isString := m[field].(string); {
		case m[field] == nil:
			missing = append(missing, field)
		case !isString || s == "":
			return fmt.Errorf("not a Kubernetes object: %s must be a non-empty string", field)
		}
	}
	switch len(missing) {
	case 0:
		return nil
	case 1:
		return fmt.Errorf("not a Kubernetes object: %s is missing", missing[0])
	}
	return errors.New("not a Kubernetes object: apiVersion and kind are missing")
}
