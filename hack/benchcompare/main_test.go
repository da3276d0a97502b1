package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
	"time"
)

// TestRunFluxgateSide runs the comparison's fluxgate side on a few
// iterations, in both modes, so that `make bench-compare` does not rot
// between the (slow, gator-building) runs of it.
func TestRunFluxgateSide(t *testing.T) {
	for _, tc := range []struct {
		validateOnly, repeated bool
		want                   []string
	}{
		{false, false, []string{"mutation + validation", "new revision label", "1 patch operation(s), 0 denial(s)"}},
		{true, false, []string{"validation alone", "new revision label", "0 patch operation(s), 0 denial(s)"}},
		{false, true, []string{"mutation + validation", "the same object", "1 patch operation(s), 0 denial(s)"}},
	} {
		var out bytes.Buffer
		err := Run(context.Background(), Options{
			Iterations: 20, Rounds: 2, Warmup: 2, ValidateOnly: tc.validateOnly, Repeated: tc.repeated,
			Deployment:    "../../policy/testdata/bench/deployment.yaml",
			Related:       "../../policy/testdata/bench/related.yaml",
			GatorPolicies: "gator",
		}, &out)
		if err != nil {
			t.Fatalf("validate-only %v: %v", tc.validateOnly, err)
		}
		for _, w := range append(tc.want, "Deployment apps/podinfo", "P50") {
			if !strings.Contains(out.String(), w) {
				t.Errorf("validate-only %v: output lacks %q:\n%s", tc.validateOnly, w, out.String())
			}
		}
		if strings.Contains(out.String(), "gator") {
			t.Errorf("validate-only %v: gator reported though not run:\n%s", tc.validateOnly, out.String())
		}
	}
}

// TestParseGator reads the shape `gator bench -o json` prints.
func TestParseGator(t *testing.T) {
	out := []byte(`[{"engine": "rego", "templateCount": 3, "constraintCount": 3, "objectCount": 1,
		"iterations": 1000, "totalReviews": 1000, "violationCount": 1000,
		"latencies": {"min": "150µs", "max": "5.1ms", "mean": "388.2µs", "p50": "307µs", "p95": "800µs", "p99": "1.2ms"}}]`)
	g, err := parseGator(out)
	if err != nil {
		t.Fatal(err)
	}
	if g.P50 != 307*time.Microsecond || g.P99 != 1200*time.Microsecond || g.Mean != 388200*time.Nanosecond ||
		g.Templates != 3 || g.Constraints != 3 || g.Violations != 1 || g.Samples != 1000 {
		t.Errorf("got %+v", g)
	}
	if _, err := parseGator([]byte(`[{"engine": "cel"}]`)); err == nil {
		t.Error("no error for output without a Rego result")
	}
}

// TestStats checks the percentiles against gator's method: linear
// interpolation between the nearest ranks.
func TestStats(t *testing.T) {
	var samples []time.Duration
	for i := 100; i >= 1; i-- {
		samples = append(samples, time.Duration(i)*time.Microsecond)
	}
	s := stats(samples)
	if s.P50 != 50500*time.Nanosecond || s.P99 != 99010*time.Nanosecond || s.Mean != 50500*time.Nanosecond || s.Samples != 100 {
		t.Errorf("got %+v", s)
	}
}
