package webhook

import (
	"encoding/json"
	"testing"
	"time"
)

// patchResponse computes a patch that, applied to the raw object, gives
// what admission.PatchResponseFromRaw's patch gives: the patched object.
func TestPatchResponseMatchesPatchResponseFromRaw(t *testing.T) {
	for _, tc := range []struct {
		name string
		raw  string
		to   func(map[string]any) map[string]any
		ops  int // operations patchResponse is expected to produce
	}{
		{
			name: "nothing changed",
			raw:  `{"a":1,"b":{"c":[1,2,{"d":"x"}]},"n":null}`,
			to:   func(m map[string]any) map[string]any { return m },
		},
		{
			name: "a value replaced by a number of another Go type",
			raw:  `{"spec":{"strategy":{"rollingUpdate":{"maxSurge":"25%","maxUnavailable":"25%"}}}}`,
			to: func(m map[string]any) map[string]any {
				return set(m, "spec.strategy.rollingUpdate.maxUnavailable", 0)
			},
			ops: 1,
		},
		{
			name: "an equal number of another Go type is no change",
			raw:  `{"replicas":3,"ratio":1.5}`,
			to: func(m map[string]any) map[string]any {
				m["replicas"], m["ratio"] = int64(3), 1.5
				return m
			},
		},
		{
			name: "an object added, names with / and ~ escaped",
			raw:  `{"metadata":{"labels":{"app.kubernetes.io/name":"web"}}}`,
			to: func(m map[string]any) map[string]any {
				set(m, "metadata.annotations", map[string]any{"fluxgate.dev/x~y": "1"})
				return set(m, "metadata.labels", map[string]any{"app.kubernetes.io/name": "api", "a~b": "c"})
			},
			ops: 3,
		},
		{
			name: "fields removed",
			raw:  `{"spec":{"strategy":{"type":"Recreate","rollingUpdate":null},"paused":false}}`,
			to: func(m map[string]any) map[string]any {
				return del(del(m, "spec.strategy.rollingUpdate"), "spec.paused")
			},
			ops: 2,
		},
		{
			name: "array elements changed in place",
			raw:  `{"c":[{"name":"a","image":"x:1"},{"name":"b","image":"y:1"}]}`,
			to: func(m map[string]any) map[string]any {
				m["c"].([]any)[1].(map[string]any)["image"] = "y:2"
				return m
			},
			ops: 1,
		},
		{
			name: "an array that grew is replaced",
			raw:  `{"c":[1,2]}`,
			to: func(m map[string]any) map[string]any {
				m["c"] = append(m["c"].([]any), json.Number("3"))
				return m
			},
			ops: 1,
		},
		{
			name: "managedFields, never decoded, are left alone",
			raw:  `{"metadata":{"name":"web","managedFields":[{"manager":"kustomize-controller","fieldsV1":{"f:spec":{"f:replicas":{}}}}]},"spec":{"replicas":1}}`,
			to: func(m map[string]any) map[string]any {
				return set(m, "spec.replicas", 2)
			},
			ops: 1,
		},
		{
			name: "null to an object and a nil map to null",
			raw:  `{"a":null,"b":{}}`,
			to: func(m map[string]any) map[string]any {
				m["a"], m["b"] = map[string]any{"x": true}, map[string]any(nil)
				return m
			},
			ops: 2,
		},
	} {
		t.Run(tc.name, func(t *testing.T) {
			from, err := decodeForPolicies([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			fresh, err := decodeForPolicies([]byte(tc.raw))
			if err != nil {
				t.Fatal(err)
			}
			to := tc.to(fresh)

			got, ok := patchResponse(from, to)
			if !ok {
				t.Fatal("patchResponse did not know the values")
			}
			want := patchResponseFromRaw([]byte(tc.raw), to)
			if len(got.Patches) != tc.ops {
				t.Errorf("%d operations, want %d: %v", len(got.Patches), tc.ops, got.Patches)
			}
			if got.Allowed != want.Allowed || (got.PatchType == nil) != (want.PatchType == nil) {
				t.Fatalf("response %+v, PatchResponseFromRaw %+v", got.AdmissionResponse, want.AdmissionResponse)
			}
			if len(got.Patches) == 0 {
				if len(want.Patches) != 0 {
					t.Fatalf("no patch, PatchResponseFromRaw patches %v", want.Patches)
				}
				return
			}
			if err := got.Complete(request(t, "CREATE", nil, nil)); err != nil {
				t.Fatal(err)
			}
			if err := want.Complete(request(t, "CREATE", nil, nil)); err != nil {
				t.Fatal(err)
			}
			patched := applyJSONPatch(t, []byte(tc.raw), got.Patch)
			expected := applyJSONPatch(t, []byte(tc.raw), want.Patch)
			if !jsonEqual(t, patched, expected) {
				t.Errorf("patched:\n%s\nPatchResponseFromRaw's patch gives:\n%s\npatch %s", patched, expected, got.Patch)
			}
		})
	}
}

// The fallback keeps the managedFields decodeForPolicies left out.
func TestPatchResponseFromRawKeepsManagedFields(t *testing.T) {
	raw := `{"metadata":{"name":"web","managedFields":[{"manager":"m"}]},"spec":{"replicas":1}}`
	obj, err := decodeForPolicies([]byte(raw))
	if err != nil {
		t.Fatal(err)
	}
	resp := patchResponseFromRaw([]byte(raw), set(obj, "spec.replicas", 2))
	if err := resp.Complete(request(t, "CREATE", nil, nil)); err != nil {
		t.Fatal(err)
	}
	if want := `[{"op":"replace","path":"/spec/replicas","value":2}]`; !jsonEqual(t, resp.Patch, []byte(want)) {
		t.Errorf("patch %s, want %s", resp.Patch, want)
	}
}

// A patched object holding a value no decoded JSON has is left to
// PatchResponseFromRaw.
func TestPatchResponseUnknownValue(t *testing.T) {
	from := map[string]any{"a": "x"}
	if _, ok := patchResponse(from, map[string]any{"a": "x", "t": time.Second}); ok {
		t.Error("patchResponse accepted a time.Duration")
	}
	if _, ok := patchResponse(from, map[string]any{"a": []any{map[string]any{"s": []string{"x"}}}}); ok {
		t.Error("patchResponse accepted a []string")
	}
}
