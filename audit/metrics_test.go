package audit

import (
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"

	"github.com/fluxgate/fluxgate/check"
)

// A namespace's audit replaces that namespace's violations; a cluster
// audit replaces them all.
func TestMetricsFollowTheLastAudit(t *testing.T) {
	reg := prometheus.NewRegistry()
	m, err := NewMetrics(reg)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := NewMetrics(reg); err == nil {
		t.Error("registering twice: no error")
	}
	result := func(policy, ns, action string) check.Result {
		return check.Result{Policy: policy, Namespace: ns, Action: action}
	}
	m.record("", &check.Report{Results: []check.Result{
		result("pdb-drain-safe", "shop", "deny"), result("pdb-drain-safe", "shop", "deny"),
		result("replicas-ha", "shop", "warn"), result("readiness-probe", "web", "deny"),
	}}, time.Second)
	want := `
# HELP fluxgate_audit_violations Findings of the last audit of running objects, by policy, namespace and action.
# TYPE fluxgate_audit_violations gauge
fluxgate_audit_violations{action="deny",namespace="shop",policy="pdb-drain-safe"} 2
fluxgate_audit_violations{action="deny",namespace="web",policy="readiness-probe"} 1
fluxgate_audit_violations{action="warn",namespace="shop",policy="replicas-ha"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fluxgate_audit_violations"); err != nil {
		t.Error(err)
	}
	// shop fixed its budget: only shop's series change.
	m.record("shop", &check.Report{Results: []check.Result{result("replicas-ha", "shop", "warn")}}, time.Second)
	want = `
# HELP fluxgate_audit_violations Findings of the last audit of running objects, by policy, namespace and action.
# TYPE fluxgate_audit_violations gauge
fluxgate_audit_violations{action="deny",namespace="web",policy="readiness-probe"} 1
fluxgate_audit_violations{action="warn",namespace="shop",policy="replicas-ha"} 1
`
	if err := testutil.GatherAndCompare(reg, strings.NewReader(want), "fluxgate_audit_violations"); err != nil {
		t.Error(err)
	}
	if n := testutil.CollectAndCount(m.Duration); n != 2 {
		t.Errorf("duration series %d, want cluster and namespace", n)
	}
}
