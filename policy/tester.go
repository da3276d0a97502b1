package policy

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/open-policy-agent/opa/v1/ast"
	"github.com/open-policy-agent/opa/v1/tester"
)

// TestResult is the outcome of one Rego test rule.
type TestResult struct {
	File     string        `json:"file"`
	Line     int           `json:"line"`
	Package  string        `json:"package"`
	Name     string        `json:"name"`
	Pass     bool          `json:"pass"`
	Skipped  bool          `json:"skipped,omitempty"`
	Error    string        `json:"error,omitempty"`
	Output   string        `json:"output,omitempty"`
	Duration time.Duration `json:"duration"`
}

// String renders one result the way `opa test` does: the verdict, the
// test and where it is.
func (r TestResult) String() string {
	verdict := "PASS"
	switch {
	case r.Skipped:
		verdict = "SKIP"
	case r.Error != "":
		verdict = "ERROR"
	case !r.Pass:
		verdict = "FAIL"
	}
	s := fmt.Sprintf("%s %s.%s (%s:%d)", verdict, strings.TrimPrefix(r.Package, "data."), r.Name, r.File, r.Line)
	if r.Error != "" {
		s += ": " + r.Error
	}
	return s
}

// RunTests compiles modules, tests included, and runs every test_ rule,
// each with the given timeout. A module that does not parse or compile
// makes it return a *CompileError and no results.
func RunTests(ctx context.Context, modules []Module, timeout time.Duration) ([]TestResult, error) {
	return runTests(ctx, modules, timeout, "")
}

// runTests runs the tests with OPA's interpreter (target "") or another
// rego target, such as planeval.Target, the evaluator the engine uses.
func runTests(ctx context.Context, modules []Module, timeout time.Duration, target string) ([]TestResult, error) {
	parsed := make(map[string]*ast.Module, len(modules))
	var problems []Problem
	for _, m := range modules {
		mod, err := ast.ParseModuleWithOpts(m.File, m.Text, ast.ParserOptions{ProcessAnnotation: true, RegoVersion: ast.RegoV1})
		if err != nil {
			problems = append(problems, problemsFromOPA(err)...)
			continue
		}
		parsed[m.File] = mod
	}
	if len(problems) > 0 {
		return nil, &CompileError{Problems: problems}
	}
	runner := tester.NewRunner().
		SetDefaultRegoVersion(ast.RegoV1).
		SetModules(parsed).
		SetTimeout(timeout).
		CapturePrintOutput(true).
		RaiseBuiltinErrors(true)
	if target != "" {
		// A target plugin makes every test's rego.New write the shared
		// compiler's evaluation mode: one test at a time.
		runner = runner.Target(target).SetParallel(1)
	}
	ch, err := runner.RunTests(ctx, nil)
	if err != nil {
		return nil, &CompileError{Problems: problemsFromOPA(err)}
	}
	var results []TestResult
	for r := range ch {
		tr := TestResult{Package: r.Package, Name: r.Name, Pass: r.Pass(), Skipped: r.Skip, Output: string(r.Output), Duration: r.Duration}
		if r.Location != nil {
			tr.File, tr.Line = r.Location.File, r.Location.Row
		}
		if r.Error != nil {
			tr.Error = r.Error.Error()
		}
		results = append(results, tr)
	}
	sort.Slice(results, func(i, j int) bool {
		if results[i].File != results[j].File {
			return results[i].File < results[j].File
		}
		return results[i].Line < results[j].Line
	})
	return results, nil
}
