package e2e_test

import (
	"context"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/types"

	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

func TestSmokeFluxAppliesAFleet(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()
	fleet := scenario.NewFleet(1, 2)
	rev, err := e.Repo.Commit(fleet.Files("1.0.0"), "smoke")
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Publish(ctx, rev); err != nil {
		t.Fatal(err)
	}
	ks := scenario.Kustomization(scenario.FluxNamespace, "smoke", "./"+fleet[0].Path())
	if err := e.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	key := types.NamespacedName{Namespace: scenario.FluxNamespace, Name: "smoke"}
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{key}, time.Minute, func(st scenario.KustomizationState) bool {
		return st.LastAppliedRevision == rev && st.Ready == "True"
	}); err != nil {
		t.Fatal(err)
	}
}
