package chart

import (
	"context"
	"os"
	"path/filepath"
	"testing"

	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// fluxgate's own objects pass fluxgate's built-in policies with the
// default configuration, without a single warning (but replicas-ha's for
// replicaCount 1): the webhooks never see
// the release namespace, but a chart that breaks its own rules would be a
// poor example (and `fluxgate check` on a cluster repository that vendors
// it would fail).
func TestChartPassesOwnPolicies(t *testing.T) {
	ctx := context.Background()
	mods, err := policy.Load()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(ctx, mods)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	for name, vals := range valueSets {
		t.Run(name, func(t *testing.T) {
			objs := render(t, vals)
			var all []byte
			for _, k := range keys(objs) {
				b, err := yaml.Marshal(objs[k].Object)
				if err != nil {
					t.Fatal(err)
				}
				all = append(append(all, "---\n"...), b...)
			}
			file := filepath.Join(t.TempDir(), "chart.yaml")
			if err := os.WriteFile(file, all, 0o600); err != nil {
				t.Fatal(err)
			}
			loaded, err := manifest.LoadPaths([]string{file}, nil)
			if err != nil {
				t.Fatal(err)
			}
			rep, err := check.Run(ctx, eng, loaded)
			if err != nil {
				t.Fatal(err)
			}
			for _, r := range rep.Results {
				// One replica is a choice the values document (HA off).
				if name == "singleReplica" && r.Action == "warn" && r.Policy == "replicas-ha" {
					continue
				}
				if r.Action == "deny" || r.Action == "warn" {
					t.Errorf("%s %s/%s: [%s] %s: %s", r.Kind, r.Namespace, r.Name, r.Policy, r.Action, r.Message)
				}
			}
		})
	}
}
