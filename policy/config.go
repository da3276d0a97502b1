package policy

import (
	"fmt"
	"os"
	"slices"
	"sort"
	"strings"

	"sigs.k8s.io/yaml"
)

// ConfigAPIVersion and ConfigKind identify a fluxgate configuration file.
const (
	ConfigAPIVersion = "config.fluxgate.dev/v1alpha1"
	ConfigKind       = "Configuration"
)

// AlwaysExemptNamespaces are never evaluated, whatever the configuration
// says: a policy mistake must not stop the cluster's own components.
var AlwaysExemptNamespaces = []string{"kube-system"}

// DefaultFluxNamespace is the namespace Flux runs in unless the
// configuration's fluxNamespace says otherwise.
const DefaultFluxNamespace = "flux-system"

// Config is the one configuration file shared by `fluxgate check` and
// `fluxgate serve`. See docs/configuration.md.
type Config struct {
	APIVersion string `json:"apiVersion,omitempty"`
	Kind       string `json:"kind,omitempty"`
	// ExemptNamespaces are namespaces whose objects are never evaluated, in
	// addition to AlwaysExemptNamespaces.
	ExemptNamespaces []string `json:"exemptNamespaces,omitempty"`
	// FluxNamespace is the namespace Flux itself runs in, never evaluated:
	// kustomize-controller dry-runs and applies Flux's own install on
	// every reconcile of flux-system, and Flux's source-controller rolls
	// with Recreate, so a policy that judged it would stop Flux from
	// upgrading itself, or from delivering the fix to the policy. Nil means
	// DefaultFluxNamespace; an empty string exempts no namespace for Flux.
	FluxNamespace *string `json:"fluxNamespace,omitempty"`
	// Policies configures policies by id.
	Policies map[string]PolicyConfig `json:"policies,omitempty"`
}

// PolicyConfig overrides one policy's action and parameters.
type PolicyConfig struct {
	// Action is deny, warn or off; empty keeps the policy's default.
	Action Action `json:"action,omitempty"`
	// Parameters override the policy's defaults key by key.
	Parameters map[string]any `json:"parameters,omitempty"`
}

// LoadConfig reads and parses a configuration file. An empty path returns
// the default configuration.
func LoadConfig(path string) (*Config, error) {
	if path == "" {
		return &Config{}, nil
	}
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read configuration: %w", err)
	}
	cfg, err := ParseConfig(b)
	if err != nil {
		return nil, fmt.Errorf("configuration %s: %w", path, err)
	}
	return cfg, nil
}

// ParseConfig parses a YAML or JSON configuration strictly: unknown fields
// are errors, so a misspelt key never silently does nothing.
func ParseConfig(b []byte) (*Config, error) {
	cfg := &Config{}
	if err := yaml.UnmarshalStrict(b, cfg); err != nil {
		return nil, fmt.Errorf("parse: %w", err)
	}
	if cfg.APIVersion != "" && cfg.APIVersion != ConfigAPIVersion {
		return nil, fmt.Errorf("apiVersion %q: want %s", cfg.APIVersion, ConfigAPIVersion)
	}
	if cfg.Kind != "" && cfg.Kind != ConfigKind {
		return nil, fmt.Errorf("kind %q: want %s", cfg.Kind, ConfigKind)
	}
	for id, pc := range cfg.Policies {
		switch pc.Action {
		case "", ActionDeny, ActionWarn, ActionOff:
		default:
			return nil, fmt.Errorf("policies.%s.action %q: want deny, warn or off", id, pc.Action)
		}
	}
	return cfg, nil
}

// resolved is a policy's effective configuration.
type resolved struct {
	action Action
	params map[string]any
}

// resolve checks the configuration against the policies of set and
// returns each policy's effective action and parameters. Unknown policy
// ids and unknown parameter names are errors: they are always typos.
func (c *Config) resolve(set *Set) (map[string]resolved, error) {
	var errs []string
	ids := make([]string, 0, len(c.Policies))
	for id := range c.Policies {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		md, ok := set.Policy(id)
		if !ok {
			errs = append(errs, fmt.Sprintf("policies.%s: no such policy (known: %s)", id, strings.Join(policyIDs(set), ", ")))
			continue
		}
		for name := range c.Policies[id].Parameters {
			if _, ok := md.Parameters[name]; !ok {
				errs = append(errs, fmt.Sprintf("policies.%s.parameters.%s: no such parameter (known: %s)", id, name, strings.Join(sortedKeys(md.Parameters), ", ")))
			}
		}
	}
	if len(errs) > 0 {
		sort.Strings(errs)
		return nil, fmt.Errorf("configuration does not match the policy set:\n  %s", strings.Join(errs, "\n  "))
	}
	out := make(map[string]resolved, len(set.policies))
	for _, p := range set.policies {
		pc := c.Policies[p.meta.ID]
		r := resolved{action: p.meta.Action, params: make(map[string]any, len(p.meta.Parameters))}
		if pc.Action != "" {
			r.action = pc.Action
		}
		for k, v := range p.meta.Parameters {
			r.params[k] = v
		}
		for k, v := range pc.Parameters {
			r.params[k] = v
		}
		out[p.meta.ID] = r
	}
	return out, nil
}

// FluxNamespaceOrDefault is the namespace exempt as Flux's own, "" for
// none.
func (c *Config) FluxNamespaceOrDefault() string {
	if c.FluxNamespace == nil {
		return DefaultFluxNamespace
	}
	return *c.FluxNamespace
}

// exemptReason says why objects of namespace ns are never evaluated, if
// they are not.
func (c *Config) exemptReason(ns string) (string, bool) {
	switch {
	case ns == "":
		return "", false
	case slices.Contains(AlwaysExemptNamespaces, ns):
		return fmt.Sprintf("namespace %s is always exempt", ns), true
	case ns == c.FluxNamespaceOrDefault():
		return fmt.Sprintf("namespace %s is Flux's own (fluxNamespace), never evaluated so Flux can always upgrade itself", ns), true
	case slices.Contains(c.ExemptNamespaces, ns):
		return fmt.Sprintf("namespace %s is exempt", ns), true
	}
	return "", false
}

// exempt reports whether objects of namespace ns are never evaluated.
func (c *Config) exempt(ns string) bool {
	_, ok := c.exemptReason(ns)
	return ok
}

func policyIDs(set *Set) []string {
	ids := make([]string, 0, len(set.policies))
	for _, p := range set.policies {
		ids = append(ids, p.meta.ID)
	}
	return ids
}

func sortedKeys(m map[string]any) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}
