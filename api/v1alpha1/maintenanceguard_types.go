package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// MaintenanceGuard pauses Flux while the cluster is under maintenance: when
// one of its signals fires (a cordoned node, a control-plane upgrade, a
// kured reboot, a freeze window, ...) and stays for spec.debounce, it sets
// spec.suspend on the selected Kustomizations and HelmReleases; once every
// signal has been gone for spec.settle, it resumes exactly the objects it
// paused. `spec: {}` guards every Kustomization and HelmRelease except
// flux-system/flux-system against node and control-plane maintenance.
//
// +kubebuilder:object:root=true
// +kubebuilder:subresource:status
// +kubebuilder:resource:scope=Cluster,path=maintenanceguards,singular=maintenanceguard,shortName=mg
// +kubebuilder:printcolumn:name="Phase",type=string,JSONPath=`.status.phase`,description="Where the guard stands: Idle, Debouncing, Paused, Settling, Resuming or Expired."
// +kubebuilder:printcolumn:name="Signals",type=string,JSONPath=`.status.activeSignalNames`,description="Types of the active signals."
// +kubebuilder:printcolumn:name="Paused",type=integer,JSONPath=`.status.pausedCount`,description="Flux objects the guard holds paused."
// +kubebuilder:printcolumn:name="Drain Blocked",type=string,JSONPath=`.status.conditions[?(@.type=="DrainBlocked")].status`,description="True while a cordoned node runs pods no eviction can move now; the condition's message names them."
// +kubebuilder:printcolumn:name="Age",type=date,JSONPath=`.metadata.creationTimestamp`
type MaintenanceGuard struct {
	metav1.TypeMeta   `json:",inline"`
	metav1.ObjectMeta `json:"metadata,omitempty"`

	// Spec says what the guard pauses, on which signals, and with what
	// timing. Every field has a default, so an empty spec is a working
	// guard.
	// +kubebuilder:default={}
	// +optional
	Spec MaintenanceGuardSpec `json:"spec,omitempty"`

	// Status is written by fluxgate and reports what the guard sees and
	// holds.
	// +optional
	Status MaintenanceGuardStatus `json:"status,omitempty"`
}

// MaintenanceGuardList is a list of MaintenanceGuards.
//
// +kubebuilder:object:root=true
type MaintenanceGuardList struct {
	metav1.TypeMeta `json:",inline"`
	metav1.ListMeta `json:"metadata,omitempty"`
	Items           []MaintenanceGuard `json:"items"`
}

