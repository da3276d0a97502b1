package test

import (
	"bytes"
	"encoding/json"
	"encoding/xml"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// fluxgate is the binary under test, built once by TestMain.
var fluxgate string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "fluxgate-test-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(2)
	}
	fluxgate = filepath.Join(dir, "fluxgate")
	build := exec.Command("go", "build", "-o", fluxgate, "../cmd/fluxgate")
	build.Stdout, build.Stderr = os.Stdout, os.Stderr
	if err := build.Run(); err != nil {
		fmt.Fprintln(os.Stderr, "build fluxgate:", err)
		os.Exit(2)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

type result struct {
	code           int
	stdout, stderr string
}

func runFluxgate(t *testing.T, stdin string, args ...string) result {
	t.Helper()
	cmd := exec.Command(fluxgate, args...)
	cmd.Stdin = strings.NewReader(stdin)
	var out, errOut bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errOut
	err := cmd.Run()
	code := 0
	if ee, ok := err.(*exec.ExitError); ok {
		code = ee.ExitCode()
	} else if err != nil {
		t.Fatal(err)
	}
	return result{code: code, stdout: out.String(), stderr: errOut.String()}
}

// jsonReport is the documented JSON output of fluxgate check.
type jsonReport struct {
	Results []struct {
		Policy, Action, Kind, Namespace, Name, File, Message string
		Cluster, Origin                                      string
		Line                                                 int
	} `json:"results"`
	Summary struct{ Objects, Deny, Warn, Mutate int } `json:"summary"`
}

func checkJSON(t *testing.T, args ...string) (jsonReport, result) {
	t.Helper()
	res := runFluxgate(t, "", append([]string{"check", "-o", "json"}, args...)...)
	var rep jsonReport
	if err := json.Unmarshal([]byte(res.stdout), &rep); err != nil {
		t.Fatalf("output is not JSON (exit %d, stderr %s): %v\n%s", res.code, res.stderr, err, res.stdout)
	}
	return rep, res
}

// findings renders results as "action policy Kind ns/name" for comparison.
func findings(rep jsonReport) []string {
	var out []string
	for _, r := range rep.Results {
		out = append(out, fmt.Sprintf("%s %s %s %s/%s", r.Action, r.Policy, r.Kind, r.Namespace, r.Name))
	}
	return out
}

func TestCheckExitCodes(t *testing.T) {
	tests := []struct {
		name       string
		args       []string
		stdin      string
		wantCode   int
		wantStdout string
		wantStderr string
	}{
		{name: "compliant apps pass", args: []string{"check", "../examples/apps/compliant"}, wantCode: 0, wantStdout: "PASS: 6 objects, 0 denied"},
		{name: "noncompliant apps are denied", args: []string{"check", "../examples/apps/noncompliant"}, wantCode: 1, wantStdout: "FAIL: 9 objects"},
		{name: "no input", args: []string{"check"}, wantCode: 2, wantStderr: "nothing to check"},
		{name: "missing path", args: []string{"check", "testdata/cli/nope.yaml"}, wantCode: 2, wantStderr: "nope.yaml"},
		{name: "broken yaml names file and line", args: []string{"check", "testdata/cli/broken.yaml"}, wantCode: 2, wantStderr: "testdata/cli/broken.yaml:7"},
		{name: "unknown kinds are skipped", args: []string{"check", "testdata/cli/unknown-kinds.yaml"}, wantCode: 0, wantStdout: "PASS: 2 objects, 0 denied"},
		{name: "unknown output format", args: []string{"check", "-o", "yaml", "../examples/apps"}, wantCode: 2, wantStderr: `--output "yaml"`},
		{name: "unknown flag", args: []string{"check", "--nope", "x"}, wantCode: 2, wantStderr: "unknown flag"},
		{name: "git without ref", args: []string{"check", "--git", "."}, wantCode: 2, wantStderr: "--git needs --ref"},
		{name: "git with paths", args: []string{"check", "--git", ".", "--ref", "main", "x"}, wantCode: 2, wantStderr: "--path"},
		{name: "configuration typo", args: []string{"check", "--config", "testdata/cli/typo.yaml", "../examples/apps"}, wantCode: 2, wantStderr: "policies.rollout-stratgy: no such policy"},
		{name: "missing configuration", args: []string{"check", "--config", "testdata/cli/none.yaml", "../examples/apps"}, wantCode: 2, wantStderr: "read configuration"},
		{name: "broken custom policy names file and line", args: []string{"check", "--policy-dir", "testdata/cli/broken-policy", "../examples/apps"}, wantCode: 2, wantStderr: "testdata/cli/broken-policy/bad.rego:10"},
		{name: "custom policy whose deny is a single value", args: []string{"check", "--policy-dir", "testdata/cli/single-value-policy", "../examples/apps"}, wantCode: 2, wantStderr: "testdata/cli/single-value-policy/min_replicas.rego:9:1: rule deny is a single value"},
		{name: "custom policy reading the clock", args: []string{"check", "--policy-dir", "testdata/cli/impure-policy", "../examples/apps"}, wantCode: 2, wantStderr: "testdata/cli/impure-policy/business_hours.rego:10:30: rego_type_error: undefined function time.now_ns (refused: policies must be pure"},
		{name: "stdin", args: []string{"check", "-"}, stdin: "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 3\n  strategy: {type: Recreate}\n", wantCode: 1, wantStdout: "<stdin>:1 [rollout-strategy] Deployment shop/web"},
		{name: "exemption annotation with reason", args: []string{"check", "testdata/cli/exempt.yaml"}, wantCode: 0, wantStdout: "PASS: 1 objects"},
		{name: "version", args: []string{"version"}, wantCode: 0},
		{name: "unknown command", args: []string{"chek"}, wantCode: 2, wantStderr: "unknown command"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			res := runFluxgate(t, tt.stdin, tt.args...)
			if res.code != tt.wantCode {
				t.Fatalf("exit %d, want %d\nstdout: %s\nstderr: %s", res.code, tt.wantCode, res.stdout, res.stderr)
			}
			if !strings.Contains(res.stdout, tt.wantStdout) {
				t.Errorf("stdout lacks %q:\n%s", tt.wantStdout, res.stdout)
			}
			if !strings.Contains(res.stderr, tt.wantStderr) {
				t.Errorf("stderr lacks %q:\n%s", tt.wantStderr, res.stderr)
			}
		})
	}
}

