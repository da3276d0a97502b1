package check

import (
	"context"
	"fmt"
	"testing"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// fleet builds n objects the way a large Flux repository holds them: per
// team namespace, a PDB, a Service and the Deployment they serve, some with HPAs.
func fleet(n int) []manifest.Object {
	var objs []manifest.Object
	for i := 0; len(objs) < n; i++ {
		ns := fmt.Sprintf("team-%02d", i%25)
		name := fmt.Sprintf("app-%04d", i)
		labels := map[string]any{"app.kubernetes.io/name": name}
		objs = append(objs, manifest.Object{File: "fleet.yaml", Line: len(objs) + 1, Data: map[string]any{
			"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     map[string]any{"maxUnavailable": float64(1), "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": map[string]any{"matchLabels": labels}},
		}})
		objs = append(objs, manifest.Object{File: "fleet.yaml", Line: len(objs) + 1, Data: map[string]any{
			"apiVersion": "v1", "kind": "Service",
			"metadata": map[string]any{"name": name, "namespace": ns},
			"spec":     map[string]any{"selector": labels, "ports": []any{map[string]any{"port": float64(80)}}},
		}})
		objs = append(objs, manifest.Object{File: "fleet.yaml", Line: len(objs) + 1, Data: map[string]any{
			"apiVersion": "apps/v1", "kind": "Deployment",
			"metadata": map[string]any{"name": name, "namespace": ns, "labels": labels},
			"spec": map[string]any{
				"replicas": float64(2 + i%8),
				"selector": map[string]any{"matchLabels": labels},
				"template": map[string]any{
					"metadata": map[string]any{"labels": labels},
					"spec": map[string]any{"containers": []any{map[string]any{
						"name": "app", "image": "ghcr.io/example/" + name + ":1.0.0",
						"readinessProbe": map[string]any{"httpGet": map[string]any{"path": "/ready", "port": float64(8080)}},
						"lifecycle":      map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": float64(5)}}},
					}}},
				},
			},
		}})
	}
	return objs[:n]
}

// BenchmarkCheck1000 measures `fluxgate check` evaluation over 1,000
// objects (about 333 Deployments with their PDBs and Services in 25
// namespaces), without reading files. Each run has an engine of its own,
// as each `fluxgate check` has: one engine's decision cache would answer
// every object of a second run.
func BenchmarkCheck1000(b *testing.B) {
	mods, err := policy.BuiltinModules()
	if err != nil {
		b.Fatal(err)
	}
	set, err := policy.Compile(context.Background(), mods)
	if err != nil {
		b.Fatal(err)
	}
	eng, err := policy.NewEngine(set, nil)
	if err != nil {
		b.Fatal(err)
	}
	objs := fleet(1000)
	ctx := context.Background()
	rep, err := Run(ctx, eng, objs)
	if err != nil {
		b.Fatal(err)
	}
	if rep.Denied() {
		for _, r := range rep.Results {
			if r.Action == "deny" {
				b.Fatalf("fleet should pass, got %+v", r)
			}
		}
	}
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		eng, err := policy.NewEngine(set, nil)
		if err != nil {
			b.Fatal(err)
		}
		if _, err := Run(ctx, eng, objs); err != nil {
			b.Fatal(err)
		}
		if hits, _ := eng.CacheStats(); hits > 0 {
			b.Fatalf("%d decisions answered from the cache", hits)
		}
	}
}
