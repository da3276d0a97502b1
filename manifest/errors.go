package manifest

import (
	"fmt"
	"strconv"
)

// ParseError reports a manifest that cannot be read: a YAML or JSON syntax
// error, or a document that is not a Kubernetes object. Its message has the
// form "FILE:LINE: problem" ("FILE: problem" when the line is unknown).
type ParseError struct {
	File string // as in Object.File
	Line int    // 1-based; 0 when unknown
	Err  error  // the problem, without file or line
}

// Error implements the error interface.
func (e *ParseError) Error() string {
	if e.Line > 0 {
		return e.File + ":" + strconv.Itoa(e.Line) + ": " + e.Err.Error()
	}
	return e.File + ": " + e.Err.Error()
}

// Unwrap returns the underlying problem.
func (e *ParseError) Unwrap() error { return e.Err }

// BuildError reports a kustomization directory that kustomize failed to
// build. Its message has the form "kustomize build DIR: problem".
type BuildError struct {
	Dir string // the kustomization directory, displayed like Object.File
	Err error  // the error returned by kustomize
}

// Error implements the error interface.
func (e *BuildError) Error() string {
	return fmt.Sprintf("kustomize build %s: %v", e.Dir, e.Err)
}

// Unwrap returns the error returned by kustomize.
func (e *BuildError) Unwrap() error { return e.Err }
