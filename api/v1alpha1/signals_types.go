package v1alpha1

import (
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// Signals selects the evidence of maintenance a guard watches. Any one
// active signal is enough to pause.
type Signals struct {
	// Nodes watches for nodes under maintenance: cordoned (kubectl cordon
	// or drain sets spec.unschedulable) or carrying one of the listed
	// taints. Signal type NodeCordoned. On by default.
	// +kubebuilder:default={}
	// +optional
	Nodes NodeSignal `json:"nodes,omitempty"`

	// ControlPlane watches for control-plane upgrades, which kubeadm does
	// not announce: control-plane nodes reporting different kubelet
	// versions, or kube-apiserver static pods in kube-system running
	// different image versions. Signal type ControlPlaneUpgrade. On by
	// default.
	// +kubebuilder:default={}
	// +optional
	ControlPlane ControlPlaneSignal `json:"controlPlane,omitempty"`

	// Kured watches kured's reboot lock (the weave.works/kured-node-lock
	// annotation on its DaemonSet) and its weave.works/kured-reboot-in-progress
	// node annotation. Signal type KuredReboot. Off by default.
	// +kubebuilder:default={}
	// +optional
	Kured KuredSignal `json:"kured,omitempty"`

	// SystemUpgradeController watches Rancher system-upgrade-controller
	// Plans (upgrade.cattle.io/v1) that are applying to nodes. Signal type
	// SystemUpgrade. Off by default.
	// +kubebuilder:default={}
	// +optional
	SystemUpgradeController SystemUpgradeControllerSignal `json:"systemUpgradeController,omitempty"`

	// NodeMaintenance watches medik8s NodeMaintenances
	// (nodemaintenance.medik8s.io/v1beta1) that are draining or holding a
	// node. Signal type NodeMaintenance. Off by default.
	// +kubebuilder:default={}
	// +optional
	NodeMaintenance NodeMaintenanceSignal `json:"nodeMaintenance,omitempty"`

	// Manual lets people declare maintenance by hand with the annotation
	// fluxgate.dev/maintenance: "<reason>" on this guard or on any Node.
	// Signal type Manual. On by default.
	// +kubebuilder:default={}
	// +optional
	Manual ManualSignal `json:"manual,omitempty"`

	// FreezeWindows are scheduled change freezes: while one is open the
	// guard pauses as if maintenance were going on. Signal type
	// FreezeWindow. None by default.
	// +kubebuilder:validation:MaxItems=32
	// +listType=map
	// +listMapKey=name
	// +optional
	FreezeWindows []FreezeWindow `json:"freezeWindows,omitempty"`
}

// NodeSignal configures the NodeCordoned signal.
type NodeSignal struct {
	// Enabled turns the signal on.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`

	// Selector limits the nodes watched by their labels. Unset or empty
	// watches every node.
	// +optional
	Selector *metav1.LabelSelector `json:"selector,omitempty"`

	// Taints are taint keys (any effect) that mark a node as under
	// maintenance, next to spec.unschedulable. The default is the taint
	// Kubernetes itself mirrors from spec.unschedulable; add, for example,
	// medik8s.io/drain.
	// +kubebuilder:default={"node.kubernetes.io/unschedulable"}
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=317
	// +listType=set
	// +optional
	Taints []string `json:"taints,omitempty"`

	// IgnoreTaints are taint keys of processes that cordon nodes without
	// maintenance. A node carrying one does not count as cordoned, though
	// other listed taints on it still count. The default is
	// cluster-autoscaler's scale-down taint: removing an empty node is not
	// maintenance.
	// +kubebuilder:default={"ToBeDeletedByClusterAutoscaler"}
	// +kubebuilder:validation:MaxItems=32
	// +kubebuilder:validation:items:MinLength=1
	// +kubebuilder:validation:items:MaxLength=317
	// +listType=set
	// +optional
	IgnoreTaints []string `json:"ignoreTaints,omitempty"`
}

// ControlPlaneSignal configures the ControlPlaneUpgrade signal.
type ControlPlaneSignal struct {
	// Enabled turns the signal on.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// KuredSignal configures the KuredReboot signal.
type KuredSignal struct {
	// Enabled turns the signal on.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`

	// Namespace of kured's DaemonSet.
	// +kubebuilder:default="kube-system"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +optional
	Namespace string `json:"namespace,omitempty"`

	// DaemonSet is the name of kured's DaemonSet.
	// +kubebuilder:default="kured"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=253
	// +optional
	DaemonSet string `json:"daemonSet,omitempty"`
}

// SystemUpgradeControllerSignal configures the SystemUpgrade signal.
type SystemUpgradeControllerSignal struct {
	// Enabled turns the signal on. A cluster without the Plan CRD simply
	// has no such signal.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`
}

// NodeMaintenanceSignal configures the NodeMaintenance signal.
type NodeMaintenanceSignal struct {
	// Enabled turns the signal on. A cluster without the NodeMaintenance
	// CRD simply has no such signal.
	// +kubebuilder:default=false
	// +optional
	Enabled bool `json:"enabled,omitempty"`
}

// ManualSignal configures the Manual signal.
type ManualSignal struct {
	// Enabled turns the signal on: the annotation fluxgate.dev/maintenance
	// on the guard or on any Node (whatever the node selector) declares
	// maintenance, with its value shown as the reason. Any non-blank value
	// counts, even "false": remove the annotation to end it.
	// +kubebuilder:default=true
	// +optional
	Enabled *bool `json:"enabled,omitempty"`
}

// FreezeWindow is a scheduled change freeze, modelled on Argo CD deny sync
// windows: it opens at every activation of schedule, in timeZone, and stays
// open for duration. A window that cannot be evaluated (say, an unknown
// time zone) fails closed: it counts as open, and the Ready condition says
// why, until it is fixed.
type FreezeWindow struct {
	// Name identifies the window in the status and events.
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=63
	// +required
	Name string `json:"name"`

	// Schedule is a five-field cron expression (minute hour day-of-month
	// month day-of-week, e.g. "0 18 * * FRI"), or one of @yearly,
	// @annually, @monthly, @weekly, @daily, @midnight, @hourly. Put the
	// zone in timeZone, not in a TZ= prefix.
	// +kubebuilder:validation:Pattern=`^(@(yearly|annually|monthly|weekly|daily|midnight|hourly)|\S+(\s+\S+){4})$`
	// +kubebuilder:validation:MaxLength=256
	// +required
	Schedule string `json:"schedule"`

	// Duration is how long the window stays open after each activation
	// (elapsed time, e.g. "62h" for a weekend); it must be positive.
	// +kubebuilder:validation:Type=string
	// +kubebuilder:validation:Pattern=`^([0-9]+(\.[0-9]+)?(ms|s|m|h))+$`
	// +kubebuilder:validation:MaxLength=32
	// +kubebuilder:validation:XValidation:rule="duration(self) > duration('0s')",message="duration must be positive"
	// +required
	Duration metav1.Duration `json:"duration"`

	// TimeZone is the IANA time zone the schedule is read in, such as
	// Europe/Berlin. "Local" is not accepted: it would depend on where
	// fluxgate runs.
	// +kubebuilder:default="UTC"
	// +kubebuilder:validation:MinLength=1
	// +kubebuilder:validation:MaxLength=64
	// +kubebuilder:validation:XValidation:rule="self != 'Local'",message="timeZone must be an IANA zone name such as UTC or Europe/Berlin, not Local"
	// +optional
	TimeZone string `json:"timeZone,omitempty"`
}
