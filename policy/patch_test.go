package policy

import (
	"encoding/json"
	"reflect"
	"testing"
)

func TestApplyPatch(t *testing.T) {
	doc := func() map[string]any {
		var m map[string]any
		_ = json.Unmarshal([]byte(`{"spec":{"strategy":{"type":"RollingUpdate"},"template":{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}},"metadata":{"annotations":{"a/b":"x"}}}`), &m)
		return m
	}
	tests := []struct {
		name    string
		ops     []PatchOp
		want    string
		wantErr bool
	}{
		{"add a parent as a whole", []PatchOp{{Op: "add", Path: "/spec/strategy/rollingUpdate", Value: map[string]any{"maxUnavailable": 0}}},
			`{"spec":{"strategy":{"type":"RollingUpdate","rollingUpdate":{"maxUnavailable":0}},"template":{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}},"metadata":{"annotations":{"a/b":"x"}}}`, false},
		{"replace inside an array", []PatchOp{{Op: "add", Path: "/spec/template/spec/containers/1/lifecycle", Value: map[string]any{"preStop": "x"}}},
			`{"spec":{"strategy":{"type":"RollingUpdate"},"template":{"spec":{"containers":[{"name":"a"},{"name":"b","lifecycle":{"preStop":"x"}}]}}},"metadata":{"annotations":{"a/b":"x"}}}`, false},
		{"append and insert", []PatchOp{{Op: "add", Path: "/spec/template/spec/containers/-", Value: "c"}, {Op: "add", Path: "/spec/template/spec/containers/0", Value: "z"}},
			`{"spec":{"strategy":{"type":"RollingUpdate"},"template":{"spec":{"containers":["z",{"name":"a"},{"name":"b"},"c"]}}},"metadata":{"annotations":{"a/b":"x"}}}`, false},
		{"escaped key, remove", []PatchOp{{Op: "remove", Path: "/metadata/annotations/a~1b"}},
			`{"spec":{"strategy":{"type":"RollingUpdate"},"template":{"spec":{"containers":[{"name":"a"},{"name":"b"}]}}},"metadata":{"annotations":{}}}`, false},
		{"missing parent", []PatchOp{{Op: "add", Path: "/spec/nothere/x", Value: 1}}, "", true},
		{"replace of nothing", []PatchOp{{Op: "replace", Path: "/spec/replicas", Value: 1}}, "", true},
		{"index out of range", []PatchOp{{Op: "replace", Path: "/spec/template/spec/containers/2", Value: 1}}, "", true},
		{"index into a string", []PatchOp{{Op: "add", Path: "/spec/strategy/type/x", Value: 1}}, "", true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			orig := doc()
			got, err := applyPatch(orig, tt.ops)
			if tt.wantErr {
				if err == nil {
					t.Fatalf("no error, got %v", got)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			var want map[string]any
			_ = json.Unmarshal([]byte(tt.want), &want)
			gotJSON, _ := json.Marshal(got)
			var gotBack map[string]any
			_ = json.Unmarshal(gotJSON, &gotBack)
			if !reflect.DeepEqual(gotBack, want) {
				t.Fatalf("got  %s\nwant %s", gotJSON, tt.want)
			}
			if !reflect.DeepEqual(orig, doc()) {
				t.Fatal("the original object was modified")
			}
		})
	}
}
