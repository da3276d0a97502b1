package chart

import (
	"os"
	"regexp"
	"strings"
	"testing"

	"go.yaml.in/yaml/v3"
)

// valuesNode parses charts/fluxgate/values.yaml, keeping its comments.
func valuesNode(t *testing.T) *yaml.Node {
	t.Helper()
	data, err := os.ReadFile(chartDir + "/values.yaml")
	if err != nil {
		t.Fatal(err)
	}
	var doc yaml.Node
	if err := yaml.Unmarshal(data, &doc); err != nil {
		t.Fatal(err)
	}
	if doc.Kind != yaml.DocumentNode || len(doc.Content) != 1 || doc.Content[0].Kind != yaml.MappingNode {
		t.Fatalf("values.yaml is not a mapping")
	}
	return doc.Content[0]
}

// walk calls fn for every key of m, with its dotted path and whether it
// is a leaf (a scalar, a list or an empty map).
func walk(m *yaml.Node, prefix string, fn func(path string, key, value *yaml.Node, leaf bool)) {
	for i := 0; i+1 < len(m.Content); i += 2 {
		key, value := m.Content[i], m.Content[i+1]
		path := key.Value
		if prefix != "" {
			path = prefix + "." + key.Value
		}
		nested := value.Kind == yaml.MappingNode && len(value.Content) > 0
		fn(path, key, value, !nested)
		if nested {
			walk(value, path, fn)
		}
	}
}

// Every key in values.yaml has a comment right above it.
func TestValuesEveryKeyCommented(t *testing.T) {
	walk(valuesNode(t), "", func(path string, key, _ *yaml.Node, _ bool) {
		if strings.TrimSpace(key.HeadComment) == "" {
			t.Errorf("values.yaml: %s (line %d) has no comment", path, key.Line)
		}
	})
}

// Every leaf key of values.yaml is a row of the table in docs/install.md,
// and every row names a key.
func TestInstallDocValuesTable(t *testing.T) {
	doc, err := os.ReadFile("../../docs/install.md")
	if err != nil {
		t.Fatal(err)
	}
	row := regexp.MustCompile("(?m)^\\| `([^`]+)` \\|")
	documented := map[string]bool{}
	for _, m := range row.FindAllStringSubmatch(string(doc), -1) {
		documented[m[1]] = true
	}
	leaves := map[string]bool{}
	walk(valuesNode(t), "", func(path string, _, _ *yaml.Node, leaf bool) {
		if leaf {
			leaves[path] = true
			if !documented[path] {
				t.Errorf("docs/install.md: values table lacks %s", path)
			}
		}
	})
	for k := range documented {
		if !leaves[k] {
			t.Errorf("docs/install.md: values table has %s, which values.yaml does not", k)
		}
	}
}
