// Package report renders the results of `fluxgate check` for people (text)
// and for machines: JSON, JUnit XML for CI test views, and SARIF 2.1.0 for
// code-scanning views.
package report

import (
	"encoding/json"
	"fmt"
	"io"
	"strings"

	"github.com/fluxgate/fluxgate/check"
)

// Formats lists the output formats Write accepts.
var Formats = []string{"text", "json", "junit", "sarif"}

// Write renders rep to w in format.
func Write(w io.Writer, format string, rep *check.Report) error {
	switch format {
	case "text", "":
		return writeText(w, rep)
	case "json":
		return writeJSON(w, rep)
	case "junit":
		return writeJUnit(w, rep)
	case "sarif":
		return writeSARIF(w, rep)
	default:
		return fmt.Errorf("unknown output format %q: want one of %s", format, strings.Join(Formats, ", "))
	}
}

func writeJSON(w io.Writer, rep *check.Report) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rep); err != nil {
		return fmt.Errorf("write json: %w", err)
	}
	return nil
}

// objectName renders "Kind ns/name" or "Kind name" for cluster-scoped or
// namespace-less objects.
func objectName(r check.Result) string {
	if r.Namespace != "" {
		return fmt.Sprintf("%s %s/%s", r.Kind, r.Namespace, r.Name)
	}
	return fmt.Sprintf("%s %s", r.Kind, r.Name)
}

// provenance renders where Flux applies the object, " (cluster C, Kustomization ns/name)",
// or "" for objects no Flux object reaches.
func provenance(r check.Result) string {
	var parts []string
	if r.Cluster != "" {
		parts = append(parts, "cluster "+r.Cluster)
	}
	if r.Origin != "" {
		parts = append(parts, r.Origin)
	}
	if len(parts) == 0 {
		return ""
	}
	return " (" + strings.Join(parts, ", ") + ")"
}

func location(r check.Result) string {
	if r.Line > 0 {
		return fmt.Sprintf("%s:%d", r.File, r.Line)
	}
	return r.File
}

func writeText(w io.Writer, rep *check.Report) error {
	var b strings.Builder
	for _, r := range rep.Results {
		fmt.Fprintf(&b, "%-6s %s [%s] %s%s\n       %s\n", strings.ToUpper(r.Action), location(r), r.Policy, objectName(r), provenance(r), r.Message)
	}
	if len(rep.Results) > 0 {
		b.WriteString("\n")
	}
	verdict := "PASS"
	if rep.Denied() {
		verdict = "FAIL"
	}
	fmt.Fprintf(&b, "%s: %d objects, %d denied, %d warnings, %d mutations at admission\n",
		verdict, rep.Summary.Objects, rep.Summary.Deny, rep.Summary.Warn, rep.Summary.Mutate)
	_, err := io.WriteString(w, b.String())
	return err
}

// byObject groups results per object in first-seen order.
func byObject(rep *check.Report) ([]string, map[string][]check.Result) {
	var order []string
	groups := map[string][]check.Result{}
	for _, r := range rep.Results {
		key := location(r) + " " + objectName(r) + provenance(r)
		if _, ok := groups[key]; !ok {
			order = append(order, key)
		}
		groups[key] = append(groups[key], r)
	}
	return order, groups
}
