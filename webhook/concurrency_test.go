package webhook

import (
	"context"
	"net/http"
	"sync"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"

	"github.com/fluxgate/fluxgate/policy"
)

// TestHandlersConcurrentWithReload serves both webhooks from many
// goroutines while the policy set is reloaded under them; run with -race.
func TestHandlersConcurrentWithReload(t *testing.T) {
	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	active := &policy.Active{}
	if _, err := active.Reload(context.Background(), mods, nil); err != nil {
		t.Fatal(err)
	}
	rec := &fakeRecorder{}
	m := newTestMetrics(t)
	opts := Options{
		Policies: active, Related: &fakeRelated{objs: []map[string]any{obj(t, webBudget)}},
		Events: rec, Metrics: m, Namespace: ownNamespace, ServiceAccount: ownUser,
	}
	mutate := NewHTTPHandler(MutateName, NewMutator(opts), m, logr.Discard())
	validate := NewHTTPHandler(ValidateName, NewValidator(opts), m, logr.Discard())

	web := obj(t, webDeployment)
	bodies := [][]byte{
		reviewBody(t, request(t, admissionv1.Create, del(clone(t, web), "spec.strategy"), nil)),
		reviewBody(t, request(t, admissionv1.Update, set(clone(t, web), "spec.replicas", 1), web)),
		reviewBody(t, request(t, admissionv1.Create, set(clone(t, web), "spec.strategy.rollingUpdate.maxUnavailable", 3), nil)),
	}

	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var reloads sync.WaitGroup
	reloads.Go(func() {
		configs := []*policy.Config{nil, {Policies: map[string]policy.PolicyConfig{"replicas-ha": {Action: policy.ActionOff}}}}
		for i := 0; ctx.Err() == nil && i < 20; i++ {
			m.ObserveActive(active)
			if _, err := active.Reload(ctx, mods, configs[i%2]); err != nil && ctx.Err() == nil {
				t.Error(err)
			}
		}
	})

	var wg sync.WaitGroup
	for g := range 8 {
		wg.Go(func() {
			for i := range 15 {
				h := []http.Handler{mutate, validate}[(g+i)%2]
				w := post(h, "application/json", bodies[(g*7+i)%len(bodies)])
				if w.Code != http.StatusOK {
					t.Errorf("code %d: %s", w.Code, w.Body)
					return
				}
			}
		})
	}
	wg.Wait()
	cancel()
	reloads.Wait()
}
