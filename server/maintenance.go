package server

import (
	"context"
	"fmt"
	"sort"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/policy"
)

// guardMaintenance gives policies the state of the maintenance guards,
// read from the manager's cache.
type guardMaintenance struct{ reader client.Reader }

// Maintenance implements webhook.MaintenanceSource: maintenance is active
// while any guard holds Flux paused or waits out its settle period.
func (g guardMaintenance) Maintenance(ctx context.Context) (policy.Maintenance, error) {
	var list v1alpha1.MaintenanceGuardList
	if err := g.reader.List(ctx, &list); err != nil {
		return policy.Maintenance{}, fmt.Errorf("list maintenance guards: %w", err)
	}
	var m policy.Maintenance
	for _, mg := range list.Items {
		phase := mg.Status.Phase
		if phase == "" || phase == v1alpha1.PhaseIdle {
			continue
		}
		var signals []string
		for _, s := range mg.Status.ActiveSignals {
			signals = append(signals, string(s.Type))
		}
		m.Guards = append(m.Guards, policy.MaintenanceGuard{Name: mg.Name, Phase: string(phase), Signals: signals})
		for _, r := range mg.Status.Releasing {
			m.Releases = append(m.Releases, policy.FluxObject{Kind: string(r.Kind), Namespace: r.Namespace, Name: r.Name})
		}
		if phase == v1alpha1.PhasePaused || phase == v1alpha1.PhaseSettling {
			m.Active = true
		}
	}
	sort.Slice(m.Guards, func(i, j int) bool { return m.Guards[i].Name < m.Guards[j].Name })
	return m, nil
}
