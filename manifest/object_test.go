package manifest

import "testing"

func TestObjectAccessors(t *testing.T) {
	tests := []struct {
		name                        string
		obj                         Object
		kind, apiVersion, ns, oname string
		location                    string
	}{
		{
			name: "full",
			obj: Object{
				Data: map[string]any{
					"apiVersion": "apps/v1", "kind": "Deployment",
					"metadata": map[string]any{"name": "web", "namespace": "prod"},
				},
				File: "apps/web.yaml", Line: 12,
			},
			kind: "Deployment", apiVersion: "apps/v1", ns: "prod", oname: "web",
			location: "apps/web.yaml:12",
		},
		{
			name: "cluster scoped, line unknown",
			obj:  Object{Data: map[string]any{"apiVersion": "v1", "kind": "Namespace", "metadata": map[string]any{"name": "prod"}}, File: "apps/production"},
			kind: "Namespace", apiVersion: "v1", oname: "prod",
			location: "apps/production",
		},
		{
			name:     "malformed fields",
			obj:      Object{Data: map[string]any{"apiVersion": int64(1), "kind": nil, "metadata": "oops"}, File: "<stdin>", Line: 1},
			location: "<stdin>:1",
		},
		{name: "nil data", obj: Object{}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			o := tt.obj
			if o.Kind() != tt.kind || o.APIVersion() != tt.apiVersion || o.Namespace() != tt.ns || o.Name() != tt.oname {
				t.Errorf("got kind=%q apiVersion=%q namespace=%q name=%q", o.Kind(), o.APIVersion(), o.Namespace(), o.Name())
			}
			if o.Location() != tt.location {
				t.Errorf("Location() = %q, want %q", o.Location(), tt.location)
			}
		})
	}
}