func TestCheckNoncompliantBreaksEveryRule(t *testing.T) {
	rep, res := checkJSON(t, "../examples/apps/noncompliant")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1: %s", res.code, res.stderr)
	}
	broken := map[string]bool{}
	for _, r := range rep.Results {
		broken[r.Policy] = true
		if r.File == "" || r.Line == 0 || r.Message == "" || r.Kind == "" || r.Name == "" {
			t.Errorf("result lacks provenance: %+v", r)
		}
	}
	for _, id := range []string{"rollout-strategy", "readiness-probe", "pdb-drain-safe", "pdb-coverage", "graceful-shutdown", "replicas-ha"} {
		if !broken[id] {
			t.Errorf("no finding of %s in the example that breaks every rule", id)
		}
	}
	if rep.Summary.Objects != 9 || rep.Summary.Deny == 0 || rep.Summary.Warn == 0 {
		t.Errorf("summary = %+v", rep.Summary)
	}
}

func TestCheckFluxRepository(t *testing.T) {
	rep, res := checkJSON(t, "testdata/fleet")
	if res.code != 1 {
		t.Fatalf("exit %d, want 1: %s", res.code, res.stderr)
	}
	got := strings.Join(findings(rep), "\n")
	want := strings.Join([]string{
		// Both overlays build the podinfo base, which fluxgate defaults to surge.
		"mutate rollout-strategy Deployment apps/podinfo",
		"mutate rollout-strategy Deployment apps-staging/podinfo",
		// Staging has two pods from its HPA and no budget.
		"deny pdb-coverage Deployment apps-staging/podinfo",
		// The upstream-shaped ingress controller rolls one pod down at a time.
		"mutate rollout-strategy Deployment ingress-nginx/ingress-nginx-controller",
		"deny rollout-strategy Deployment ingress-nginx/ingress-nginx-controller",
	}, "\n")
	if got != want {
		t.Fatalf("findings:\n%s\nwant:\n%s", got, want)
	}
	for _, r := range rep.Results {
		if !strings.HasPrefix(r.File, "testdata/fleet/") {
			t.Errorf("result not located in the repository: %+v", r)
		}
	}
	// The base is built as part of each overlay, never alone.
	if rep.Summary.Objects != 16 {
		t.Errorf("objects = %d, want 16", rep.Summary.Objects)
	}
}

func TestCheckConfiguration(t *testing.T) {
	rep, res := checkJSON(t, "--config", "testdata/cli/warn-rollout.yaml", "testdata/fleet")
	if res.code != 0 {
		t.Fatalf("exit %d, want 0 with rollout-strategy at warn and pdb-coverage off: %s", res.code, res.stderr)
	}
	for _, r := range rep.Results {
		if r.Policy == "pdb-coverage" {
			t.Errorf("pdb-coverage is off but reported: %+v", r)
		}
		if r.Policy == "rollout-strategy" && r.Action == "deny" {
			t.Errorf("rollout-strategy is configured to warn but denied: %+v", r)
		}
	}
	if rep.Summary.Warn != 1 {
		t.Errorf("warnings = %d, want the ingress controller's maxUnavailable", rep.Summary.Warn)
	}
}

