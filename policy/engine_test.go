package policy

import (
	"context"
	"reflect"
	"strings"
	"testing"
)

func testEngine(t *testing.T, cfg *Config) *Engine {
	t.Helper()
	set, err := Compile(context.Background(), goodModules(t))
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

func deployment(ns string, replicas int, annotations map[string]any, labels map[string]any) map[string]any {
	meta := map[string]any{"name": "web", "namespace": ns}
	if annotations != nil {
		meta["annotations"] = annotations
	}
	if labels != nil {
		meta["labels"] = labels
	}
	return map[string]any{"apiVersion": "apps/v1", "kind": "Deployment", "metadata": meta, "spec": map[string]any{"replicas": replicas}}
}

func request(obj map[string]any) *Input {
	meta := obj["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	return &Input{Request: Request{
		Operation: OperationCreate,
		Kind:      GroupVersionKind{Group: "apps", Version: "v1", Kind: obj["kind"].(string)},
		Namespace: ns, Name: meta["name"].(string), Object: obj,
	}, Complete: true}
}

func summary(d *Decision) []string {
	var out []string
	for _, f := range d.Findings {
		out = append(out, string(f.Action)+" "+f.Policy+": "+f.Message)
	}
	return out
}

func TestEngineReview(t *testing.T) {
	labelled := map[string]any{"team": "a"}
	tests := []struct {
		name     string
		cfg      *Config
		in       *Input
		want     []string
		skipped  string
		mutated  bool
		denied   bool
		modifyIn func(*Input)
	}{
		{
			name: "compliant",
			in:   request(deployment("apps", 3, nil, labelled)),
		},
		{
			name:    "mutation runs before validation and later policies see it",
			in:      request(deployment("apps", 3, nil, nil)),
			mutated: true,
			want: []string{
				`mutate min-replicas: set metadata.labels to {"team":"unknown"}`,
				"warn team-label: team label is unknown",
			},
		},
		{
			name:   "deny with default action",
			in:     request(deployment("apps", 1, nil, labelled)),
			denied: true,
			want:   []string{"deny min-replicas: web has 1 replicas, want 2"},
		},
		{
			name: "configured action warn demotes deny",
			cfg:  &Config{Policies: map[string]PolicyConfig{"min-replicas": {Action: ActionWarn}}},
			in:   request(deployment("apps", 1, nil, labelled)),
			want: []string{"warn min-replicas: web has 1 replicas, want 2"},
		},
		{
			name: "configured action deny promotes a warn-by-default policy",
			cfg:  &Config{Policies: map[string]PolicyConfig{"team-label": {Action: ActionDeny}}},
			in:   request(deployment("apps", 2, nil, map[string]any{"team": "unknown"})),
			want: []string{"deny team-label: team label is unknown"}, denied: true,
		},
		{
			name:    "action off",
			cfg:     &Config{Policies: map[string]PolicyConfig{"min-replicas": {Action: ActionOff}, "team-label": {Action: ActionOff}}},
			in:      request(deployment("apps", 1, nil, nil)),
			skipped: "no enabled policy applies to Deployment",
		},
		{
			name: "parameters override defaults",
			cfg:  &Config{Policies: map[string]PolicyConfig{"min-replicas": {Parameters: map[string]any{"min": 5}}}},
			in:   request(deployment("apps", 3, nil, labelled)),
			want: []string{"deny min-replicas: web has 3 replicas, want 5"}, denied: true,
		},
		{
			name:    "exempt namespace from configuration",
			cfg:     &Config{ExemptNamespaces: []string{"legacy"}},
			in:      request(deployment("legacy", 1, nil, nil)),
			skipped: "namespace legacy is exempt",
		},
		{
			name:    "kube-system is always exempt",
			in:      request(deployment("kube-system", 1, nil, nil)),
			skipped: "namespace kube-system is always exempt",
		},
		{
			name:    "Flux's namespace is exempt by default",
			in:      request(deployment("flux-system", 1, nil, nil)),
			skipped: "namespace flux-system is Flux's own (fluxNamespace), never evaluated so Flux can always upgrade itself",
		},
		{
			name:    "Flux's namespace as configured",
			cfg:     &Config{FluxNamespace: ptrTo("gitops")},
			in:      request(deployment("gitops", 1, nil, nil)),
			skipped: "namespace gitops is Flux's own (fluxNamespace), never evaluated so Flux can always upgrade itself",
		},
		{
			name: "flux-system evaluated once fluxNamespace names another",
			cfg:  &Config{FluxNamespace: ptrTo("gitops")},
			in:   request(deployment("flux-system", 1, nil, labelled)),
			want: []string{"deny min-replicas: web has 1 replicas, want 2"}, denied: true,
		},
		{
			name: "an empty fluxNamespace exempts no namespace for Flux",
			cfg:  &Config{FluxNamespace: ptrTo("")},
			in:   request(deployment("flux-system", 1, nil, labelled)),
			want: []string{"deny min-replicas: web has 1 replicas, want 2"}, denied: true,
		},
		{
			name: "kind no policy applies to",
			in: func() *Input {
				in := request(deployment("apps", 1, nil, nil))
				in.Request.Kind.Kind = "ConfigMap"
				return in
			}(),
			skipped: "no enabled policy applies to ConfigMap",
		},
		{
			name: "exemption annotation with reason",
			in: request(deployment("apps", 1, map[string]any{
				ExemptAnnotation: "min-replicas, team-label", ExemptReasonAnnotation: "singleton by design",
			}, labelled)),
			skipped: "no enabled policy applies to Deployment",
		},
		{
			name:   "exemption without reason is ignored and reported",
			in:     request(deployment("apps", 1, map[string]any{ExemptAnnotation: "min-replicas"}, labelled)),
			denied: true,
			want: []string{
				"warn fluxgate: annotation fluxgate.dev/exempt is ignored: add fluxgate.dev/exempt-reason explaining why the object is exempt",
				"deny min-replicas: web has 1 replicas, want 2",
			},
		},
		{
			name: "exemption naming an unknown policy is reported",
			in: request(deployment("apps", 1, map[string]any{
				ExemptAnnotation: "min-replicas,min-replica", ExemptReasonAnnotation: "x",
			}, labelled)),
			want: []string{"warn fluxgate: annotation fluxgate.dev/exempt names unknown policies min-replica; known policies: min-replicas, team-label"},
		},
		{
			name: "delete is evaluated on the old object",
			in: func() *Input {
				in := request(deployment("apps", 1, nil, labelled))
				in.Request.Operation, in.Request.OldObject, in.Request.Object = OperationDelete, in.Request.Object, nil
				return in
			}(),
		},
		{
			name: "incomplete related set is visible to policies",
			in: func() *Input {
				in := request(deployment("apps", 2, nil, labelled))
				in.Complete = false
				return in
			}(),
			want: []string{"warn min-replicas: related set is incomplete"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d, err := testEngine(t, tt.cfg).Review(context.Background(), tt.in)
			if err != nil {
				t.Fatal(err)
			}
			if got := summary(d); !reflect.DeepEqual(got, tt.want) {
				t.Errorf("findings:\n  got  %q\n  want %q", got, tt.want)
			}
			if d.Skipped != tt.skipped {
				t.Errorf("skipped = %q, want %q", d.Skipped, tt.skipped)
			}
			if (d.Mutated != nil) != tt.mutated {
				t.Errorf("mutated = %v, want %v", d.Mutated != nil, tt.mutated)
			}
			if d.Denied() != tt.denied {
				t.Errorf("denied = %v, want %v", d.Denied(), tt.denied)
			}
		})
	}
}

