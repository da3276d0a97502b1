package policy

import (
	"errors"
	"fmt"
	"sort"
	"strings"

	"github.com/open-policy-agent/opa/v1/ast"
)

// Problem is one error found in a policy module, located by file and line.
type Problem struct {
	File    string `json:"file"`
	Line    int    `json:"line"`
	Column  int    `json:"column,omitempty"`
	Message string `json:"message"`
}

// String formats the problem as file:line:column: message, the form editors
// and CI logs link to.
func (p Problem) String() string {
	loc := p.File
	if p.Line > 0 {
		loc = fmt.Sprintf("%s:%d", loc, p.Line)
		if p.Column > 0 {
			loc = fmt.Sprintf("%s:%d", loc, p.Column)
		}
	}
	if loc == "" {
		return p.Message
	}
	return loc + ": " + p.Message
}

// CompileError reports why a set of policy modules could not be built. No
// Set exists when it is returned, so a caller that holds a working Set
// keeps serving it.
type CompileError struct {
	Problems []Problem
}

// Error lists every problem, one per line.
func (e *CompileError) Error() string {
	lines := make([]string, 0, len(e.Problems)+1)
	lines = append(lines, fmt.Sprintf("policy set rejected: %d problem(s)", len(e.Problems)))
	for _, p := range e.Problems {
		lines = append(lines, "  "+p.String())
	}
	return strings.Join(lines, "\n")
}

// AsCompileError returns the CompileError inside err, if any.
func AsCompileError(err error) (*CompileError, bool) {
	var ce *CompileError
	ok := errors.As(err, &ce)
	return ce, ok
}

// problemsFromOPA converts OPA's parse and compile errors, which carry their
// own locations, into Problems sorted by file and line.
func problemsFromOPA(err error) []Problem {
	var errs ast.Errors
	if !errors.As(err, &errs) {
		var one *ast.Error
		if errors.As(err, &one) {
			errs = ast.Errors{one}
		} else {
			return []Problem{{Message: err.Error()}}
		}
	}
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		p := Problem{Message: e.Message}
		if e.Code != "" {
			p.Message = e.Code + ": " + e.Message
		}
		if e.Location != nil {
			p.File, p.Line, p.Column = e.Location.File, e.Location.Row, e.Location.Col
		}
		out = append(out, p)
	}
	sortProblems(out)
	return out
}

func sortProblems(ps []Problem) {
	sort.SliceStable(ps, func(i, j int) bool {
		if ps[i].File != ps[j].File {
			return ps[i].File < ps[j].File
		}
		return ps[i].Line < ps[j].Line
	})
}
