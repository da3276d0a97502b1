package e2e_test

import (
	"context"
	"testing"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
	"sigs.k8s.io/controller-runtime/pkg/client"

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
	t.Cleanup(func() {
		// Gone before the next run (-count) creates it again. What it
		// applied stays (prune off first): pruned namespaces would still
		// be terminating when the next run applies into them.
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		patch := client.RawPatch(types.MergePatchType, []byte(`{"spec":{"prune":false}}`))
		if err := e.Client.Patch(ctx, ks, patch); client.IgnoreNotFound(err) != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		if err := e.Client.Delete(ctx, ks); client.IgnoreNotFound(err) != nil {
			t.Errorf("cleanup: %v", err)
			return
		}
		err := wait.PollUntilContextCancel(ctx, time.Second, true, func(ctx context.Context) (bool, error) {
			err := e.Client.Get(ctx, key, scenario.Kustomization(key.Namespace, key.Name, ""))
			return apierrors.IsNotFound(err), client.IgnoreNotFound(err)
		})
		if err != nil {
			t.Errorf("cleanup: Kustomization %s not deleted: %v", key, err)
		}
	})
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{key}, time.Minute, func(st scenario.KustomizationState) bool {
		return st.LastAppliedRevision == rev && st.Ready == "True"
	}); err != nil {
		t.Fatal(err)
	}
}