func TestEngineMutateLeavesInputUntouched(t *testing.T) {
	obj := deployment("apps", 3, nil, nil)
	d, err := testEngine(t, nil).Mutate(context.Background(), request(obj))
	if err != nil {
		t.Fatal(err)
	}
	if _, has := obj["metadata"].(map[string]any)["labels"]; has {
		t.Fatal("Mutate modified the caller's object")
	}
	if len(d.Patch) != 1 || d.Patch[0].Path != "/metadata/labels" {
		t.Fatalf("patch = %+v", d.Patch)
	}
	// Validation alone reports no mutation.
	v, err := testEngine(t, nil).Validate(context.Background(), request(d.Mutated))
	if err != nil {
		t.Fatal(err)
	}
	if got := summary(v); len(got) != 1 || !strings.HasPrefix(got[0], "warn team-label") {
		t.Fatalf("validate findings = %q", got)
	}
}

func TestNewEngineRejectsConfigurationTypos(t *testing.T) {
	set, err := Compile(context.Background(), goodModules(t))
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		cfg  *Config
		want string
	}{
		{"unknown policy", &Config{Policies: map[string]PolicyConfig{"min-replica": {}}}, "policies.min-replica: no such policy (known: min-replicas, team-label)"},
		{"unknown parameter", &Config{Policies: map[string]PolicyConfig{"min-replicas": {Parameters: map[string]any{"minimum": 3}}}}, "policies.min-replicas.parameters.minimum: no such parameter (known: min)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if _, err := NewEngine(set, tt.cfg); err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("err = %v, want %q", err, tt.want)
			}
		})
	}
}