func TestCheckCustomPolicy(t *testing.T) {
	stdin := "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: web, namespace: shop}\nspec:\n  replicas: 2\n  template:\n    spec:\n      containers: [{name: web, image: 'nginx:latest'}]\n"
	res := runFluxgate(t, stdin, "check", "--policy-dir", "../examples/policies", "-o", "json", "-")
	if res.code != 1 || !strings.Contains(res.stdout, `"policy": "image-pinned"`) || !strings.Contains(res.stdout, `uses image \"nginx:latest\"`) {
		t.Fatalf("exit %d\n%s\n%s", res.code, res.stdout, res.stderr)
	}
}

func TestCheckOutputFormats(t *testing.T) {
	t.Run("junit", func(t *testing.T) {
		res := runFluxgate(t, "", "check", "-o", "junit", "../examples/apps/noncompliant")
		var doc struct {
			Tests    int `xml:"tests,attr"`
			Failures int `xml:"failures,attr"`
		}
		if err := xml.Unmarshal([]byte(res.stdout), &doc); err != nil {
			t.Fatalf("not XML: %v\n%s", err, res.stdout)
		}
		if res.code != 1 || doc.Failures == 0 || doc.Tests < doc.Failures {
			t.Fatalf("exit %d, tests %d, failures %d", res.code, doc.Tests, doc.Failures)
		}
	})
	t.Run("junit when clean", func(t *testing.T) {
		res := runFluxgate(t, "", "check", "-o", "junit", "../examples/apps/compliant")
		if res.code != 0 || !strings.Contains(res.stdout, `failures="0"`) || !strings.Contains(res.stdout, "<testcase") {
			t.Fatalf("exit %d\n%s", res.code, res.stdout)
		}
	})
	t.Run("sarif", func(t *testing.T) {
		res := runFluxgate(t, "", "check", "-o", "sarif", "../examples/apps/noncompliant")
		var doc struct {
			Version string `json:"version"`
			Runs    []struct {
				Tool struct {
					Driver struct {
						Rules []struct{ ID string } `json:"rules"`
					} `json:"driver"`
				} `json:"tool"`
				Results []struct {
					RuleID    string `json:"ruleId"`
					Level     string `json:"level"`
					Locations []struct {
						PhysicalLocation struct {
							ArtifactLocation struct{ URI string }    `json:"artifactLocation"`
							Region           struct{ StartLine int } `json:"region"`
						} `json:"physicalLocation"`
					} `json:"locations"`
				} `json:"results"`
			} `json:"runs"`
		}
		if err := json.Unmarshal([]byte(res.stdout), &doc); err != nil {
			t.Fatalf("not JSON: %v", err)
		}
		if res.code != 1 || doc.Version != "2.1.0" || len(doc.Runs) != 1 || len(doc.Runs[0].Tool.Driver.Rules) < 6 {
			t.Fatalf("exit %d, doc %+v", res.code, doc)
		}
		rules := map[string]bool{}
		for _, r := range doc.Runs[0].Tool.Driver.Rules {
			rules[r.ID] = true
		}
		for _, r := range doc.Runs[0].Results {
			loc := r.Locations[0].PhysicalLocation
			if !rules[r.RuleID] || r.Level == "" || loc.ArtifactLocation.URI == "" || loc.Region.StartLine == 0 {
				t.Errorf("incomplete SARIF result %+v", r)
			}
		}
	})
}

func TestPolicyCommands(t *testing.T) {
	res := runFluxgate(t, "", "policy", "test", "../examples/policies")
	if res.code != 0 || !strings.Contains(res.stdout, "5 passed, 0 failed") {
		t.Fatalf("policy test: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	failing := t.TempDir()
	os.WriteFile(filepath.Join(failing, "p_test.rego"), []byte("package acme.p_test\n\ntest_wrong if {\n\t1 == 2\n}\n"), 0o644)
	res = runFluxgate(t, "", "policy", "test", failing)
	if res.code != 1 || !strings.Contains(res.stdout, "FAIL acme.p_test.test_wrong") || !strings.Contains(res.stdout, "0 passed, 1 failed") {
		t.Fatalf("failing policy test: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
	res = runFluxgate(t, "", "policy", "test", "testdata/cli/broken-policy")
	if res.code != 2 || !strings.Contains(res.stderr, "bad.rego:10") {
		t.Fatalf("broken policy test: exit %d\n%s", res.code, res.stderr)
	}
	res = runFluxgate(t, "", "policy", "list", "--config", "testdata/cli/warn-rollout.yaml")
	if res.code != 0 || !strings.Contains(res.stdout, "rollout-strategy") || !regexpMatch(`pdb-coverage\s+off`, res.stdout) {
		t.Fatalf("policy list: exit %d\n%s%s", res.code, res.stdout, res.stderr)
	}
}
