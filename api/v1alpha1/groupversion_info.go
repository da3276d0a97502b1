// Package v1alpha1 holds the fluxgate.dev/v1alpha1 API: the
// MaintenanceGuard, a cluster-scoped object that pauses selected Flux
// Kustomizations and HelmReleases (spec.suspend) while nodes are under
// maintenance or the control plane upgrades, and resumes them afterwards.
//
// The doc comments on the types and fields below become the descriptions
// in the CRD (config/crd/bases/fluxgate.dev_maintenanceguards.yaml) that
// operators read with `kubectl explain`. After editing them run
// `make generate manifests`; `make test` fails while the committed files
// are stale.
//
// +kubebuilder:object:generate=true
// +groupName=fluxgate.dev
package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var (
	// GroupVersion is the group and version of this API.
	GroupVersion = schema.GroupVersion{Group: "fluxgate.dev", Version: "v1alpha1"}

	// SchemeBuilder registers the types of this group-version.
	SchemeBuilder = runtime.NewSchemeBuilder(addKnownTypes)

	// AddToScheme adds the types of this group-version to a scheme.
	AddToScheme = SchemeBuilder.AddToScheme
)

func addKnownTypes(scheme *runtime.Scheme) error {
	scheme.AddKnownTypes(GroupVersion,
		&MaintenanceGuard{},
		&MaintenanceGuardList{},
	)
	metav1.AddToGroupVersion(scheme, GroupVersion)
	return nil
}
