package v1alpha1

import (
	"github.com/fluxcd/pkg/apis/meta"
)

// Annotations and the field manager the guard uses on the objects it
// touches.
const (
	// PausedByAnnotation on a Kustomization or HelmRelease names the guards
	// holding it paused, comma-separated. A guard resumes only objects
	// that name it, and an object is resumed when no guard holds it.
	PausedByAnnotation = "fluxgate.dev/paused-by"

	// PausedAtAnnotation records when the object was paused (RFC 3339).
	PausedAtAnnotation = "fluxgate.dev/paused-at"

	// PauseReasonAnnotation records why the object was paused, for people
	// who find it suspended.
	PauseReasonAnnotation = "fluxgate.dev/pause-reason"

	// MaintenanceAnnotation, with a non-blank reason as its value, on a
	// MaintenanceGuard or a Node declares maintenance by hand (the Manual
	// signal).
	MaintenanceAnnotation = "fluxgate.dev/maintenance"

	// ReconcileOnceAnnotation, with the reason as its value, on a
	// Kustomization or HelmRelease a guard holds paused lets exactly one
	// reconcile through: the guard resumes it with a reconcile request,
	// waits until Flux reports that reconcile (success or failure),
	// suspends it again, records who asked and the result in an Event, and
	// removes the annotation.
	ReconcileOnceAnnotation = "fluxgate.dev/reconcile-once"

	// ReconcileOnceAtAnnotation is the guard's own record of a one-shot
	// reconcile in flight: the reconcile.fluxcd.io/requestedAt value it
	// sent, which Flux echoes in status.lastHandledReconcileAt.
	ReconcileOnceAtAnnotation = "fluxgate.dev/reconcile-once-at"

	// FieldManager is the field manager of every write the guard makes to
	// Flux objects. It must stay distinct from Flux's own managers and from
	// the kubectl and before-first-apply prefixes that kustomize-controller
	// takes over.
	FieldManager = "fluxgate-maintenance-guard"
)

// Condition types.
const (
	// ReadyCondition says whether the guard works as configured.
	ReadyCondition = meta.ReadyCondition

	// MaintenanceActiveCondition is True while any signal is active.
	MaintenanceActiveCondition = "MaintenanceActive"

	// DrainBlockedCondition is True while a cordoned node still runs pods
	// that no eviction can move now (a budget allowing no disruption, pods
	// under two budgets, pods without a controller); its message names the
	// node, the pods and why. Also the reason of the Warning Events on the
	// guard and on the blocking PodDisruptionBudget.
	DrainBlockedCondition = "DrainBlocked"
	// EvictionRefusedReason: DrainBlocked is True.
	EvictionRefusedReason = "EvictionRefused"
	// DrainsCanCompleteReason: every cordoned node can be drained now.
	DrainsCanCompleteReason = "DrainsCanComplete"
	// NoCordonedNodesReason: no node is cordoned.
	NoCordonedNodesReason = "NoCordonedNodes"

	// RemoteClusterReachableCondition, on a guard with spec.cluster, says
	// whether the remote cluster's API answers with the kubeconfig or the
	// workload-identity credentials given.
	// While it does not, the guard neither starts a pause nor ends one:
	// it cannot tell a finished maintenance from an unreachable cluster.
	RemoteClusterReachableCondition = "RemoteClusterReachable"
	// RemoteClusterUnreachableReason: the kubeconfig Secret or ConfigMap
	// cannot be read, or the remote API does not answer (or refuses the
	// credentials: a wrong audience, for one).
	RemoteClusterUnreachableReason = "RemoteClusterUnreachable"
	// RemoteClusterAnsweredReason: the remote API answered.
	RemoteClusterAnsweredReason = "RemoteClusterAnswered"
	// ProviderNotSupportedReason (RemoteClusterReachable=False): the
	// kubeConfig ConfigMap names a workload-identity provider the guard
	// does not implement (aws, azure, gcp: only generic is).
	ProviderNotSupportedReason = "ProviderNotSupported"
	// InvalidKubeConfigReason (RemoteClusterReachable=False): the
	// kubeConfig ConfigMap cannot work as written (no provider, no or a
	// non-https address, a ca.crt that is not PEM, an audience of the hub
	// itself).
	InvalidKubeConfigReason = "InvalidKubeConfig"
	// CredentialsUnavailableReason (RemoteClusterReachable=False): the
	// hub refused the ServiceAccount token the kubeConfig ConfigMap asks
	// for (no such ServiceAccount, no right to request its token).
	CredentialsUnavailableReason = "CredentialsUnavailable"

	// ReconcileOnceStartedReason, ReconcileOnceSucceededReason and
	// ReconcileOnceFailedReason are the reasons of the Events a one-shot
	// reconcile during a pause records on the guard and on the object.
	ReconcileOnceStartedReason   = "ReconcileOnceStarted"
	ReconcileOnceSucceededReason = "ReconcileOnceSucceeded"
	ReconcileOnceFailedReason    = "ReconcileOnceFailed"
)