// MaintenanceGuardSpec is the desired behaviour of a MaintenanceGuard.
type MaintenanceGuardSpec struct {
	// Targets selects the Flux Kustomizations and HelmReleases the guard
	// pauses. By default: all of them, in every namespace, except
	// flux-system/flux-system.
	// +kubebuilder:default={}
	// +optional
	Targets Targets `json:"targets,omitempty"`

	// Cluster names the cluster whose maintenance the guard watches when
	// it is not the one fluxgate runs in: a workload cluster that Flux on
	// this (hub) cluster applies to through spec.kubeConfig. The guard then
	// reads that cluster's signals through the kubeconfig, and pauses only
	// the Kustomizations and HelmReleases of its targets whose
	// spec.kubeConfig names the same Secret (secretRef) or ConfigMap
	// (configMapRef), in its namespace. Without it the guard
	// watches this cluster and leaves alone every Flux object that applies
	// to another one (spec.kubeConfig set).
	// +optional
	Cluster *ClusterReference `json:"cluster,omitempty"`

	// Signals selects the evidence of maintenance the guard watches. By
	// default: cordoned or maintenance-tainted nodes, control-plane
	// version skew, and the fluxgate.dev/maintenance annotation.
	// +kubebuilder:default={}
	// +optional
	Signals Signals `json:"signals,omitempty"`

	// Debounce is how long a signal must last before the guard pauses
	// anything, so that a brief cordon does not stop deployments. "0s"
	// pauses at once. Durations here are written with h, m, s and ms
	// units, such as 30s, 5m or 1h30m.
	// +kubebuilder:default="30s"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$`
	// +optional
	Debounce *metav1.Duration `json:"debounce,omitempty"`

	// Settle is how long every signal must have been gone before the guard
	// resumes what it paused, so that node after node of a rolling
	// maintenance is one pause, not many. A signal that returns meanwhile
	// keeps the pause. "0s" resumes at once.
	// +kubebuilder:default="5m"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$`
	// +optional
	Settle *metav1.Duration `json:"settle,omitempty"`

	// MaxPause bounds how long a pause may last while signals remain.
	// Past it the Ready condition turns False (reason MaxPauseExceeded) so
	// that alerts fire, and, with resumeAfterMaxPause, the guard resumes
	// its targets. "0s" means no limit.
	// +kubebuilder:default="4h"
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^(0|([0-9]+(\.[0-9]+)?(ms|s|m|h))+)$`
	// +optional
	MaxPause *metav1.Duration `json:"maxPause,omitempty"`

	// ResumeAfterMaxPause resumes the targets once a pause has lasted
	// maxPause even though signals remain (phase Expired until they
	// clear). Off by default: the guard keeps the pause and only reports,
	// because deploying into a half-maintained cluster is the risk the
	// guard exists to avoid.
	// +kubebuilder:default=false
	// +optional
	ResumeAfterMaxPause bool `json:"resumeAfterMaxPause,omitempty"`
}

// MaintenanceGuardStatus is what fluxgate observed and did, in the style of
// Flux's own status.
type MaintenanceGuardStatus struct {
	// ObservedGeneration is the metadata.generation of the spec the status
	// describes.
	// +optional
	ObservedGeneration int64 `json:"observedGeneration,omitempty"`

	// Conditions are Ready and MaintenanceActive. Ready is True with
	// reason Succeeded while the guard works as configured; False with
	// InvalidFreezeWindow, SignalsUnavailable, PauseFailed, ResumeFailed or
	// MaxPauseExceeded when an operator should look; Unknown with
	// Progressing while a change is being applied. MaintenanceActive is
	// True with reason SignalsActive while any signal is active (the
	// message lists them) and False with NoSignals otherwise.
	// +listType=map
	// +listMapKey=type
	// +optional
	Conditions []metav1.Condition `json:"conditions,omitempty"`

	// Phase is where the guard stands: Idle (no signal), Debouncing (a
	// signal, not yet for spec.debounce), Paused (targets paused while
	// signals last), Settling (signals gone, waiting out spec.settle),
	// Resuming (resuming the targets, dependencies first) or Expired
	// (resumed after spec.maxPause; waiting for the signals to clear).
	// +optional
	Phase Phase `json:"phase,omitempty"`

	// ActiveSignals are the signals active now, at most one per type.
	// +kubebuilder:validation:MaxItems=16
	// +listType=atomic
	// +optional
	ActiveSignals []ActiveSignal `json:"activeSignals,omitempty"`

	// ActiveSignalNames joins the types of activeSignals with commas, for
	// `kubectl get` (a printer column shows one value only).
	// +kubebuilder:validation:MaxLength=256
	// +optional
	ActiveSignalNames string `json:"activeSignalNames,omitempty"`

	// PausedCount is how many Flux objects the guard holds paused.
	// +optional
	PausedCount int32 `json:"pausedCount,omitempty"`

	// Paused lists objects the guard holds paused, at most 100 of them
	// (pausedCount has the total). The full truth is on the objects
	// themselves: every object a guard paused carries the annotation
	// fluxgate.dev/paused-by naming it, with fluxgate.dev/paused-at and
	// fluxgate.dev/pause-reason, so a pause survives restarts and a guard
	// never resumes what it did not pause.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Paused []PausedObject `json:"paused,omitempty"`

	// Releasing lists the objects the guard lets through for one reconcile
	// now (fluxgate.dev/reconcile-once), so that the change-freeze policy
	// admits what they apply.
	// +kubebuilder:validation:MaxItems=100
	// +listType=atomic
	// +optional
	Releasing []ReleasedObject `json:"releasing,omitempty"`

	// SignalSince is when a signal was first seen in the current episode;
	// the debounce counts from it.
	// +optional
	SignalSince *metav1.Time `json:"signalSince,omitempty"`

	// LastPauseTime is when the guard last paused its targets.
	// +optional
	LastPauseTime *metav1.Time `json:"lastPauseTime,omitempty"`

	// LastSignalClearTime is when the signals last cleared; the settle
	// period counts from it.
	// +optional
	LastSignalClearTime *metav1.Time `json:"lastSignalClearTime,omitempty"`

	// LastResumeTime is when the guard last resumed its targets.
	// +optional
	LastResumeTime *metav1.Time `json:"lastResumeTime,omitempty"`
}

// ActiveSignal is one active reason to pause.
type ActiveSignal struct {
	// Type is the kind of evidence: NodeCordoned, ControlPlaneUpgrade,
	// KuredReboot, SystemUpgrade, NodeMaintenance, Manual or FreezeWindow.
	// +required
	Type SignalType `json:"type"`

	// Detail says which nodes, versions, windows or reasons are involved.
	// +kubebuilder:validation:MaxLength=1024
	// +optional
	Detail string `json:"detail,omitempty"`

	// Since is when the guard first saw this signal.
	// +required
	Since metav1.Time `json:"since"`
}

// PausedObject is a Flux object a guard holds paused.
type PausedObject struct {
	// Kind is Kustomization or HelmRelease.
	// +required
	Kind TargetKind `json:"kind"`

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

	// PausedAt is when the guard paused it.
	// +required
	PausedAt metav1.Time `json:"pausedAt"`
}

// ClusterReference names a remote cluster the way Flux's
// spec.kubeConfig does.
type ClusterReference struct {
	// KubeConfig locates the cluster's kubeconfig.
	// +required
	KubeConfig KubeConfigReference `json:"kubeConfig"`
}

// KubeConfigReference locates a remote cluster's credentials as Flux's
// spec.kubeConfig does: a kubeconfig in a Secret, or a ConfigMap from
// which the guard obtains credentials by workload identity. Exactly one
// of the two is set.
// +kubebuilder:validation:XValidation:rule="has(self.configMapRef) != has(self.secretRef)",message="exactly one of spec.cluster.kubeConfig.configMapRef or spec.cluster.kubeConfig.secretRef must be specified"
type KubeConfigReference struct {
	// SecretRef is the Secret holding the kubeconfig, as the Flux objects
	// applying to that cluster name it (Cluster API's <cluster>-kubeconfig
	// Secret, for one).
	// +optional
	SecretRef *SecretKeyReference `json:"secretRef,omitempty"`

	// ConfigMapRef is the ConfigMap that the Flux objects applying to that
	// cluster name in their spec.kubeConfig.configMapRef (workload
	// identity): keys provider, address, ca.crt, audiences,
	// serviceAccountName and cluster, as Flux reads them. The guard
	// supports the generic provider: it requests a token for the
	// ServiceAccount the ConfigMap names (else its own) from this
	// cluster's TokenRequest API, with the ConfigMap's audiences, and
	// sends it to the address. Other providers are reported in the
	// RemoteClusterReachable condition (reason ProviderNotSupported).
	// +optional
	ConfigMapRef *ConfigMapReference `json:"configMapRef,omitempty"`
}

// ConfigMapReference names a ConfigMap.
type ConfigMapReference struct {
	// Namespace of the ConfigMap, and of the Flux objects that name it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// Name of the ConfigMap.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`
}