func TestParseConfig(t *testing.T) {
	tests := []struct {
		name, yaml, wantErr string
	}{
		{"full", "apiVersion: config.fluxgate.dev/v1alpha1\nkind: Configuration\nexemptNamespaces: [legacy]\npolicies:\n  min-replicas:\n    action: warn\n    parameters: {min: 3}\n", ""},
		{"empty", "", ""},
		{"unknown field", "exemptNamespace: [x]\n", "unknown field"},
		{"bad action", "policies:\n  x:\n    action: block\n", `policies.x.action "block": want deny, warn or off`},
		{"wrong apiVersion", "apiVersion: v1\n", "apiVersion"},
		{"not yaml", "policies: [\n", "parse"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, err := ParseConfig([]byte(tt.yaml))
			if tt.wantErr == "" && err != nil {
				t.Fatal(err)
			}
			if tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)) {
				t.Fatalf("err = %v, want %q", err, tt.wantErr)
			}
		})
	}
}

func TestParseConfigUnquotedOff(t *testing.T) {
	cfg, err := ParseConfig([]byte("policies:\n  min-replicas:\n    action: off\n  team-label:\n    action: \"off\"\n"))
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Policies["min-replicas"].Action != ActionOff || cfg.Policies["team-label"].Action != ActionOff {
		t.Fatalf("actions = %+v", cfg.Policies)
	}
	if _, err := ParseConfig([]byte("policies:\n  x:\n    action: on\n")); err == nil {
		t.Fatal("action: on accepted")
	}
}

func TestPoliciesNeverSeeManagedFields(t *testing.T) {
	mods := []Module{{File: "mf.rego", Text: "# METADATA\n# custom:\n#   id: mf\n#   kinds: [Deployment]\npackage x.mf\n\ndeny contains \"saw managedFields\" if input.request.object.metadata.managedFields\n\ndeny contains \"lost labels\" if not input.request.object.metadata.labels.team\n"}}
	set, err := Compile(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	obj := deployment("apps", 2, nil, map[string]any{"team": "a"})
	obj["metadata"].(map[string]any)["managedFields"] = []any{map[string]any{"manager": "kubectl"}}
	d, err := eng.Validate(context.Background(), request(obj))
	if err != nil {
		t.Fatal(err)
	}
	if len(d.Findings) != 0 {
		t.Fatalf("findings = %q", summary(d))
	}
	if _, kept := obj["metadata"].(map[string]any)["managedFields"]; !kept {
		t.Fatal("the caller's object lost its managedFields")
	}
}

func TestChangeFreezeSeesMaintenance(t *testing.T) {
	mods, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	if md, _ := set.Policy("change-freeze"); md.Action != ActionOff {
		t.Fatalf("change-freeze ships %s, want off", md.Action)
	}
	eng, err := NewEngine(set, &Config{Policies: map[string]PolicyConfig{"change-freeze": {Action: ActionDeny}}})
	if err != nil {
		t.Fatal(err)
	}
	labels := map[string]any{"kustomize.toolkit.fluxcd.io/name": "apps"}
	old := deployment("shop", 2, nil, labels)
	old["spec"].(map[string]any)["template"] = map[string]any{"spec": map[string]any{"image": "web:1"}}
	cur := deployment("shop", 2, nil, labels)
	cur["spec"].(map[string]any)["template"] = map[string]any{"spec": map[string]any{"image": "web:2"}}
	in := request(cur)
	in.Request.Operation, in.Request.OldObject = OperationUpdate, old
	for _, active := range []bool{false, true} {
		in.Maintenance = Maintenance{Active: active, Guards: []MaintenanceGuard{{Name: "default", Phase: "Paused", Signals: []string{"NodeCordoned"}}}}
		d, err := eng.Validate(context.Background(), in)
		if err != nil {
			t.Fatal(err)
		}
		frozen := false
		for _, f := range d.Findings {
			frozen = frozen || (f.Policy == "change-freeze" && f.Action == ActionDeny)
		}
		if frozen != active {
			t.Errorf("maintenance active=%v: frozen=%v (%q)", active, frozen, summary(d))
		}
	}
	// The denial's advice for an emergency change, followed: the change is
	// admitted during the maintenance, with nothing else to fix.
	exempt := deployment("shop", 2, map[string]any{ExemptAnnotation: "change-freeze", ExemptReasonAnnotation: "security fix"}, labels)
	exempt["spec"] = cur["spec"]
	in.Request.Object = exempt
	d, err := eng.Validate(context.Background(), in)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range d.Findings {
		if f.Policy == "change-freeze" || f.Policy == EngineID {
			t.Errorf("following change-freeze's advice (fluxgate.dev/exempt: change-freeze with a reason) leaves %s: %s", f.Policy, f.Message)
		}
	}
}

func ptrTo[T any](v T) *T { return &v }
