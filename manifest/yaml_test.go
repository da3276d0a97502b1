package manifest

import (
	"errors"
	"reflect"
	"regexp"
	"strings"
	"testing"
)

func TestReadObjectsStrict(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    []summary // File is always "f.yaml", Set "s"
		wantErr string
	}{
		{
			name: "multi-document stream with empty and comment-only documents",
			in: "# leading comment\n\napiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n" +
				"---\n---\n# only a comment\n---\n~\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: b, namespace: a}\n...\n",
			want: []summary{
				{Line: 3, Kind: "Namespace", Name: "a"},
				{Line: 13, Kind: "ConfigMap", NS: "a", Name: "b"},
			},
		},
		{name: "empty input", in: ""},
		{name: "only separators and comments", in: "---\n# nothing\n---\n\n"},
		{
			name: "JSON",
			in:   "{\n\t\"apiVersion\": \"v1\",\n\t\"kind\": \"Secret\",\n\t\"metadata\": {\"name\": \"s\"}\n}\n",
			want: []summary{{Line: 1, Kind: "Secret", Name: "s"}},
		},
		{
			name: "List is expanded with item lines",
			in: "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: a}\n" +
				"- apiVersion: v1\n  kind: ServiceAccount\n  metadata: {name: b}\n",
			want: []summary{
				{Line: 4, Kind: "ServiceAccount", Name: "a"},
				{Line: 7, Kind: "ServiceAccount", Name: "b"},
			},
		},
		{name: "empty List", in: "apiVersion: v1\nkind: List\nitems: []\n"},
		{name: "List without items", in: "apiVersion: v1\nkind: List\n"},
		{
			name:    "List item that is not an object",
			in:      "apiVersion: v1\nkind: List\nitems:\n- apiVersion: v1\n  kind: A\n- name: b\n",
			wantErr: "f.yaml:6: not a Kubernetes object: apiVersion and kind are missing",
		},
		{
			name:    "List items not a sequence",
			in:      "apiVersion: v1\nkind: List\nitems: {a: b}\n",
			wantErr: "f.yaml:1: the items of a List must be a sequence",
		},
		{
			name:    "scanner error",
			in:      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: x\n   bad: 1\n",
			wantErr: "f.yaml:5: mapping values are not allowed in this context",
		},
		{
			name:    "scanner error on the first line",
			in:      "key: value: other\n",
			wantErr: "f.yaml:1: mapping values are not allowed in this context",
		},
		{
			name:    "scanner error in a later document",
			in:      "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n  foo: bar\n",
			wantErr: "f.yaml:6: mapping values are not allowed in this context",
		},
		{
			name:    "tab indentation",
			in:      "apiVersion: v1\n\tkind: A\n",
			wantErr: "f.yaml:2: found a tab character that violates indentation",
		},
		{
			name:    "unterminated quote",
			in:      "apiVersion: v1\nkind: \"A\n",
			wantErr: "f.yaml:2: found unexpected end of stream",
		},
		{
			name:    "parser error in a flow sequence",
			in:      "apiVersion: v1\nkind: A\nargs: [1, 2\nimage: x\n",
			wantErr: "f.yaml:3: did not find expected ',' or ']'",
		},
		{
			name:    "parser error in a block sequence",
			in:      "apiVersion: v1\nkind: A\n---\nitems:\n  - a\n  b: c\n",
			wantErr: "f.yaml:5: did not find expected '-' indicator",
		},
		{
			name:    "parser error at the end of input",
			in:      "[a, b\n",
			wantErr: "f.yaml:2: did not find expected ',' or ']'",
		},
		{
			name:    "invalid UTF-8",
			in:      "apiVersion: v1\nkind: ConfigMap\ndata:\n  x: \xff\n",
			wantErr: "f.yaml:4: invalid leading UTF-8 octet",
		},
		{
			name:    "control character",
			in:      "apiVersion: v1\nkind: A\nx: \x01\n",
			wantErr: "f.yaml:3: control characters are not allowed",
		},
		{
			name:    "unknown anchor",
			in:      "apiVersion: v1\nkind: ConfigMap\ndata: *nope\n",
			wantErr: "f.yaml:3: unknown anchor 'nope' referenced",
		},
		{
			name:    "duplicate key",
			in:      "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: a\n  name: b\n",
			wantErr: `f.yaml:5: mapping key "name" already defined at line 4`,
		},
		{
			name:    "anchor containing itself",
			in:      "apiVersion: v1\nkind: A\nx: &a [*a]\n",
			wantErr: `f.yaml:3: anchor "a" value contains itself`,
		},
		{
			name: "billion laughs",
			in: "apiVersion: v1\nkind: A\na: &a [x,x,x,x,x,x,x,x,x,x]\nb: &b [*a,*a,*a,*a,*a,*a,*a,*a,*a,*a]\n" +
				"c: &c [*b,*b,*b,*b,*b,*b,*b,*b,*b,*b]\nd: &d [*c,*c,*c,*c,*c,*c,*c,*c,*c,*c]\ne: &e [*d,*d,*d,*d,*d,*d,*d,*d,*d,*d]\n" +
				"f: &f [*e,*e,*e,*e,*e,*e,*e,*e,*e,*e]\ng: [*f,*f,*f,*f,*f,*f,*f,*f,*f,*f]\n",
			wantErr: "document expands too many aliases",
		},
		{
			name:    "NaN",
			in:      "apiVersion: v1\nkind: A\nspec:\n  ratio: .nan\n",
			wantErr: "f.yaml:4: number .nan cannot be represented in JSON",
		},
		{
			name:    "sequence document",
			in:      "- a\n- b\n",
			wantErr: "f.yaml:1: expected a Kubernetes object (a mapping), got a sequence",
		},
		{
			name:    "scalar document",
			in:      "apiVersion: v1\nkind: A\n---\nhello\n",
			wantErr: "f.yaml:4: expected a Kubernetes object (a mapping), got a scalar",
		},
		{
			name:    "missing kind",
			in:      "apiVersion: v1\nmetadata: {name: x}\n",
			wantErr: "f.yaml:1: not a Kubernetes object: kind is missing",
		},
		{
			name:    "missing apiVersion",
			in:      "\n\nkind: Pod\n",
			wantErr: "f.yaml:3: not a Kubernetes object: apiVersion is missing",
		},
		{
			name:    "non-string kind",
			in:      "apiVersion: v1\nkind: 3\n",
			wantErr: "f.yaml:1: not a Kubernetes object: kind must be a non-empty string",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readObjects("f.yaml", []byte(tt.in), "s", true)
			if tt.wantErr != "" {
				if err == nil {
					t.Fatalf("got %d objects, want error %q", len(got), tt.wantErr)
				}
				if !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("error = %q, want %q", err, tt.wantErr)
				}
				var pe *ParseError
				if !errors.As(err, &pe) || pe.File != "f.yaml" {
					t.Fatalf("error %v is not a *ParseError for f.yaml", err)
				}
				if regexp.MustCompile(`line \d+: |yaml: `).MatchString(err.Error()) {
					t.Errorf("error %q repeats position information", err)
				}
				return
			}
			if err != nil {
				t.Fatalf("unexpected error: %v", err)
			}
			want := make([]summary, len(tt.want))
			for i, w := range tt.want {
				w.File, w.Set = "f.yaml", "s"
				want[i] = w
			}
			checkSummaries(t, got, want)
		})
	}
}