// SecretKeyReference names a key of a Secret.
type SecretKeyReference struct {
	// Namespace of the Secret, and of the Flux objects that name it.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Namespace string `json:"namespace"`

	// Name of the Secret.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +required
	Name string `json:"name"`

	// Key of the kubeconfig in the Secret; by default "value", else
	// "value.yaml", as Flux reads it.
	// +optional
	Key string `json:"key,omitempty"`
}

// ReleasedObject is a held Flux object let through for one reconcile.
type ReleasedObject struct {
	// Kind is Kustomization or HelmRelease.
	// +required
	Kind TargetKind `json:"kind"`

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

	// Reason is the value of its fluxgate.dev/reconcile-once annotation.
	// +kubebuilder:validation:MaxLength=256
	// +optional
	Reason string `json:"reason,omitempty"`

	// RequestedAt is the reconcile request the guard sent; empty while the
	// guard waits for this listing to be seen (by its own cache, which the
	// webhook shares) before it un-suspends the object.
	// +optional
	RequestedAt string `json:"requestedAt,omitempty"`
}

// GetConditions returns the status conditions; with SetConditions it makes
// the guard a fluxcd/pkg/apis/meta ObjectWithConditions(Setter), so Flux's
// condition helpers work on it.
func (in *MaintenanceGuard) GetConditions() []metav1.Condition {
	return in.Status.Conditions
}

// SetConditions replaces the status conditions.
func (in *MaintenanceGuard) SetConditions(conditions []metav1.Condition) {
	in.Status.Conditions = conditions
}
