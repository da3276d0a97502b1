package cluster_test

import (
	"fmt"
	"os"
	"testing"

	"github.com/fluxgate/fluxgate/test/e2e/cluster"
)

// E2EEnv turns the tests that start a cluster on: FLUXGATE_E2E=1. Then a
// missing binary fails the package; otherwise those tests are skipped.
const E2EEnv = "FLUXGATE_E2E"

// skipReason, when set, is why the tests that start a cluster skip.
var skipReason string

func TestMain(m *testing.M) {
	if os.Getenv(E2EEnv) != "1" {
		skipReason = fmt.Sprintf("the simulated cluster tests run with %s=1 (after `make e2e-assets`)", E2EEnv)
	} else {
		dir, err := cluster.FindBinDir()
		if err == nil {
			err = cluster.CheckBinDir(dir)
		}
		if err != nil {
			fmt.Fprintf(os.Stderr, "FAIL: %s=1 but the cluster cannot start: %v\n", E2EEnv, err)
			os.Exit(1)
		}
	}
	os.Exit(m.Run())
}

// requireE2E skips t unless the cluster tests are on.
func requireE2E(t *testing.T) {
	t.Helper()
	if skipReason != "" {
		t.Skip(skipReason)
	}
}
