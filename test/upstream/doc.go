// Package upstream checks real manifests of upstream projects — Flux's own
// install, ingress-nginx, cert-manager, podinfo, flannel and others, listed
// with their pinned versions in test/testdata/upstream/sources.yaml and
// downloaded into bin/upstream by `make upstream-manifests` — exactly as
// `fluxgate check` does with the default configuration, and compares every
// finding with a reviewed golden file, test/testdata/upstream/<name>.golden.yaml.
//
// Each golden finding carries a `why` written by a reviewer: why a user of
// that project should act on it, or what to do when the finding is
// debatable. After a policy change, regenerate the golden files with
//
//	go test ./test/upstream/ -run TestUpstream -update
//
// which keeps the notes of findings that remain, marks changed findings
// and new ones with a note starting "TODO", and drops findings that are
// gone; the test fails until every TODO is replaced by a reviewed note.
package upstream