func TestReadObjectsLenient(t *testing.T) {
	tests := []struct {
		name    string
		in      string
		want    int
		wantErr string
	}{
		{name: "helm values", in: "replicaCount: 2\nimage: {tag: v1}\n"},
		{name: "top-level sequence", in: "- a\n- b\n"},
		{name: "objects", in: "apiVersion: v1\nkind: A\n---\napiVersion: v1\nkind: B\n", want: 2},
		{name: "syntax error", in: "replicaCount: 2\n  image: x\n", wantErr: "f.yaml:2: mapping values are not allowed in this context"},
		{name: "mixed", in: "apiVersion: v1\nkind: A\n---\nfoo: bar\n", wantErr: "f.yaml:4: not a Kubernetes object: apiVersion and kind are missing"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readObjects("f.yaml", []byte(tt.in), "", false)
			if tt.wantErr != "" {
				if err == nil || err.Error() != tt.wantErr {
					t.Fatalf("error = %v, want %q", err, tt.wantErr)
				}
				return
			}
			if err != nil || len(got) != tt.want {
				t.Fatalf("got %d objects, err %v; want %d objects", len(got), err, tt.want)
			}
		})
	}
}

func TestValueConversion(t *testing.T) {
	in := `apiVersion: v1
kind: ConfigMap
metadata: &meta
  name: conv
  labels: {tier: "1"}
spec:
  int: 42
  negative: -7
  maxInt64: 9223372036854775807
  beyondInt64: 18446744073709551615
  hex: 0x1F
  octal: 0o17
  float: 1.5
  exponent: 1e3
  wholeFloat: 3.0
  yaml11Bool: yes
  bool: true
  "null": ~
  date: 2024-01-02
  quoted: "42"
  binary: !!binary aGVsbG8=
  custom: !Ref foo
  1: numeric key
  base: &base {x: 1, y: 2}
  merged: {<<: *base, y: 3}
  mergedList:
    <<: [*base, {z: 4}]
    x: 0
  alias: *meta
  list: [1, two, 3.5, null]
`
	objs, err := readObjects("f.yaml", []byte(in), "", true)
	if err != nil {
		t.Fatal(err)
	}
	meta := map[string]any{"name": "conv", "labels": map[string]any{"tier": "1"}}
	want := map[string]any{
		"apiVersion": "v1",
		"kind":       "ConfigMap",
		"metadata":   meta,
		"spec": map[string]any{
			"int":         int64(42),
			"negative":    int64(-7),
			"maxInt64":    int64(9223372036854775807),
			"beyondInt64": float64(18446744073709551615),
			"hex":         int64(31),
			"octal":       int64(15),
			"float":       1.5,
			"exponent":    float64(1000),
			"wholeFloat":  float64(3),
			"yaml11Bool":  "yes",
			"bool":        true,
			"null":        nil,
			"date":        "2024-01-02",
			"quoted":      "42",
			"binary":      "aGVsbG8=",
			"custom":      "foo",
			"1":           "numeric key",
			"base":        map[string]any{"x": int64(1), "y": int64(2)},
			"merged":      map[string]any{"x": int64(1), "y": int64(3)},
			"mergedList":  map[string]any{"x": int64(0), "y": int64(2), "z": int64(4)},
			"alias":       meta,
			"list":        []any{int64(1), "two", 3.5, nil},
		},
	}
	if len(objs) != 1 || !reflect.DeepEqual(objs[0].Data, want) {
		t.Fatalf("got %#v\nwant %#v", objs, want)
	}
	// Aliased values are copies, not shared.
	spec := objs[0].Data["spec"].(map[string]any)
	spec["alias"].(map[string]any)["name"] = "changed"
	if field(objs[0].Data, "metadata", "name") != "conv" {
		t.Error("alias expansion shares maps with the anchored value")
	}
}
