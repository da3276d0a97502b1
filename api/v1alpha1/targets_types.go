package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Targets selects the Flux objects a guard pauses.
type Targets struct {
	// Kustomizations selects Flux Kustomizations
	// (kustomize.toolkit.fluxcd.io). By default: all of them.
	// +kubebuilder:default={}
	// +optional
	Kustomizations TargetSelection `json:"kustomizations,omitempty"`

	// HelmReleases selects Flux HelmReleases (helm.toolkit.fluxcd.io). By
	// default: all of them.
	// +kubebuilder:default={}
	// +optional
	HelmReleases TargetSelection `json:"helmReleases,omitempty"`

	// IncludeFluxSystem lets the guard pause the objects named flux-system
	// in the namespace flux-system (of either kind), which the selections
	// above otherwise never match. That Kustomization, created by
	// `flux bootstrap`, syncs Flux itself: pausing it blocks Flux upgrades
	// and the rollout of changes to Flux's own configuration (including
	// fixes to a broken pause) for as long as the maintenance lasts.
	// +kubebuilder:default=false
	// +optional
	IncludeFluxSystem bool `json:"includeFluxSystem,omitempty"`
}

// TargetSelection selects objects of one Flux kind. An object is paused when
// the selection is enabled, its namespace matches namespaceSelector, its
// labels match selector, and it is not listed in exclude.
type TargetSelection struct {
	// Enabled lets the guard pause objects of this kind; false leaves all
	// of them alone.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// NamespaceSelector selects namespaces by their labels; objects in
	// other namespaces are not paused. Unset or empty selects every
	// namespace. To select by name, match the kubernetes.io/metadata.name
	// label.
	// +optional
	NamespaceSelector *metav1.LabelSelector `json:"namespaceSelector,omitempty"`

	// Selector selects objects by their own labels. Unset or empty selects
	// every object.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Exclude lists objects never paused, whatever the selectors say.
	// +kubebuilder:validation:MaxItems=256
	// +listType=atomic
	// +optional
	Exclude []NamespacedName `json:"exclude,omitempty"`
}

// NamespacedName names one namespaced object.
type NamespacedName struct {
	// Namespace of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// Name of the object.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}
