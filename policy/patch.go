package policy

import (
	"bytes"
	"encoding/json"
	"fmt"
	"sort"
	"strings"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/open-policy-agent/opa/v1/rego"
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
func patchFromResult(rs rego.ResultSet) ([]PatchOp, error) {
	if len(rs) == 0 || len(rs[0].Expressions) == 0 {
		return nil, nil
	}
	items, ok := rs[0].Expressions[0].Value.([]any)
	if !ok {
		return nil, fmt.Errorf("patch must be a set of operations, got %T", rs[0].Expressions[0].Value)
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
func applyPatch(obj map[string]any, ops []PatchOp) (map[string]any, error) {
	doc, err := json.Marshal(obj)
	if err != nil {
		return nil, fmt.Errorf("encode object: %w", err)
	}
	raw, err := json.Marshal(ops)
	if err != nil {
		return nil, fmt.Errorf("encode patch: %w", err)
	}
	p, err := jsonpatch.DecodePatch(raw)
	if err != nil {
		return nil, fmt.Errorf("decode patch: %w", err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		return nil, fmt.Errorf("apply patch %s: %w", raw, err)
	}
	// Numbers stay json.Number so that integers beyond float64's precision
	// and literals such as 1.50 come back exactly as they were sent.
	dec := json.NewDecoder(bytes.NewReader(out))
	dec.UseNumber()
	var patched map[string]any
	if err := dec.Decode(&patched); err != nil {
		return nil, fmt.Errorf("decode patched object: %w", err)
	}
	return patched, nil
}

// describePatch renders operations for people: "set spec.replicas to 2".
func describePatch(ops []PatchOp) string {
	parts := make([]string, 0, len(ops))
	for _, op := range ops {
		field := strings.ReplaceAll(strings.TrimPrefix(op.Path, "/"), "/", ".")
		field = strings.NewReplacer("~1", "/", "~0", "~").Replace(field)
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
