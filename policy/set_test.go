package policy

import (
	"context"
	"strings"
	"testing"

	"github.com/open-policy-agent/opa/v1/ast"
)

func goodModules(t *testing.T) []Module {
	t.Helper()
	mods, err := ReadDir("testdata/good")
	if err != nil {
		t.Fatal(err)
	}
	return mods
}

func TestCompileGoodSet(t *testing.T) {
	set, err := Compile(context.Background(), goodModules(t))
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, p := range set.Policies() {
		ids = append(ids, p.ID)
	}
	if got := strings.Join(ids, ","); got != "min-replicas,team-label" {
		t.Fatalf("policies = %s", got)
	}
	md, _ := set.Policy("min-replicas")
	if md.Title != "Minimum replicas" || md.Action != ActionDeny || md.Parameters["min"] == nil || !md.AppliesTo("Deployment") || md.AppliesTo("Pod") {
		t.Fatalf("metadata = %+v", md)
	}
	if md, _ := set.Policy("team-label"); md.Action != ActionWarn {
		t.Fatalf("team-label action = %s", md.Action)
	}
	for _, f := range set.Files() {
		if strings.HasSuffix(f, "_test.rego") {
			t.Fatalf("test module %s compiled into the set", f)
		}
	}
}

func TestCompileRejectsBrokenModules(t *testing.T) {
	meta := func(id, extra string) string {
		return "# METADATA\n# custom:\n#   id: " + id + "\n#   kinds: [Deployment]\n" + extra
	}
	tests := []struct {
		name     string
		modules  []Module
		wantFile string
		wantLine int
		wantMsg  string
	}{
		{
			name:     "syntax error",
			modules:  []Module{{File: "testdata/broken/syntax.rego", Text: mustRead(t, "testdata/broken/syntax.rego")}},
			wantFile: "testdata/broken/syntax.rego", wantLine: 8, wantMsg: "rego_parse_error",
		},
		{
			name:     "undefined reference",
			modules:  []Module{{File: "p.rego", Text: meta("p", "package x.p\n\ndeny contains m if {\n\tm := data.nothere.fn(1)\n}\n")}},
			wantFile: "p.rego", wantLine: 8, wantMsg: "undefined function",
		},
		{
			name:     "network builtin",
			modules:  []Module{{File: "net.rego", Text: meta("net", "package x.net\n\ndeny contains m if {\n\tr := http.send({\"method\": \"GET\", \"url\": \"http://127.0.0.1\"})\n\tm := r.body\n}\n")}},
			wantFile: "net.rego", wantLine: 8, wantMsg: "http.send",
		},
		{
			name:     "nondeterministic builtin time.now_ns",
			modules:  []Module{{File: "now.rego", Text: meta("now", "package x.now\n\ndeny contains m if {\n\ttime.now_ns() > 0\n\tm := \"late\"\n}\n")}},
			wantFile: "now.rego", wantLine: 8, wantMsg: "undefined function time.now_ns (refused: policies must be pure",
		},
		{
			name:     "nondeterministic builtin rand.intn",
			modules:  []Module{{File: "rand.rego", Text: meta("rand", "package x.rand\n\ndeny contains m if {\n\trand.intn(\"x\", 2) == 0\n\tm := \"unlucky\"\n}\n")}},
			wantFile: "rand.rego", wantLine: 8, wantMsg: "rand.intn",
		},
		{
			name:     "nondeterministic builtin uuid.rfc4122",
			modules:  []Module{{File: "uuid.rego", Text: meta("uuid", "package x.uuid\n\nwarn contains m if {\n\tm := uuid.rfc4122(\"x\")\n}\n")}},
			wantFile: "uuid.rego", wantLine: 8, wantMsg: "uuid.rfc4122",
		},
		{
			name:     "deny as a single value",
			modules:  []Module{{File: "single.rego", Text: meta("single", "package x.single\n\ndeny := msg if {\n\tinput.request.object.spec.replicas < 2\n\tmsg := \"too few\"\n}\n")}},
			wantFile: "single.rego", wantLine: 7, wantMsg: "rule deny is a single value",
		},
		{
			name:     "warn as an object",
			modules:  []Module{{File: "obj.rego", Text: meta("obj", "package x.obj\n\nwarn[k] := msg if {\n\tk := \"a\"\n\tmsg := \"b\"\n}\n")}},
			wantFile: "obj.rego", wantLine: 7, wantMsg: "rule warn is an object",
		},
		{
			name:     "default deny",
			modules:  []Module{{File: "def.rego", Text: meta("def", "package x.def\n\ndefault deny := set()\n\nwarn contains \"w\" if false\n")}},
			wantFile: "def.rego", wantLine: 7, wantMsg: "rule deny is a single value",
		},
		{
			name:     "patch as a function",
			modules:  []Module{{File: "fn.rego", Text: meta("fn", "package x.fn\n\npatch(x) := [x]\n\ndeny contains \"x\" if false\n")}},
			wantFile: "fn.rego", wantLine: 7, wantMsg: "rule patch is a function",
		},
		{
			name: "deny in a second file of the package",
			modules: []Module{
				{File: "a.rego", Text: meta("split", "package x.split\n\nwarn contains \"w\" if false\n")},
				{File: "b.rego", Text: "package x.split\n\ndeny := \"d\"\n"},
			},
			wantFile: "b.rego", wantLine: 3, wantMsg: "rule deny is a single value",
		},
		{
			name:     "Rego v0 syntax",
			modules:  []Module{{File: "v0.rego", Text: meta("v0", "package x.v0\n\ndeny[msg] {\n\tmsg := \"x\"\n}\n")}},
			wantFile: "v0.rego", wantLine: 7, wantMsg: "rego_parse_error",
		},
		{
			name:     "policy package without metadata",
			modules:  []Module{{File: "nometa.rego", Text: "package fluxgate.policies.nometa\n\ndeny contains \"x\" if false\n"}},
			wantFile: "nometa.rego", wantLine: 1, wantMsg: "no METADATA block",
		},
		{
			name:     "bad id",
			modules:  []Module{{File: "id.rego", Text: meta("Not_Kebab", "package x.id\n\ndeny contains \"x\" if false\n")}},
			wantFile: "id.rego", wantLine: 1, wantMsg: "kebab-case",
		},
		{
			name:     "bad action",
			modules:  []Module{{File: "act.rego", Text: meta("act", "#   action: block\npackage x.act\n\ndeny contains \"x\" if false\n")}},
			wantFile: "act.rego", wantLine: 1, wantMsg: "want deny, warn or off",
		},
		{
			name:     "no kinds",
			modules:  []Module{{File: "k.rego", Text: "# METADATA\n# custom:\n#   id: k\npackage x.k\n\ndeny contains \"x\" if false\n"}},
			wantFile: "k.rego", wantLine: 1, wantMsg: "custom.kinds",
		},
		{
			name:     "no rules",
			modules:  []Module{{File: "empty.rego", Text: meta("empty", "package x.empty\n\nhelper := 1\n")}},
			wantFile: "empty.rego", wantMsg: "none of the rules",
		},
		{
			name: "duplicate id",
			modules: []Module{
				{File: "a.rego", Text: meta("same", "package x.a\n\ndeny contains \"x\" if false\n")},
				{File: "b.rego", Text: meta("same", "package x.b\n\ndeny contains \"x\" if false\n")},
			},
			wantFile: "b.rego", wantMsg: "already declared by a.rego",
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			set, err := Compile(context.Background(), tt.modules)
			if err == nil {
				t.Fatalf("compiled %d policies, want an error", len(set.Policies()))
			}
			ce, ok := AsCompileError(err)
			if !ok {
				t.Fatalf("error %T is not a *CompileError: %v", err, err)
			}
			p := ce.Problems[0]
			if p.File != tt.wantFile || (tt.wantLine != 0 && p.Line != tt.wantLine) || !strings.Contains(p.Message, tt.wantMsg) {
				t.Fatalf("problem = %s, want %s:%d ...%s...", p, tt.wantFile, tt.wantLine, tt.wantMsg)
			}
			if !strings.Contains(err.Error(), p.String()) {
				t.Fatalf("error text %q does not list %q", err, p)
			}
		})
	}
}

