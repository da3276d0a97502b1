// Package e2e_test runs fluxgate's end-to-end scenarios on one simulated
// cluster (package scenario), one after another: each leaves every node
// uncordoned and deletes its MaintenanceGuard.
package e2e_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/test/e2e/cluster"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// env is the environment every scenario shares; nil when the e2e tests
// are off.
var env *scenario.Env

func TestMain(m *testing.M) {
	os.Exit(run(m))
}

func run(m *testing.M) int {
	if os.Getenv("FLUXGATE_E2E") != "1" {
		fmt.Println("skipping the end-to-end scenarios: they run with FLUXGATE_E2E=1 (make test sets it, after `make e2e-assets build`)")
		return m.Run()
	}
	dir, err := cluster.FindBinDir()
	if err == nil {
		err = cluster.CheckBinDir(dir)
	}
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: FLUXGATE_E2E=1 but the cluster cannot start: %v\n", err)
		return 1
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	env, err = scenario.Setup(ctx, scenario.Options{
		Nodes: 10, Log: os.Stdout, ProcessLog: os.Stdout,
		// The hub scenarios' kubeconfig Secrets and workload-identity
		// ConfigMaps live in hubNamespace, where fluxgate may read them
		// (and request the ConfigMap's ServiceAccount's tokens).
		Namespaces: []string{hubNamespace},
		FluxgateValues: map[string]any{
			"maintenanceGuard": map[string]any{
				"kubeConfigSecretNamespaces":    []any{hubNamespace},
				"kubeConfigConfigMapNamespaces": []any{hubNamespace},
			},
		},
	})
	if err != nil {
		fmt.Fprintf(os.Stderr, "FAIL: set up the end-to-end environment: %v\n", err)
		return 1
	}
	defer env.Stop()
	return m.Run()
}

// requireEnv skips t when the e2e tests are off.
func requireEnv(t *testing.T) *scenario.Env {
	t.Helper()
	if env == nil {
		t.Skip("FLUXGATE_E2E is not 1")
	}
	return env
}
