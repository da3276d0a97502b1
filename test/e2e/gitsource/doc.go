// Package gitsource plays Flux's source side for the end-to-end tests:
// the part source-controller would do, which cannot run here.
//
// A [Repo] is a Git repository on disk (go-git) that the test owns and
// commits to; each commit is named by a Flux-style revision,
// "main@sha1:<hash>". A [Server] serves, over plain HTTP on 127.0.0.1,
// the tree of any commit as a gzip tarball, the format kustomize-controller
// fetches and untars (github.com/fluxcd/pkg/http/fetch and
// github.com/fluxcd/pkg/tar), and describes it as an [Artifact]: URL,
// revision, and the sha256 digest of exactly the bytes it serves. [Publish]
// hands an artifact to kustomize-controller the way third-party producers
// do: it writes status.artifact of an ExternalArtifact
// (source.toolkit.fluxcd.io/v1) through the status subresource.
//
// Typical use in a test:
//
//	repo, _ := gitsource.New(t.TempDir())
//	srv, _ := gitsource.NewServer(repo)
//	defer srv.Close()
//	rev, _ := repo.CommitFS(os.DirFS("testdata/v1"), "v1")
//	art, _ := srv.Publish(ctx, k8sClient, "apps", "fleet", rev)
//	// A Kustomization whose sourceRef is {kind: ExternalArtifact,
//	// name: fleet} applies rev; wait for status.lastAppliedRevision == rev.
//
// kustomize-controller v1.9.5 reads ExternalArtifacts only when started
// with --feature-gates=ExternalArtifact=true, and it needs every source
// CRD installed (see the e2e notes).
package gitsource
