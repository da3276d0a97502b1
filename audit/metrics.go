package audit

import (
	"errors"
	"fmt"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxgate/fluxgate/check"
)

// Metrics are the audit's Prometheus metrics.
type Metrics struct {
	// Violations counts the current findings by policy, namespace and
	// action (deny, warn, mutate).
	Violations *prometheus.GaugeVec
	// Duration observes each audit, of one namespace or of the cluster.
	Duration *prometheus.HistogramVec
	// LastAudit is when the last whole-cluster audit finished.
	LastAudit prometheus.Gauge
}

// NewMetrics registers the audit metrics with reg.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		Violations: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fluxgate_audit_violations",
			Help: "Findings of the last audit of running objects, by policy, namespace and action.",
		}, []string{"policy", "namespace", "action"}),
		Duration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fluxgate_audit_duration_seconds",
			Help:    "Duration of audits, of the whole cluster (scope=cluster) or of one namespace (scope=namespace).",
			Buckets: prometheus.ExponentialBuckets(0.01, 4, 9),
		}, []string{"scope"}),
		LastAudit: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fluxgate_audit_last_run_timestamp_seconds",
			Help: "When the last whole-cluster audit finished (Unix time).",
		}),
	}
	var errs []error
	for _, c := range []prometheus.Collector{m.Violations, m.Duration, m.LastAudit} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, fmt.Errorf("register audit metrics: %w", err)
	}
	return m, nil
}

// record replaces the violations of the audited scope by the new ones.
func (m *Metrics) record(ns string, rep *check.Report, took time.Duration) {
	scope := "namespace"
	if ns == "" {
		scope = "cluster"
		m.Violations.Reset()
		m.LastAudit.SetToCurrentTime()
	} else {
		m.Violations.DeletePartialMatch(prometheus.Labels{"namespace": ns})
	}
	m.Duration.WithLabelValues(scope).Observe(took.Seconds())
	for _, r := range rep.Results {
		m.Violations.WithLabelValues(r.Policy, r.Namespace, r.Action).Inc()
	}
}
