package webhook

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/fluxgate/fluxgate/policy"
)

func TestMetricsRegistration(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice: want an error")
	}

	m.ObserveActive(builtinActive(t))
	if got := testutil.ToFloat64(m.PolicySetGeneration); got != 1 {
		t.Errorf("generation = %v, want 1", got)
	}
	if got := testutil.ToFloat64(m.PoliciesActive); got != 6 {
		t.Errorf("policies active = %v, want the 6 built-in policies", got)
	}
	m.PolicyLoadErrors.Inc()

	v := NewValidator(Options{Policies: builtinActive(t), Metrics: m})
	v.Handle(context.Background(), request(t, admissionv1.Create, set(obj(t, webDeployment), "spec.replicas", 1), nil))
	m.request(ValidateName, 200, time.Millisecond)
	m.error(ValidateName, ReasonBadRequest)

	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, f := range families {
		names = append(names, f.GetName())
	}
	for _, want := range []string{
		"fluxgate_admission_decisions_total",
		"fluxgate_admission_evaluation_duration_seconds",
		"fluxgate_admission_errors_total",
		"fluxgate_admission_request_duration_seconds",
		"fluxgate_policy_set_generation",
		"fluxgate_policy_load_errors_total",
		"fluxgate_policies_active",
		"fluxgate_admission_max_concurrent_reviews",
		"fluxgate_admission_reviews_in_flight",
		"fluxgate_admission_slot_wait_duration_seconds",
	} {
		if !slices.Contains(names, want) {
			t.Errorf("%s not gathered; have %v", want, names)
		}
	}
	for _, c := range []struct {
		labels []string
		want   float64
	}{
		{[]string{ValidateName, "replicas-ha", "warn", "CREATE"}, 1},
		{[]string{ValidateName, "", "allow", "CREATE"}, 1},
		{[]string{ValidateName, "", "deny", "CREATE"}, 0},
	} {
		if got := testutil.ToFloat64(m.decisions.WithLabelValues(c.labels...)); got != c.want {
			t.Errorf("decisions%v = %v, want %v", c.labels, got, c.want)
		}
	}
}

func TestMetricsNil(t *testing.T) {
	var m *Metrics
	m.ObserveActive(&policy.Active{})
	m.finding(ValidateName, "CREATE", policy.Finding{})
	m.outcome(ValidateName, "CREATE", true)
	m.evaluation(ValidateName, time.Second)
	m.error(ValidateName, ReasonPanic)
	m.request(ValidateName, 200, time.Second)
}

func TestOperationLabelIsBounded(t *testing.T) {
	for op, want := range map[string]string{"CREATE": "CREATE", "CONNECT": "CONNECT", "create": "other", "X-1": "other", "": "other"} {
		if got := operationLabel(op); got != want {
			t.Errorf("operationLabel(%q) = %q, want %q", op, got, want)
		}
	}
}