// Condition reasons.
const (
	// SucceededReason (Ready=True): the guard watches its signals and holds
	// what its phase says.
	SucceededReason = meta.SucceededReason

	// ProgressingReason (Ready=Unknown): a new spec is being applied.
	ProgressingReason = meta.ProgressingReason

	// InvalidFreezeWindowReason (Ready=False): a freeze window cannot be
	// evaluated (bad schedule or time zone); it counts as open meanwhile.
	InvalidFreezeWindowReason = "InvalidFreezeWindow"

	// SignalsUnavailableReason (Ready=False): a signal source could not be
	// read (for example missing RBAC); the guard keeps its current state
	// rather than resume on missing evidence.
	SignalsUnavailableReason = "SignalsUnavailable"

	// InvalidSpecReason (Ready=False): the spec cannot work as written (a
	// label selector that does not parse); the guard keeps its state and
	// waits for the spec to change, without retrying.
	InvalidSpecReason = "InvalidSpec"

	// PauseFailedReason (Ready=False): some targets could not be paused.
	PauseFailedReason = "PauseFailed"

	// ResumeFailedReason (Ready=False): some targets could not be resumed.
	ResumeFailedReason = "ResumeFailed"

	// MaxPauseExceededReason (Ready=False): a pause has lasted longer than
	// spec.maxPause.
	MaxPauseExceededReason = "MaxPauseExceeded"

	// SignalsActiveReason (MaintenanceActive=True): at least one signal is
	// active; the message lists them.
	SignalsActiveReason = "SignalsActive"

	// NoSignalsReason (MaintenanceActive=False): no signal is active.
	NoSignalsReason = "NoSignals"
)

// Phase is where a guard stands; see MaintenanceGuardStatus.Phase.
// +kubebuilder:validation:Enum=Idle;Debouncing;Paused;Settling;Resuming;Expired
type Phase string

// The phases, in the order a maintenance goes through them.
const (
	PhaseIdle       Phase = "Idle"
	PhaseDebouncing Phase = "Debouncing"
	PhasePaused     Phase = "Paused"
	PhaseSettling   Phase = "Settling"
	PhaseResuming   Phase = "Resuming"
	PhaseExpired    Phase = "Expired"
)

// SignalType is a kind of maintenance evidence; see ActiveSignal.Type.
// +kubebuilder:validation:Enum=NodeCordoned;ControlPlaneUpgrade;KuredReboot;SystemUpgrade;NodeMaintenance;Manual;FreezeWindow
type SignalType string

// The signal types, one per source (see Signals).
const (
	SignalNodeCordoned        SignalType = "NodeCordoned"
	SignalControlPlaneUpgrade SignalType = "ControlPlaneUpgrade"
	SignalKuredReboot         SignalType = "KuredReboot"
	SignalSystemUpgrade       SignalType = "SystemUpgrade"
	SignalNodeMaintenance     SignalType = "NodeMaintenance"
	SignalManual              SignalType = "Manual"
	SignalFreezeWindow        SignalType = "FreezeWindow"
)

// TargetKind is a kind of Flux object a guard pauses.
// +kubebuilder:validation:Enum=Kustomization;HelmRelease
type TargetKind string

// The target kinds.
const (
	KustomizationKind TargetKind = "Kustomization"
	HelmReleaseKind   TargetKind = "HelmRelease"
)

// FluxSystemNamespace and FluxSystemName name the objects that
// Targets.IncludeFluxSystem guards: the Kustomization `flux bootstrap`
// creates to sync Flux itself.
const (
	FluxSystemNamespace = "flux-system"
	FluxSystemName      = "flux-system"
)