// Every built-in OPA marks nondeterministic is refused, whatever this OPA
// version adds, and none of the deterministic ones is.
func TestCapabilitiesRefuseNondeterministicBuiltins(t *testing.T) {
	allowed := map[string]bool{}
	for _, b := range capabilities().Builtins {
		allowed[b.Name] = true
	}
	for _, name := range []string{"http.send", "time.now_ns", "rand.intn", "uuid.rfc4122", "net.lookup_ip_addr", "opa.runtime", "trace", "io.jwt.encode_sign"} {
		if allowed[name] {
			t.Errorf("%s is allowed", name)
		}
	}
	for _, b := range ast.CapabilitiesForThisVersion().Builtins {
		if b.IsNondeterministic() && allowed[b.Name] {
			t.Errorf("nondeterministic %s is allowed", b.Name)
		}
	}
	for _, name := range []string{"sprintf", "object.get", "regex.match", "time.parse_rfc3339_ns", "units.parse"} {
		if !allowed[name] {
			t.Errorf("deterministic %s is refused", name)
		}
	}
}

func TestActiveKeepsWorkingSetOnBrokenReload(t *testing.T) {
	ctx := context.Background()
	var active Active
	if active.Engine() != nil {
		t.Fatal("engine before first reload")
	}
	good, err := active.Reload(ctx, goodModules(t), nil)
	if err != nil {
		t.Fatal(err)
	}
	broken := append(goodModules(t), Module{File: "testdata/broken/syntax.rego", Text: mustRead(t, "testdata/broken/syntax.rego")})
	if _, err := active.Reload(ctx, broken, nil); err == nil || !strings.Contains(err.Error(), "testdata/broken/syntax.rego:8") {
		t.Fatalf("reload of broken set: err = %v", err)
	}
	if active.Engine() != good || active.Generation() != 1 {
		t.Fatalf("broken reload replaced the engine (generation %d)", active.Generation())
	}
	if _, err := active.Reload(ctx, goodModules(t), &Config{Policies: map[string]PolicyConfig{"nope": {}}}); err == nil {
		t.Fatal("reload with a configuration naming an unknown policy succeeded")
	}
	if active.Engine() != good {
		t.Fatal("bad configuration replaced the engine")
	}
}

func TestBuiltinSetCompiles(t *testing.T) {
	mods, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	set, err := Compile(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	want := []string{"change-freeze", "graceful-shutdown", "pdb-coverage", "pdb-drain-safe", "readiness-probe", "replicas-ha", "rollout-strategy"}
	var got []string
	for _, p := range set.Policies() {
		got = append(got, p.ID)
		if p.Title == "" || p.Description == "" {
			t.Errorf("policy %s lacks a title or description", p.ID)
		}
	}
	if strings.Join(got, ",") != strings.Join(want, ",") {
		t.Fatalf("built-in policies = %v, want %v", got, want)
	}
}
