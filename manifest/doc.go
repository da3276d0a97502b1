// Package manifest reads Kubernetes objects from the places a Flux pipeline
// keeps them — loose YAML/JSON files, directory trees, kustomize overlays and
// Git revisions — and records where each object came from, so that findings
// can be reported by file and line.
//
// # Sources
//
//   - [LoadPaths] reads files and directories on disk, and "-" for standard
//     input.
//   - [LoadFS] walks a tree in any kustomize [filesys.FileSystem], on disk or
//     in memory.
//   - [LoadGit] reads a revision of a local or remote Git repository without
//     touching any work tree.
//
// # Files
//
// Files ending in .yaml, .yml or .json (in any letter case) are read as YAML
// streams; JSON is read as YAML, which it is a subset of. Documents that are
// empty, null or only comments are skipped. Every other document must be a
// mapping with a non-empty string "apiVersion" and "kind"; an object of kind
// "List" is replaced by its "items". A file named explicitly (or standard
// input) that breaks these rules is an error. Inside a walked directory, a
// file none of whose documents is a Kubernetes object (a Helm values file, a
// CI configuration...) is skipped silently, but a file mixing objects and
// non-objects is an error, and so is a YAML syntax error in any file read.
// Syntax and structure errors are reported as [*ParseError].
//
// # Directories
//
// Directories are walked recursively in lexical order, skipping entries whose
// names start with "." (.git, .github, .sops.yaml...) below the starting
// point. A directory holding a kustomization file (kustomization.yaml,
// kustomization.yml or Kustomization) is built with kustomize the way Flux's
// kustomize-controller builds it and is not descended into. Bases are not
// built twice: a kustomization directory that another kustomization directory
// found in the same walk refers to — directly or through other kustomization
// directories, via resources, bases, components, generators, transformers or
// validators — is not built on its own. A kustomization directory named
// explicitly is always built. Build failures are reported as [*BuildError].
//
// A directory holding a Chart.yaml (and no kustomization file) is a Helm
// chart: its templates are Go templates, not YAML, so it is neither read nor
// descended into, also when named explicitly; it yields no objects. Charts
// are rendered through the HelmReleases that use them (package helmrelease).
//
// # Sets
//
// Every [Object] belongs to a set of related objects ([Object.Set]): each
// kustomize build is one set, named after its directory, and all loose files
// read by one call form the set named "".
//
// # Values
//
// [Object.Data] holds JSON-compatible values only: map[string]any, []any,
// string, bool, nil, int64 for integers that fit in 64 bits and float64 for
// every other number. Scalars are resolved with YAML 1.2 rules (so "yes" is a
// string, not a boolean); timestamps and binary scalars are kept as the
// strings written in the file; mapping keys are always strings; anchors,
// aliases and merge keys ("<<") are expanded; duplicate keys are errors.
package manifest
