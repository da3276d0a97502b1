package manifest

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"math"
	"regexp"
	"strconv"
	"strings"
	"unicode/utf8"

	"go.yaml.in/yaml/v3"
)

// document is one non-empty document of a YAML stream.
type document struct {
	node  *yaml.Node // the document's content node (never a DocumentNode)
	value any        // node converted to JSON-compatible values
}

// decodeStream decodes every document of a YAML (or JSON) stream, skipping
// documents that are empty, null or only comments. file is used in errors.
func decodeStream(file string, data []byte) ([]document, error) {
	var docs []document
	dec := yaml.NewDecoder(bytes.NewReader(data))
	for {
		var doc yaml.Node
		err := dec.Decode(&doc)
		if errors.Is(err, io.EOF) {
			return docs, nil
		}
		if err != nil {
			return nil, syntaxError(file, data, err)
		}
		if len(doc.Content) == 0 {
			continue
		}
		n := doc.Content[0]
		if n.Kind == yaml.ScalarNode && n.ShortTag() == "!!null" {
			continue
		}
		c := converter{file: file}
		v, err := c.value(n)
		if err != nil {
			return nil, err
		}
		docs = append(docs, document{node: n, value: v})
	}
}

// yamlErrRe splits a go.yaml.in/yaml/v3 error message into its optional
// line number and its problem.
var yamlErrRe = regexp.MustCompile(`(?s)^yaml: (?:line (\d+): )?(.*)$`)

// parserProblems are the problems the YAML parser (as opposed to the scanner
// or the reader) reports. For those, yaml/v3 prints a 0-based line number
// (and none at all for the first line).
var parserProblems = map[string]bool{
	"did not find expected ',' or ']'":       true,
	"did not find expected ',' or '}'":       true,
	"did not find expected '-' indicator":    true,
	"did not find expected <document start>": true,
	"did not find expected <stream-start>":   true,
	"did not find expected key":              true,
	"did not find expected node content":     true,
	"found duplicate %TAG directive":         true,
	"found duplicate %YAML directive":        true,
	"found incompatible YAML document":       true,
	"found undefined tag handle":             true,
}

// readerProblems are the problems the YAML reader reports; they come without
// any position.
var readerProblems = []string{
	"control characters are not allowed",
	"invalid leading UTF-8 octet",
	"invalid trailing UTF-8 octet",
	"invalid length of a UTF-8 sequence",
	"incomplete UTF-8 octet sequence",
	"invalid Unicode character",
}

var unknownAnchorRe = regexp.MustCompile(`^unknown anchor '(.*)' referenced$`)

// syntaxError turns an error of the YAML decoder into a *ParseError carrying
// a 1-based line number, normalising yaml/v3's inconsistent line reporting.
func syntaxError(file string, data []byte, err error) *ParseError {
	m := yamlErrRe.FindStringSubmatch(err.Error())
	if m == nil {
		return &ParseError{File: file, Err: err}
	}
	problem := m[2]
	line := 0
	if m[1] != "" {
		line, _ = strconv.Atoi(m[1])
	}
	switch {
	case parserProblems[problem]:
		line++ // 0-based (and omitted when 0)
	case isReaderProblem(problem):
		line = badCharLine(data)
	case unknownAnchorRe.MatchString(problem):
		line = aliasLine(data, unknownAnchorRe.FindStringSubmatch(problem)[1])
	case line == 0:
		line = 1 // scanner errors omit the line number on the first line
	}
	return &ParseError{File: file, Line: line, Err: errors.New(problem)}
}

func isReaderProblem(problem string) bool {
	for _, p := range readerProblems {
		if strings.HasPrefix(problem, p) {
			return true
		}
	}
	return false
}

// badCharLine returns the line of the first byte sequence the YAML reader
// rejects (invalid UTF-8 or a disallowed control character), or 0.
func badCharLine(data []byte) int {
	line := 1
	for i := 0; i < len(data); {
		r, size := utf8.DecodeRune(data[i:])
		switch {
		case r == utf8.RuneError && size <= 1:
			return line
		case r == '\n':
			line++
		case r == '\t', r == '\r', r >= 0x20 && r <= 0x7E, r == 0x85,
			r >= 0xA0 && r <= 0xD7FF, r >= 0xE000 && r <= 0xFFFD, r >= 0x10000:
		default:
			return line
		}
		i += size
	}
	return 0
}

// aliasLine returns the line of the first use of alias *name, or 0.
func aliasLine(data []byte, name string) int {
	re, err := regexp.Compile(`\*` + regexp.QuoteMeta(name) + `(?:[\s,\]}]|$)`)
	if err != nil {
		return 0
	}
	loc := re.FindIndex(data)
	if loc == nil {
		return 0
	}
	return bytes.Count(data[:loc[0]], []byte("\n")) + 1
}

// maxAliasNodes bounds how many nodes may be produced by expanding aliases in
// one document, to defuse "billion laughs" documents.
const maxAliasNodes = 1_000_000

// converter turns yaml.Nodes into JSON-compatible values.
type converter struct {
	file       string
	aliasDepth int                 // > 0 while expanding an alias
	expanded   int                 // nodes produced through aliases
	active     map[*yaml.Node]bool // anchors being expanded, to catch cycles
}

