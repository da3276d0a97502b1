// Package fluxbuild turns the Flux Kustomizations of a repository into the
// objects Flux would apply, cluster by cluster, so that `fluxgate check`
// judges what reaches each cluster rather than the YAML as written.
//
// A Flux repository is not a pile of manifests: clusters/<name> holds the
// Kustomization objects (kustomize.toolkit.fluxcd.io/v1) whose spec.path,
// targetNamespace, patches, components, images and postBuild substitution
// decide what is applied. This package exists so that the check follows
// them the way kustomize-controller does, and it delegates every step of
// that to Flux's own code in github.com/fluxcd/pkg/kustomize: the
// kustomization generator (which writes the Kustomization's spec into a
// kustomization.yaml, generating one where the directory has none), the
// secure kustomize build, and postBuild variable substitution
// (substitute, substituteFrom, ${var:=default}, the
// kustomize.toolkit.fluxcd.io/substitute: disabled marker). What is left
// here is the part a cluster does: finding each cluster's entry point,
// following Kustomizations that other Kustomizations apply, looking up
// substituteFrom ConfigMaps and Secrets among the cluster's objects, and
// reporting what cannot be resolved offline.
//
// One step is Flux's settings rather than Flux's function: a build whose
// kustomizations set no OpenAPI schema runs kustomize with the options of
// Flux's SecureBuild but without re-parsing the built-in schema each time
// (see secureBuild for why, and the test that holds both to the same
// output). Clusters are followed concurrently; the copy of the source
// they share is behind one lock, as Flux's generator rewrites files in it
// for the length of a build.
//
// # Clusters
//
// A Kustomization named flux-system (the sync that `flux bootstrap` writes
// to clusters/<name>/flux-system/gotk-sync.yaml) is a cluster's entry point;
// its spec.path, relative to the source root, names the cluster. Other
// Kustomizations that no cluster reaches belong to the nearest directory
// above them holding a flux-system directory (clusters/<name> whose sync is
// still a placeholder), else to the directory given on the command line
// that holds them; without a sync, only a root reading a GitRepository is
// followed.
//
// # Findings
//
// A Kustomization whose build or substitution fails is a deny finding on
// it. A variable that cannot be resolved (its substituteFrom object is not
// in the repository, or is a SOPS-encrypted Secret) is a warning naming the
// variable and the Kustomization. A Kustomization whose sourceRef is not the
// repository being checked is a warning and is not followed.
//
// # Artifacts
//
// A Kustomization reading an ExternalArtifact is followed when an
// ArtifactGenerator among the cluster's objects generates it from this
// repository alone: the artifact's copy operations are applied to the
// copy of the source, as source-watcher applies them, into a directory of
// its own, and the Kustomization is built there. The repository's files
// copied where it builds count as reached.
package fluxbuild
