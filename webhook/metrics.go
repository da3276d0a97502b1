package webhook

import (
	"errors"
	"strconv"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/fluxgate/fluxgate/policy"
)

// The reasons fluxgate_admission_errors_total counts.
const (
	// ReasonBadRequest: the HTTP request was not a well-formed
	// AdmissionReview v1 (wrong method, content type, size or body).
	ReasonBadRequest = "bad_request"
	// ReasonDecode: the object or old object in the request is not a JSON
	// object.
	ReasonDecode = "decode"
	// ReasonEvaluation: a policy failed to evaluate (or the response could
	// not be built from its result).
	ReasonEvaluation = "evaluation"
	// ReasonTimeout: the evaluation did not finish within EvalTimeout.
	ReasonTimeout = "timeout"
	// ReasonRelated: the related objects of the namespace could not be
	// read; the request was evaluated without them.
	ReasonRelated = "related"
	// ReasonPanic: the admission handler panicked.
	ReasonPanic = "panic"
	// ReasonNotLoaded: a request arrived before the first policy set was
	// loaded.
	ReasonNotLoaded = "not_loaded"
	// ReasonEncode: the admission response could not be encoded.
	ReasonEncode = "encode"
	// ReasonBusy: every evaluation slot stayed taken until the review's
	// wait ended (ReviewLimiter); it was answered with HTTP 503.
	ReasonBusy = "busy"
)

// Metrics are fluxgate's Prometheus metrics. A nil *Metrics records
// nothing, so every method is safe to call on nil.
type Metrics struct {
	// PolicySetGeneration is fluxgate_policy_set_generation, the
	// generation of the policy set in service (policy.Active.Generation).
	PolicySetGeneration prometheus.Gauge
	// PolicyLoadErrors is fluxgate_policy_load_errors_total, the number of
	// policy sets or configurations that were rejected.
	PolicyLoadErrors prometheus.Counter
	// PoliciesActive is fluxgate_policies_active, the number of policies
	// in service whose action is not off.
	PoliciesActive prometheus.Gauge
	// MaxConcurrentReviews is fluxgate_admission_max_concurrent_reviews,
	// the number of evaluation slots (ReviewLimiter.Size); the handlers
	// set it.
	MaxConcurrentReviews prometheus.Gauge

	decisions       *prometheus.CounterVec
	evalDuration    *prometheus.HistogramVec
	errors          *prometheus.CounterVec
	requestDuration *prometheus.HistogramVec
	inFlight        *prometheus.GaugeVec
	waitingReviews  *prometheus.GaugeVec
	slotWait        *prometheus.HistogramVec
}

// latencyBuckets span 100µs to 2s: a built-in evaluation takes around a
// millisecond, and the default EvalTimeout is one second.
var latencyBuckets = []float64{0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2}