func (c *converter) errorf(n *yaml.Node, format string, args ...any) error {
	return &ParseError{File: c.file, Line: n.Line, Err: fmt.Errorf(format, args...)}
}

func (c *converter) value(n *yaml.Node) (any, error) {
	if c.aliasDepth > 0 {
		c.expanded++
		if c.expanded > maxAliasNodes {
			return nil, c.errorf(n, "document expands too many aliases")
		}
	}
	switch n.Kind {
	case yaml.DocumentNode:
		if len(n.Content) == 0 {
			return nil, nil
		}
		return c.value(n.Content[0])
	case yaml.AliasNode:
		return c.alias(n)
	case yaml.ScalarNode:
		return c.scalar(n)
	case yaml.SequenceNode:
		out := make([]any, 0, len(n.Content))
		for _, item := range n.Content {
			v, err := c.value(item)
			if err != nil {
				return nil, err
			}
			out = append(out, v)
		}
		return out, nil
	case yaml.MappingNode:
		return c.mapping(n)
	}
	return nil, c.errorf(n, "unexpected YAML node kind %d", n.Kind)
}

func (c *converter) alias(n *yaml.Node) (any, error) {
	if n.Alias == nil {
		return nil, c.errorf(n, "unknown anchor %q referenced", n.Value)
	}
	if c.active[n.Alias] {
		return nil, c.errorf(n, "anchor %q value contains itself", n.Value)
	}
	if c.active == nil {
		c.active = make(map[*yaml.Node]bool)
	}
	c.active[n.Alias] = true
	c.aliasDepth++
	defer func() {
		delete(c.active, n.Alias)
		c.aliasDepth--
	}()
	return c.value(n.Alias)
}

func (c *converter) scalar(n *yaml.Node) (any, error) {
	switch tag := n.ShortTag(); tag {
	case "!!null":
		return nil, nil
	case "!!bool", "!!int", "!!float":
		var v any
		if err := n.Decode(&v); err != nil {
			return nil, c.errorf(n, "cannot decode %q as %s", n.Value, tag)
		}
		switch x := v.(type) {
		case bool:
			return x, nil
		case int:
			return int64(x), nil
		case int64:
			return x, nil
		case uint64:
			if x <= math.MaxInt64 {
				return int64(x), nil
			}
			return float64(x), nil
		case float64:
			if math.IsNaN(x) || math.IsInf(x, 0) {
				return nil, c.errorf(n, "number %s cannot be represented in JSON", n.Value)
			}
			return x, nil
		}
		return nil, c.errorf(n, "cannot decode %q as %s", n.Value, tag)
	default:
		// !!str, and also !!timestamp, !!binary and custom tags, which are
		// kept as written, as Kubernetes does.
		return n.Value, nil
	}
}

func (c *converter) mapping(n *yaml.Node) (map[string]any, error) {
	out := make(map[string]any, len(n.Content)/2)
	keyLines := make(map[string]int, len(n.Content)/2)
	var merges []*yaml.Node
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i], n.Content[i+1]
		if k.Kind == yaml.ScalarNode && k.ShortTag() == "!!merge" {
			merges = append(merges, v)
			continue
		}
		key, err := c.key(k)
		if err != nil {
			return nil, err
		}
		if prev, dup := keyLines[key]; dup {
			return nil, c.errorf(k, "mapping key %q already defined at line %d", key, prev)
		}
		keyLines[key] = k.Line
		val, err := c.value(v)
		if err != nil {
			return nil, err
		}
		out[key] = val
	}
	// Merged keys never override keys written in the mapping itself, and
	// earlier merge sources win over later ones.
	for _, m := range merges {
		sources := []*yaml.Node{m}
		if target := resolveAlias(m); target.Kind == yaml.SequenceNode {
			sources = target.Content
		}
		for _, src := range sources {
			if resolveAlias(src).Kind != yaml.MappingNode {
				return nil, c.errorf(src, "map merge requires map or sequence of maps as the value")
			}
			v, err := c.value(src)
			if err != nil {
				return nil, err
			}
			for key, val := range v.(map[string]any) {
				if _, exists := out[key]; !exists {
					out[key] = val
				}
			}
		}
	}
	return out, nil
}

// key returns the string form of a mapping key.
func (c *converter) key(n *yaml.Node) (string, error) {
	target := resolveAlias(n)
	if target.Kind != yaml.ScalarNode {
		return "", c.errorf(n, "mapping keys must be scalars")
	}
	return target.Value, nil
}

// resolveAlias follows alias nodes to the node they stand for.
func resolveAlias(n *yaml.Node) *yaml.Node {
	for i := 0; n.Kind == yaml.AliasNode && n.Alias != nil && i < 100; i++ {
		n = n.Alias
	}
	return n
}

// describeNode names a node's kind for error messages.
func describeNode(n *yaml.Node) string {
	n = resolveAlias(n)
	switch n.Kind {
	case yaml.SequenceNode:
		return "a sequence"
	case yaml.MappingNode:
		return "a mapping"
	case yaml.ScalarNode:
		return "a scalar"
	}
	return "an unknown node"
}
