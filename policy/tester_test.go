package policy

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/policy/planeval"
)

func mustRead(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func TestRunTests(t *testing.T) {
	mods := append(goodModules(t), Module{File: "testdata/broken/failing_test.rego", Text: mustRead(t, "testdata/broken/failing_test.rego")})
	results, err := RunTests(context.Background(), mods, 10*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	verdicts := map[string]bool{}
	for _, r := range results {
		verdicts[r.Name] = r.Pass
		if r.File == "" || r.Line == 0 {
			t.Errorf("result %s has no location", r)
		}
	}
	want := map[string]bool{"test_one_replica_denied": true, "test_two_replicas_allowed": true, "test_fails": false, "test_passes": true}
	for name, pass := range want {
		if got, ok := verdicts[name]; !ok || got != pass {
			t.Errorf("%s: pass=%v (ran=%v), want pass=%v", name, got, ok, pass)
		}
	}
}

func TestRunTestsReportsBrokenModule(t *testing.T) {
	mods := []Module{{File: "testdata/broken/syntax.rego", Text: mustRead(t, "testdata/broken/syntax.rego")}}
	if _, err := RunTests(context.Background(), mods, time.Second); err == nil {
		t.Fatal("no error for a module that does not parse")
	} else if ce, ok := AsCompileError(err); !ok || ce.Problems[0].Line != 8 {
		t.Fatalf("err = %v", err)
	}
}

// TestBuiltinRegoTests runs the unit tests of every built-in policy and
// library, so `go test ./...` fails when a policy regresses: once with
// OPA's interpreter, as `fluxgate policy test` does, and once on the plan
// evaluator the engine uses (planeval), so that both agree on every test.
func TestBuiltinRegoTests(t *testing.T) {
	mods, err := BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	for _, target := range []string{"", planeval.Target} {
		t.Run("target="+target, func(t *testing.T) {
			results, err := runTests(context.Background(), mods, 30*time.Second, target)
			if err != nil {
				t.Fatal(err)
			}
			if len(results) == 0 {
				t.Fatal("the built-in policies have no Rego tests")
			}
			for _, r := range results {
				if !r.Pass {
					t.Errorf("%s\n%s", r, r.Output)
				}
			}
			t.Logf("%d Rego tests", len(results))
		})
	}
}
