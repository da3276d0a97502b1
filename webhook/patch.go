package webhook

import (
	"encoding/json"
	"maps"
	"math"
	"net/http"
	"slices"
	"strconv"
	"strings"

	"gomodules.xyz/jsonpatch/v2"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// patchResponse admits a request with the JSON patch that turns from, the
// object the API server sent as decoded from its raw bytes, into to, the
// patched object: what admission.PatchResponseFromRaw answers for the
// raw object and to encoded, but computed on the decoded values rather
// than by encoding to and decoding both again. Fields fluxgate does not
// know survive, and each operation is minimal: only what differs is
// replaced, added or removed (an array whose length changed is replaced
// whole). ok is false when to holds a value of a type decoded JSON never
// has; the caller then falls back to PatchResponseFromRaw.
func patchResponse(from, to map[string]any) (resp admission.Response, ok bool) {
	if !knownDeep(to) {
		return admission.Response{}, false
	}
	var d differ
	d.diffMaps("", from, to)
	return patchOps(d.ops), true
}

// patchOps admits with the JSON patch ops (none: unchanged). The ops are
// only read, so a remembered slice can be answered again.
func patchOps(ops []jsonpatch.JsonPatchOperation) admission.Response {
	resp := admission.Response{
		Patches:           ops,
		AdmissionResponse: admissionv1.AdmissionResponse{Allowed: true},
	}
	if len(ops) > 0 {
		pt := admissionv1.PatchTypeJSONPatch
		resp.PatchType = &pt
	}
	return resp
}

// patchResponseFromRaw is admission.PatchResponseFromRaw for a patched
// object that is not yet encoded. to was patched from the object decoded
// without metadata.managedFields (decodeForPolicies): the raw object's
// are put back, so that the patch leaves them alone.
func patchResponseFromRaw(raw []byte, to map[string]any) admission.Response {
	if full, err := decodeObject(raw); err == nil {
		fullMeta, _ := full["metadata"].(map[string]any)
		if mf, ok := fullMeta["managedFields"]; ok {
			meta, _ := to["metadata"].(map[string]any)
			meta = maps.Clone(meta)
			if meta == nil {
				meta = map[string]any{}
			}
			meta["managedFields"] = mf
			to = maps.Clone(to)
			to["metadata"] = meta
		}
	}
	patched, err := json.Marshal(to)
	if err != nil {
		return admission.Errored(http.StatusInternalServerError, err)
	}
	return admission.PatchResponseFromRaw(raw, patched)
}

// differ collects the operations of a JSON patch between two decoded JSON
// values (map[string]any, []any, string, bool, nil, json.Number or a Go
// number).
type differ struct {
	ops []jsonpatch.JsonPatchOperation
}

// diff adds the operations that turn a, at path, into b.
func (d *differ) diff(path string, a, b any) {
	a, b = nullable(a), nullable(b)
	if am, ok := a.(map[string]any); ok {
		if bm, ok := b.(map[string]any); ok {
			d.diffMaps(path, am, bm)
			return
		}
	}
	if aa, ok := a.([]any); ok {
		if ba, ok := b.([]any); ok && len(aa) == len(ba) {
			for i := range aa {
				d.diff(path+"/"+strconv.Itoa(i), aa[i], ba[i])
			}
			return
		}
	}
	if !sameJSON(a, b) {
		d.ops = append(d.ops, jsonpatch.NewOperation("replace", path, b))
	}
}

// diffMaps adds the operations that turn the object a, at path, into b:
// removals, then additions and changes, each in the order of the names.
func (d *differ) diffMaps(path string, a, b map[string]any) {
	for _, k := range sortedKeys(a) {
		if _, ok := b[k]; !ok {
			d.ops = append(d.ops, jsonpatch.NewOperation("remove", path+"/"+escapePointer(k), nil))
		}
	}
	for _, k := range sortedKeys(b) {
		if av, ok := a[k]; ok {
			d.diff(path+"/"+escapePointer(k), av, b[k])
		} else {
			d.ops = append(d.ops, jsonpatch.NewOperation("add", path+"/"+escapePointer(k), b[k]))
		}
	}
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	return keys
}

// escapePointer escapes a name as a JSON pointer token (RFC 6901).
func escapePointer(s string) string {
	if !strings.ContainsAny(s, "~/") {
		return s
	}
	return strings.ReplaceAll(strings.ReplaceAll(s, "~", "~0"), "/", "~1")
}

// nullable turns a nil map or slice, which encodes as null, into nil.
func nullable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		if v == nil {
			return nil
		}
	case []any:
		if v == nil {
			return nil
		}
	}
	return v
}

// sameJSON reports whether a and b encode as equal JSON values, numbers
// compared by value as encoding/json decodes them (float64).
func sameJSON(a, b any) bool {
	a, b = nullable(a), nullable(b)
	switch av := a.(type) {
	case nil:
		return b == nil
	case string:
		bv, ok := b.(string)
		return ok && av == bv
	case bool:
		bv, ok := b.(bool)
		return ok && av == bv
	case map[string]any:
		bv, ok := b.(map[string]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for k, x := range av {
			if y, ok := bv[k]; !ok || !sameJSON(x, y) {
				return false
			}
		}
		return true
	case []any:
		bv, ok := b.([]any)
		if !ok || len(av) != len(bv) {
			return false
		}
		for i := range av {
			if !sameJSON(av[i], bv[i]) {
				return false
			}
		}
		return true
	}
	if an, ok := a.(json.Number); ok {
		if bn, ok := b.(json.Number); ok && an == bn {
			return true
		}
	}
	x, ok := number(a)
	y, isNumber := number(b)
	return ok && isNumber && x == y
}

// knownDeep reports whether v and everything in it is of a type decoded
// JSON has.
func knownDeep(v any) bool {
	switch v := v.(type) {
	case nil, string, bool:
		return true
	case map[string]any:
		for _, x := range v {
			if !knownDeep(x) {
				return false
			}
		}
		return true
	case []any:
		for _, x := range v {
			if !knownDeep(x) {
				return false
			}
		}
		return true
	}
	_, ok := number(v)
	return ok
}

// number returns a number's value as encoding/json would decode it.
func number(v any) (float64, bool) {
	switch n := v.(type) {
	case json.Number:
		f, err := strconv.ParseFloat(string(n), 64)
		return f, err == nil
	case float64:
		return n, !math.IsInf(n, 0) && !math.IsNaN(n)
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int64:
		return float64(n), true
	case int32:
		return float64(n), true
	case uint64:
		return float64(n), true
	case uint32:
		return float64(n), true
	}
	return 0, false
}
