// Package workloadidentity builds a client configuration for a remote
// cluster from a Flux kubeConfig ConfigMap, the way Flux's
// kustomize-controller and helm-controller do for
// spec.kubeConfig.configMapRef (Flux 2.6 and later), so that a
// fluxgate maintenance guard on a hub reaches a workload cluster with the
// same ConfigMap as the Flux objects that apply there.
//
// # The ConfigMap
//
// Its keys are those of Flux (github.com/fluxcd/pkg/apis/meta,
// KubeConfigKey*): provider (generic, aws, azure or gcp; required),
// address (the API server; required for generic), ca.crt (PEM, optional),
// audiences (optional, separated by newlines, commas or spaces; generic
// defaults to the address as written), serviceAccountName (optional) and
// cluster (the cloud resource name; not used by generic). [Parse] reads
// them and says what is wrong in an [*Error] whose [Kind] tells a provider
// this package does not implement from a ConfigMap that cannot work.
//
// # The generic provider, with Flux's code
//
// A [TokenSource] obtains tokens with Flux's own generic provider,
// github.com/fluxcd/pkg/auth's GetRESTConfig with
// github.com/fluxcd/pkg/auth/generic, at v0.54.3, the version Flux's
// kustomize-controller v1.9.5 (the one fluxgate's end-to-end tests run)
// is built with: a Kubernetes ServiceAccount token is requested from the
// hub's TokenRequest API with the audiences, and sent as a bearer token
// to the address, trusting ca.crt. The ServiceAccount is the one the
// ConfigMap names, in the ConfigMap's namespace (Flux's object-level
// workload identity, which uses the same ServiceAccount for the Flux
// objects; Flux's ObjectLevelWorkloadIdentity gate is turned on for it);
// without serviceAccountName, Flux uses its controller's own ServiceAccount
// and a fluxgate guard uses fluxgate's, which Flux's provider finds in the
// pod's token ([TokenFile]) or, given [TokenSource.Own] (fluxgate serve's
// --service-account), is told. The workload cluster must grant that
// identity what the guard reads. Tokens are renewed once 80% of their
// lifetime has passed (the rule of Flux's token cache and of the
// kubelet), so a token never expires under a guard that polls its
// cluster; [RESTConfig] sends the current token with every request, as
// Flux's restConfigRoundTripper does.
//
// Beyond v0.54.3, and as newer Flux does, an audience the hub itself
// accepts is refused ([CheckAudiences]): the token would be valid against
// the hub, and is sent to whatever address the ConfigMap names.
//
// # What is not Flux's code, and why
//
// Flux reads the ConfigMap and picks the provider in
// github.com/fluxcd/pkg/auth/utils, which links the AWS, Azure and Google
// Cloud SDKs for the three cloud providers: about 30 MB more in a 104 MB
// binary, for providers that cannot be exercised without those clouds.
// This package reads the ConfigMap itself, with Flux's key names, and
// reports aws, azure and gcp as not supported ([KindProviderNotSupported])
// rather than failing silently. Newer versions of the auth module (v0.64
// and later) need github.com/fluxcd/pkg/apis/crypto and
// github.com/fluxcd/pkg/spiffe, which the Go module proxy does not serve,
// so they cannot be built here.
package workloadidentity