// NewMetrics creates fluxgate's metrics and registers them on reg (the
// manager passes controller-runtime's metrics.Registry). A nil reg leaves
// them unregistered, which tests and benchmarks use.
func NewMetrics(reg prometheus.Registerer) (*Metrics, error) {
	m := &Metrics{
		PolicySetGeneration: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fluxgate_policy_set_generation",
			Help: "Generation of the policy set in service; it grows by one with every successful reload.",
		}),
		PolicyLoadErrors: prometheus.NewCounter(prometheus.CounterOpts{
			Name: "fluxgate_policy_load_errors_total",
			Help: "Policy sets or configurations rejected at load; the previous set keeps serving.",
		}),
		PoliciesActive: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fluxgate_policies_active",
			Help: "Policies in service whose action is not off.",
		}),
		decisions: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluxgate_admission_decisions_total",
			Help: "Admission findings by policy and action (deny, warn, mutate), and admission outcomes (policy=\"\", action allow or deny).",
		}, []string{"webhook", "policy", "action", "operation"}),
		evalDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fluxgate_admission_evaluation_duration_seconds",
			Help:    "Time the policy engine took to evaluate one admission request.",
			Buckets: latencyBuckets,
		}, []string{"webhook"}),
		errors: prometheus.NewCounterVec(prometheus.CounterOpts{
			Name: "fluxgate_admission_errors_total",
			Help: "Admission requests that met an error, by reason: bad_request, decode, evaluation, timeout, related, panic, not_loaded, encode, busy.",
		}, []string{"webhook", "reason"}),
		requestDuration: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fluxgate_admission_request_duration_seconds",
			Help:    "Time to serve one AdmissionReview over HTTP, from reading the body to writing the response, by HTTP status code.",
			Buckets: latencyBuckets,
		}, []string{"webhook", "code"}),
		MaxConcurrentReviews: prometheus.NewGauge(prometheus.GaugeOpts{
			Name: "fluxgate_admission_max_concurrent_reviews",
			Help: "Evaluation slots: the most admission reviews evaluated at once (--max-concurrent-reviews).",
		}),
		inFlight: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fluxgate_admission_reviews_in_flight",
			Help: "Admission reviews holding an evaluation slot now.",
		}, []string{"webhook"}),
		waitingReviews: prometheus.NewGaugeVec(prometheus.GaugeOpts{
			Name: "fluxgate_admission_reviews_waiting",
			Help: "Admission reviews waiting for an evaluation slot now.",
		}, []string{"webhook"}),
		slotWait: prometheus.NewHistogramVec(prometheus.HistogramOpts{
			Name:    "fluxgate_admission_slot_wait_duration_seconds",
			Help:    "Time an evaluated admission review waited for its evaluation slot (0 when one was free).",
			Buckets: latencyBuckets,
		}, []string{"webhook"}),
	}
	if reg == nil {
		return m, nil
	}
	var errs []error
	for _, c := range []prometheus.Collector{
		m.PolicySetGeneration, m.PolicyLoadErrors, m.PoliciesActive,
		m.decisions, m.evalDuration, m.errors, m.requestDuration,
		m.MaxConcurrentReviews, m.inFlight, m.waitingReviews, m.slotWait,
	} {
		if err := reg.Register(c); err != nil {
			errs = append(errs, err)
		}
	}
	if err := errors.Join(errs...); err != nil {
		return nil, err
	}
	return m, nil
}

// ObserveActive sets the policy set gauges from the engine in service:
// call it after every successful reload.
func (m *Metrics) ObserveActive(a *policy.Active) {
	if m == nil || a == nil {
		return
	}
	m.PolicySetGeneration.Set(float64(a.Generation()))
	eng := a.Engine()
	if eng == nil {
		m.PoliciesActive.Set(0)
		return
	}
	n := 0
	for _, p := range eng.Set().Policies() {
		if eng.Action(p.ID) != policy.ActionOff {
			n++
		}
	}
	m.PoliciesActive.Set(float64(n))
}

func (m *Metrics) finding(webhook, operation string, f policy.Finding) {
	if m == nil {
		return
	}
	m.decisions.WithLabelValues(webhook, f.Policy, string(f.Action), operationLabel(operation)).Inc()
}

func (m *Metrics) outcome(webhook, operation string, allowed bool) {
	if m == nil {
		return
	}
	action := "deny"
	if allowed {
		action = "allow"
	}
	m.decisions.WithLabelValues(webhook, "", action, operationLabel(operation)).Inc()
}

func (m *Metrics) evaluation(webhook string, d time.Duration) {
	if m == nil {
		return
	}
	m.evalDuration.WithLabelValues(webhook).Observe(d.Seconds())
}

func (m *Metrics) error(webhook, reason string) {
	if m == nil {
		return
	}
	m.errors.WithLabelValues(webhook, reason).Inc()
}

func (m *Metrics) request(webhook string, code int, d time.Duration) {
	if m == nil {
		return
	}
	m.requestDuration.WithLabelValues(webhook, strconv.Itoa(code)).Observe(d.Seconds())
}

func (m *Metrics) limit(size int) {
	if m == nil {
		return
	}
	m.MaxConcurrentReviews.Set(float64(size))
}

// admitted counts a review that took an evaluation slot after waiting
// wait for it.
func (m *Metrics) admitted(webhook string, wait time.Duration) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(webhook).Inc()
	m.slotWait.WithLabelValues(webhook).Observe(wait.Seconds())
}

func (m *Metrics) done(webhook string) {
	if m == nil {
		return
	}
	m.inFlight.WithLabelValues(webhook).Dec()
}

func (m *Metrics) waiting(webhook string, delta float64) {
	if m == nil {
		return
	}
	m.waitingReviews.WithLabelValues(webhook).Add(delta)
}

// operationLabel keeps the operation label bounded: the request body is
// not trusted, and an arbitrary string per request would grow the series
// without limit.
func operationLabel(op string) string {
	switch op {
	case "CREATE", "UPDATE", "DELETE", "CONNECT":
		return op
	}
	return "other"
}
