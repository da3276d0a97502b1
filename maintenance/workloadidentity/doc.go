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
// audiences (optional, separated by commas, spaces or newlines; generic
// defaults to the address as written), serviceAccountName (optional) and
// cluster (the cloud resource name; not used by generic). [Parse] reads
// them and says what is wrong in an [*Error] whose [Kind] tells a provider
// this package does not implement from a ConfigMap that cannot work.
//
// # The generic provider
//
// As in Flux's github.com/fluxcd/pkg/auth/generic: a Kubernetes
// ServiceAccount token is requested from the hub's TokenRequest API with
// the audiences, and sent as a bearer token to the address, trusting
// ca.crt. The ServiceAccount is the one the ConfigMap names, in the
// ConfigMap's namespace (Flux's object-level workload identity, which
// uses the same ServiceAccount for the Flux objects); without
// serviceAccountName, Flux uses its controller's own ServiceAccount and a
// fluxgate guard uses fluxgate's ([ServiceAccountFromTokenFile] reads it
// from the pod, as Flux does), so the workload cluster must grant that
// identity what the guard reads. As in Flux, an audience the hub itself
// accepts is refused: the token would be valid against the hub, and is
// sent to whatever address the ConfigMap names. A [TokenSource] keeps a
// token until 80% of its lifetime has passed (the rule of Flux's token
// cache and of the kubelet) and requests a new one then, so a token never
// expires under a guard that polls its cluster.
//
// # Why not Flux's own code
//
// Flux's implementation is the module github.com/fluxcd/pkg/auth. Every
// version of it that builds with this module's Kubernetes libraries
// (v0.65 and later: k8s.io 0.37, controller-runtime 0.25) needs
// github.com/fluxcd/pkg/apis/crypto and github.com/fluxcd/pkg/spiffe,
// which the Go module proxy does not serve, so it cannot be built here;
// its utils package also links the AWS, Azure and Google Cloud SDKs for
// the three cloud providers; and its generic provider reads the
// controller's token file from the pod even for an explicit
// ServiceAccount, through an internal hook that tests outside a pod cannot
// replace. The generic provider is small: this package follows its rules
// (keys, default audience, address canonicalisation, token lifetime,
// which ServiceAccount) and reuses Flux's key names from
// github.com/fluxcd/pkg/apis/meta. The cloud providers (aws, azure, gcp)
// are reported as not supported ([KindProviderNotSupported]) rather than
// failing silently.
package workloadidentity
