package controllers

import (
	"fmt"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
)

// GuardMetrics are the maintenance guard's Prometheus metrics. A nil
// *GuardMetrics records nothing.
type GuardMetrics struct {
	active      *prometheus.GaugeVec
	paused      *prometheus.GaugeVec
	transitions *prometheus.CounterVec
	reconciles  *prometheus.CounterVec
	duration    prometheus.Histogram
}

// NewGuardMetrics registers the metrics on reg.
func NewGuardMetrics(reg prometheus.Registerer) (*GuardMetrics, error) {
	m := &GuardMetrics{
		active: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fluxgate_maintenance_active", Help: "1 while a guard sees maintenance signals.",
		}, []string{"guard"}),
		paused: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fluxgate_maintenance_paused_objects", Help: "Flux objects a guard holds paused.",
		}, []string{"guard"}),
		transitions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluxgate_maintenance_transitions_total", Help: "Pauses and resumes by guard.",
		}, []string{"guard", "action"}),
		reconciles: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluxgate_maintenance_reconciles_total",
			Help: "Reconciles by guard and by what they ran: none, pause, resume (the pause or resume logic, whether or not it wrote), error, invalid.",
		}, []string{"guard", "action"}),
		duration: prometheus.NewHistogram(prometheus.HistogramOpts{
			Name: "fluxgate_maintenance_pause_duration_seconds", Help: "How long pauses lasted, from pause to resume.",
			Buckets: prometheus.ExponentialBuckets(60, 2, 10),
		}),
	}
	for _, c := range []prometheus.Collector{m.active, m.paused, m.transitions, m.reconciles, m.duration} {
		if err := reg.Register(c); err != nil {
			return nil, fmt.Errorf("register maintenance metrics: %w", err)
		}
	}
	return m, nil
}

func (m *GuardMetrics) observe(g *v1alpha1.MaintenanceGuard) {
	if m == nil {
		return
	}
	active := 0.0
	if len(g.Status.ActiveSignals) > 0 {
		active = 1
	}
	m.active.WithLabelValues(g.Name).Set(active)
	m.paused.WithLabelValues(g.Name).Set(float64(g.Status.PausedCount))
}

func (m *GuardMetrics) transition(guard, action string) {
	if m != nil {
		m.transitions.WithLabelValues(guard, action).Inc()
	}
}

func (m *GuardMetrics) pauseDuration(d interface{ Seconds() float64 }) {
	if m != nil {
		m.duration.Observe(d.Seconds())
	}
}

func (m *GuardMetrics) reconciled(guard, action string) {
	if m != nil {
		m.reconciles.WithLabelValues(guard, action).Inc()
	}
}
