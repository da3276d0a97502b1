package policy

import (
	"encoding/json"
	"fmt"
	"regexp"
	"slices"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Action says what a policy's deny messages do.
type Action string

// The actions a configuration may choose for a policy, plus ActionMutate,
// which only appears in findings that report a mutation.
const (
	ActionDeny   Action = "deny"
	ActionWarn   Action = "warn"
	ActionOff    Action = "off"
	ActionMutate Action = "mutate"
)

// UnmarshalJSON accepts the action names and YAML's unquoted off, which
// YAML 1.1 parsers hand over as the boolean false.
func (a *Action) UnmarshalJSON(b []byte) error {
	switch string(b) {
	case "false":
		*a = ActionOff
		return nil
	case "true", "null":
		return fmt.Errorf("action %s: want deny, warn or off", b)
	}
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("action %s: want deny, warn or off", b)
	}
	if s == "false" { // sigs.k8s.io/yaml renders YAML's off as "false" for string fields
		s = string(ActionOff)
	}
	*a = Action(s)
	return nil
}

// Metadata describes one policy, read from the package-scoped METADATA
// block of its Rego package.
type Metadata struct {
	// ID is the stable kebab-case name used in configuration, exemptions and
	// findings, e.g. "rollout-strategy".
	ID          string `json:"id"`
	Title       string `json:"title"`
	Description string `json:"description"`
	// Action is the default action when the configuration names none; off
	// ships a policy that a configuration must turn on.
	Action Action `json:"action"`
	// Kinds are the object kinds (e.g. "Deployment") the policy is asked about.
	Kinds []string `json:"kinds"`
	// Parameters are the defaults the configuration may override key by key.
	Parameters map[string]any `json:"parameters,omitempty"`
	// Package is the Rego package path, e.g. "data.fluxgate.policies.rollout_strategy".
	Package string `json:"package"`
	// File is the module that declares the metadata.
	File string `json:"file"`

	hasDeny, hasWarn, hasPatch bool
}

// AppliesTo reports whether the policy evaluates objects of kind.
func (m *Metadata) AppliesTo(kind string) bool {
	return slices.Contains(m.Kinds, kind)
}

var policyID = regexp.MustCompile(`^[a-z0-9]([a-z0-9-]*[a-z0-9])?$`)

// policyPackagePrefix is where built-in policies live; a module there
// without metadata is almost certainly a policy whose METADATA block was
// forgotten or misplaced, so it is reported rather than ignored.
const policyPackagePrefix = "data.fluxgate.policies."

// metadataFromModule returns the policy metadata a module declares, nil if
// it declares none, and the problems found in it.
func metadataFromModule(file string, mod *ast.Module) (*Metadata, []Problem) {
	pkg := mod.Package.Path.String()
	var ann *ast.Annotations
	for _, a := range mod.Annotations {
		if a.Scope == "package" {
			ann = a
			break
		}
	}
	line := 0
	if mod.Package.Location != nil {
		line = mod.Package.Location.Row
	}
	problem := func(format string, args ...any) []Problem {
		return []Problem{{File: file, Line: line, Message: fmt.Sprintf(format, args...)}}
	}
	if ann == nil || ann.Custom["id"] == nil {
		if strings.HasPrefix(pkg, policyPackagePrefix) && !strings.HasSuffix(pkg, "_test") {
			return nil, problem("package %s has no METADATA block with custom.id: every policy declares its id, action and kinds", strings.TrimPrefix(pkg, "data."))
		}
		return nil, nil
	}
	if ann.Location != nil {
		line = ann.Location.Row
	}
	md := &Metadata{Title: ann.Title, Description: ann.Description, Package: pkg, File: file}

	id, ok := ann.Custom["id"].(string)
	if !ok || !policyID.MatchString(id) {
		return nil, problem("METADATA custom.id %v: want a kebab-case name such as rollout-strategy", ann.Custom["id"])
	}
	md.ID = id

	action, _ := ann.Custom["action"].(string)
	if b, isBool := ann.Custom["action"].(bool); isBool && !b {
		action = string(ActionOff) // YAML 1.1 reads an unquoted off as false
	}
	switch Action(action) {
	case ActionDeny, ActionWarn, ActionOff:
		md.Action = Action(action)
	case "":
		md.Action = ActionDeny
	default:
		return nil, problem("policy %s: METADATA custom.action %q: want deny, warn or off", id, action)
	}

	kinds, ok := ann.Custom["kinds"].([]any)
	if !ok || len(kinds) == 0 {
		return nil, problem("policy %s: METADATA custom.kinds must list the kinds it applies to, e.g. [Deployment]", id)
	}
	for _, k := range kinds {
		s, ok := k.(string)
		if !ok || s == "" {
			return nil, problem("policy %s: METADATA custom.kinds entry %v is not a kind name", id, k)
		}
		md.Kinds = append(md.Kinds, s)
	}

	switch params := ann.Custom["parameters"].(type) {
	case nil:
		md.Parameters = map[string]any{}
	case map[string]any:
		md.Parameters = params
	default:
		return nil, problem("policy %s: METADATA custom.parameters must be a mapping of names to default values", id)
	}
	return md, nil
}
