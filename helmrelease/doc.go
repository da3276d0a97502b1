// Package helmrelease renders the Flux HelmReleases
// (helm.toolkit.fluxcd.io/v2) of a repository into the objects
// helm-controller would apply, so that `fluxgate check` judges the
// workloads a Helm-based repository really delivers instead of passing it
// with nothing checked.
//
// Rendering follows helm-controller: the chart comes from the source the
// HelmRelease names — a GitRepository (taken to be the repository being
// checked: spec.chart.spec.chart is a path relative to its root), a
// HelmRepository of type default (index.yaml over HTTP, the newest version
// satisfying spec.chart.spec.version) or oci, or an OCIRepository through
// spec.chartRef —; values are the chart's (or spec.chart.spec.valuesFiles),
// then spec.valuesFrom in order (ConfigMaps and Secrets found among the
// objects checked, with valuesKey, targetPath and optional), then
// spec.values; the release is named spec.releaseName, else
// [<targetNamespace>-]<name> shortened as helm-controller shortens it, in
// spec.targetNamespace, else the HelmRelease's namespace. The chart is
// rendered with Helm's SDK as `helm template` renders it (a client-only dry
// run with the capabilities of a current Kubernetes, CRDs included, test
// hooks left out), post-rendered with spec.postRenderers' kustomize patches
// and images, and labelled with helm-controller's ownership labels.
//
// Downloaded indexes and charts are cached in a directory; offline, only
// the cache is read. A HelmRelease that cannot be rendered — its source or
// chart not found, a chart not fetched offline, values that fail the
// chart's schema, a template error — is returned as a denying
// [check.InputFinding] that says why, so it never passes unseen.
package helmrelease
