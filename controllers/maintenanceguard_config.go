package controllers

import (
	"fmt"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/signals"
	"github.com/fluxgate/fluxgate/maintenance/timing"
)

// signalsConfig maps a guard's spec onto what the detectors look for.
func signalsConfig(g *v1alpha1.MaintenanceGuard) (signals.Config, error) {
	s := g.Spec.Signals
	var cfg signals.Config
	cfg.Nodes.Enabled = s.Nodes.IsEnabled()
	if s.Nodes.Selector != nil {
		sel, err := metav1.LabelSelectorAsSelector(s.Nodes.Selector)
		if err != nil {
			return cfg, fmt.Errorf("spec.signals.nodes.selector: %w", err)
		}
		cfg.Nodes.Selector = sel
	}
	cfg.Nodes.Taints = s.Nodes.TaintKeys()
	cfg.Nodes.IgnoreTaints = s.Nodes.IgnoreTaintKeys()
	cfg.ControlPlane.Enabled = s.ControlPlane.IsEnabled()
	cfg.Kured.Enabled = s.Kured.Enabled
	cfg.Kured.Namespace, cfg.Kured.DaemonSet = s.Kured.DaemonSetKey()
	cfg.SystemUpgrade.Enabled = s.SystemUpgradeController.Enabled
	cfg.NodeMaintenance.Enabled = s.NodeMaintenance.Enabled
	cfg.Manual.Enabled = s.Manual.IsEnabled()
	cfg.Manual.GuardAnnotations = g.GetAnnotations()
	for _, w := range s.FreezeWindows {
		cfg.Windows = append(cfg.Windows, signals.Window{Name: w.Name, Schedule: w.Schedule, TimeZone: w.Zone(), Duration: w.Duration.Duration})
	}
	return cfg, nil
}

// timingConfig maps a guard's spec onto the timing rules.
func timingConfig(g *v1alpha1.MaintenanceGuard) timing.Timing {
	return timing.Timing{
		Debounce:            g.Spec.DebounceDuration(),
		Settle:              g.Spec.SettleDuration(),
		MaxPause:            g.Spec.MaxPauseDuration(),
		ResumeAfterMaxPause: g.Spec.ResumeAfterMaxPause,
	}
}

// timingState reads what the guard remembers from its status.
func timingState(g *v1alpha1.MaintenanceGuard) timing.State {
	st := timing.State{Phase: timing.Phase(g.Status.Phase)}
	if t := g.Status.SignalSince; t != nil {
		st.SignalSince = t.Time
	}
	if t := g.Status.LastPauseTime; t != nil && (st.Phase == timing.Paused || st.Phase == timing.Settling || st.Phase == timing.Expired) {
		st.PausedSince = t.Time
	}
	if t := g.Status.LastSignalClearTime; t != nil && st.Phase == timing.Settling {
		st.ClearSince = t.Time
	}
	return st
}

// selectors compiles a target selection's label selectors.
func selectors(sel v1alpha1.TargetSelection) (ns, objs labels.Selector, err error) {
	ns, objs = labels.Everything(), labels.Everything()
	if sel.NamespaceSelector != nil {
		if ns, err = metav1.LabelSelectorAsSelector(sel.NamespaceSelector); err != nil {
			return nil, nil, fmt.Errorf("namespaceSelector: %w", err)
		}
	}
	if sel.Selector != nil {
		if objs, err = metav1.LabelSelectorAsSelector(sel.Selector); err != nil {
			return nil, nil, fmt.Errorf("selector: %w", err)
		}
	}
	return ns, objs, nil
}
