package v1alpha1

import (
	"slices"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The defaults the CRD applies (the +kubebuilder:default markers), for code
// that reads a guard the API server has not defaulted, such as a unit test
// or an object decoded from a file. The envtest suite checks that they
// match the CRD.
const (
	DefaultDebounce       = 30 * time.Second
	DefaultSettle         = 5 * time.Minute
	DefaultMaxPause       = 4 * time.Hour
	DefaultKuredNamespace = "kube-system"
	DefaultKuredDaemonSet = "kured"
	DefaultTimeZone       = "UTC"
)

// DefaultNodeTaints and DefaultNodeIgnoreTaints are the defaults of
// NodeSignal.Taints and NodeSignal.IgnoreTaints.
var (
	DefaultNodeTaints       = []string{"node.kubernetes.io/unschedulable"}
	DefaultNodeIgnoreTaints = []string{"ToBeDeletedByClusterAutoscaler"}
)

var (
	_ meta.ObjectWithConditions       = (*MaintenanceGuard)(nil)
	_ meta.ObjectWithConditionsSetter = (*MaintenanceGuard)(nil)
)

// enabled reads an on-by-default switch.
func enabled(b *bool) bool { return b == nil || *b }

// duration reads an optional duration, def when unset.
func duration(d *metav1.Duration, def time.Duration) time.Duration {
	if d == nil {
		return def
	}
	return d.Duration
}

// IsEnabled says whether the selection pauses anything (default true).
func (s TargetSelection) IsEnabled() bool { return enabled(s.Enabled) }

// IsEnabled says whether the signal is on (default true).
func (s NodeSignal) IsEnabled() bool { return enabled(s.Enabled) }

// IsEnabled says whether the signal is on (default true).
func (s ControlPlaneSignal) IsEnabled() bool { return enabled(s.Enabled) }

// IsEnabled says whether the signal is on (default true).
func (s ManualSignal) IsEnabled() bool { return enabled(s.Enabled) }

// DebounceDuration is spec.debounce, or DefaultDebounce when unset.
func (s MaintenanceGuardSpec) DebounceDuration() time.Duration {
	return duration(s.Debounce, DefaultDebounce)
}

// SettleDuration is spec.settle, or DefaultSettle when unset.
func (s MaintenanceGuardSpec) SettleDuration() time.Duration {
	return duration(s.Settle, DefaultSettle)
}

// MaxPauseDuration is spec.maxPause, or DefaultMaxPause when unset; 0 means
// no limit.
func (s MaintenanceGuardSpec) MaxPauseDuration() time.Duration {
	return duration(s.MaxPause, DefaultMaxPause)
}

// TaintKeys is spec.signals.nodes.taints, or DefaultNodeTaints when unset
// (an explicit empty list stays empty).
func (s NodeSignal) TaintKeys() []string {
	if s.Taints == nil {
		return slices.Clone(DefaultNodeTaints)
	}
	return s.Taints
}

// IgnoreTaintKeys is spec.signals.nodes.ignoreTaints, or
// DefaultNodeIgnoreTaints when unset (an explicit empty list stays empty).
func (s NodeSignal) IgnoreTaintKeys() []string {
	if s.IgnoreTaints == nil {
		return slices.Clone(DefaultNodeIgnoreTaints)
	}
	return s.IgnoreTaints
}

// DaemonSetKey is the namespace and name of kured's DaemonSet, defaults
// filled in.
func (s KuredSignal) DaemonSetKey() (namespace, name string) {
	namespace, name = s.Namespace, s.DaemonSet
	if namespace == "" {
		namespace = DefaultKuredNamespace
	}
	if name == "" {
		name = DefaultKuredDaemonSet
	}
	return namespace, name
}

// Zone is the window's time zone, DefaultTimeZone when unset.
func (w FreezeWindow) Zone() string {
	if w.TimeZone == "" {
		return DefaultTimeZone
	}
	return w.TimeZone
}
