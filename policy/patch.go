package policy

import (
	"encoding/json"
	"fmt"
	"sort"
	"strconv"
	"strings"
)

// PatchOp is one RFC 6902 operation produced by a policy's patch rule.
type PatchOp struct {
	Op    string `json:"op"`
	Path  string `json:"path"`
	Value any    `json:"value,omitempty"`
}

// patchFromResult reads the patch set of a mutation query and orders it by
// path, so that a parent added by one op exists before a child op, and so
// that equal inputs always give equal patches.
func patchFromResult(v any) ([]PatchOp, error) {
	if v == nil {
		return nil, nil
	}
	items, ok := v.([]any)
	if !ok {
		return nil, fmt.Errorf("patch must be a set of operations, got %T", v)
	}
	ops := make([]PatchOp, 0, len(items))
	for _, it := range items {
		m, ok := it.(map[string]any)
		if !ok {
			return nil, fmt.Errorf("patch operation %v is not an object", it)
		}
		op := PatchOp{Value: m["value"]}
		op.Op, _ = m["op"].(string)
		op.Path, _ = m["path"].(string)
		switch op.Op {
		case "add", "replace":
			if _, has := m["value"]; !has {
				return nil, fmt.Errorf("patch operation %s %s has no value", op.Op, op.Path)
			}
		case "remove":
		default:
			return nil, fmt.Errorf("patch operation %q on %s: want add, replace or remove", op.Op, op.Path)
		}
		if !strings.HasPrefix(op.Path, "/") {
			return nil, fmt.Errorf("patch path %q must be a JSON pointer starting with /", op.Path)
		}
		ops = append(ops, op)
	}
	sort.Slice(ops, func(i, j int) bool {
		if ops[i].Path != ops[j].Path {
			return ops[i].Path < ops[j].Path
		}
		return ops[i].Op < ops[j].Op
	})
	return ops, nil
}

// applyPatch returns a patched copy of obj; obj itself is not modified.
// Only the maps and slices on the path of each operation are copied, the
// rest is shared with obj, so a patch costs what it touches rather than a
// JSON round trip of the whole object.
func applyPatch(obj map[string]any, ops []PatchOp) (map[string]any, error) {
	var doc any = obj
	for _, op := range ops {
		tokens, err := pointerTokens(op.Path)
		if err != nil {
			return nil, err
		}
		if doc, err = applyOp(doc, tokens, op); err != nil {
			return nil, fmt.Errorf("apply %s %s: %w", op.Op, op.Path, err)
		}
	}
	out, ok := doc.(map[string]any)
	if !ok {
		return nil, fmt.Errorf("patch replaced the object with %T", doc)
	}
	return out, nil
}

// pointerTokens splits an RFC 6901 JSON pointer.
func pointerTokens(path string) ([]string, error) {
	if path == "" || path[0] != '/' {
		return nil, fmt.Errorf("patch path %q must be a JSON pointer starting with /", path)
	}
	parts := strings.Split(path[1:], "/")
	for i, p := range parts {
		parts[i] = strings.ReplaceAll(strings.ReplaceAll(p, "~1", "/"), "~0", "~")
	}
	return parts, nil
}

// applyOp returns doc with op applied at tokens, copying what it changes.
func applyOp(doc any, tokens []string, op PatchOp) (any, error) {
	tok, last := tokens[0], len(tokens) == 1
	switch node := doc.(type) {
	case map[string]any:
		cp := make(map[string]any, len(node)+1)
		for k, v := range node {
			cp[k] = v
		}
		child, exists := node[tok]
		switch {
		case !last:
			if !exists {
				return nil, fmt.Errorf("%q does not exist", tok)
			}
			next, err := applyOp(child, tokens[1:], op)
			if err != nil {
				return nil, err
			}
			cp[tok] = next
		case op.Op == "remove":
			if !exists {
				return nil, fmt.Errorf("%q does not exist", tok)
			}
			delete(cp, tok)
		case op.Op == "replace" && !exists:
			return nil, fmt.Errorf("%q does not exist", tok)
		default:
			cp[tok] = op.Value
		}
		return cp, nil
	case []any:
		idx, err := arrayIndex(tok, len(node), last && op.Op == "add")
		if err != nil {
			return nil, err
		}
		if !last {
			cp := append([]any(nil), node...)
			if cp[idx], err = applyOp(node[idx], tokens[1:], op); err != nil {
				return nil, err
			}
			return cp, nil
		}
		switch op.Op {
		case "add":
			cp := make([]any, 0, len(node)+1)
			cp = append(append(append(cp, node[:idx]...), op.Value), node[idx:]...)
			return cp, nil
		case "remove":
			return append(append([]any(nil), node[:idx]...), node[idx+1:]...), nil
		default:
			cp := append([]any(nil), node...)
			cp[idx] = op.Value
			return cp, nil
		}
	default:
		return nil, fmt.Errorf("cannot index %T with %q", doc, tok)
	}
}

// arrayIndex resolves an array token; "-" (and len, for add) appends.
func arrayIndex(tok string, n int, adding bool) (int, error) {
	if tok == "-" && adding {
		return n, nil
	}
	i, err := strconv.Atoi(tok)
	if err != nil || i < 0 || i > n || (i == n && !adding) {
		return 0, fmt.Errorf("index %q out of range for %d elements", tok, n)
	}
	return i, nil
}

// unescapePointer undoes the escapes of a JSON pointer's segments.
var unescapePointer = strings.NewReplacer("~1", "/", "~0", "~")

// describePatch renders operations for people: "set spec.replicas to 2".
func describePatch(ops []PatchOp) string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		field := strings.ReplaceAll(strings.TrimPrefix(op.Path, "/"), "/", ".")
		field = unescapePointer.Replace(field)
		switch op.Op {
		case "remove":
			parts = append(parts, "remove "+field)
		default:
			v, _ := json.Marshal(op.Value)
			parts = append(parts, fmt.Sprintf("set %s to %s", field, v))
		}
	}
	return strings.Join(parts, "; ")
}
