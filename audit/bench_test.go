package audit

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/manifest"
)

// BenchmarkAudit10000 is one whole-cluster audit of 10,000 Deployments
// with their PodDisruptionBudgets and Services, in 200 namespaces, as the
// Auditor runs it (one worker, no pacing here): evaluation and Reports.
// The API listing is left out (the Auditor reads the informer cache).
// cpu-s/op is the CPU the audit costs per interval.
func BenchmarkAudit10000(b *testing.B) {
	eng := builtinEngine(&testing.T{})
	var objs []Object
	for n := range 200 {
		ns := fmt.Sprintf("team-%03d", n)
		for a := range 50 {
			name := fmt.Sprintf("app-%02d", a)
			labels := map[string]any{"app": name}
			objs = append(objs,
				Object{Object: manifest.Object{File: Source, Data: map[string]any{
					"apiVersion": "apps/v1", "kind": "Deployment", "metadata": map[string]any{"name": name, "namespace": ns},
					"spec": map[string]any{"replicas": int64(3), "selector": map[string]any{"matchLabels": labels},
						"strategy": map[string]any{"type": "RollingUpdate", "rollingUpdate": map[string]any{"maxSurge": "25%", "maxUnavailable": int64(0)}},
						"template": map[string]any{"metadata": map[string]any{"labels": labels}, "spec": map[string]any{"containers": []any{map[string]any{
							"name": "app", "image": "example/app:1", "readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/", "port": int64(8080)}},
							"lifecycle": map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": int64(5)}}},
						}}}}}}}},
				Object{Object: manifest.Object{File: Source, Data: map[string]any{
					"apiVersion": "policy/v1", "kind": "PodDisruptionBudget", "metadata": map[string]any{"name": name, "namespace": ns},
					"spec": map[string]any{"maxUnavailable": int64(1), "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": map[string]any{"matchLabels": labels}}}}},
				Object{Object: manifest.Object{File: Source, Data: map[string]any{
					"apiVersion": "v1", "kind": "Service", "metadata": map[string]any{"name": name, "namespace": ns},
					"spec": map[string]any{"selector": labels, "ports": []any{map[string]any{"port": int64(80)}}}}}},
			)
		}
	}
	ctx := context.Background()
	var cpu time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		start := testenv.ProcessCPU()
		rep, err := check.RunWith(ctx, eng, Manifests(objs), check.Options{Workers: 1})
		if err != nil {
			b.Fatal(err)
		}
		if reports := Reports(eng, objs, rep, time.Now()); len(reports) != 200 || rep.Summary.Deny != 0 {
			b.Fatalf("%d reports, %d denied", len(reports), rep.Summary.Deny)
		}
		cpu += testenv.ProcessCPU() - start
	}
	b.ReportMetric(cpu.Seconds()/float64(b.N), "cpu-s/op")
}
