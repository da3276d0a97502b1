package controllers

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/maintenance/pause"
)

// writeCounter counts the guard's writes to each Flux object, by what
// they did, across restarts; after budget writes it fails every further
// one, as if the process had died there.
type writeCounter struct {
	mu      sync.Mutex
	pauses  map[string]int
	resumes map[string]int
}

func newWriteCounter() *writeCounter {
	return &writeCounter{pauses: map[string]int{}, resumes: map[string]int{}}
}

var errCrashed = errors.New("simulated crash: no more writes")

type crashingClient struct {
	client.Client
	counter *writeCounter
	budget  atomic.Int64
}

func (c *crashingClient) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	u, isFlux := obj.(*unstructured.Unstructured)
	if isFlux && c.budget.Add(-1) < 0 {
		return errCrashed
	}
	if err := c.Client.Patch(ctx, obj, patch, opts...); err != nil {
		return err
	}
	if isFlux {
		c.counter.mu.Lock()
		defer c.counter.mu.Unlock()
		if s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); s {
			c.counter.pauses[u.GetName()]++
		} else {
			c.counter.resumes[u.GetName()]++
		}
	}
	return nil
}

func crashAfter(counter *writeCounter, writes int64) func(client.Client) client.Client {
	return func(c client.Client) client.Client {
		cc := &crashingClient{Client: c, counter: counter}
		cc.budget.Store(writes)
		return cc
	}
}

// TestRestartInTheMiddleOfPauseAndResume kills the guard after part of
// the writes of a pause of hundreds of objects, and again in the middle
// of the resume: the next process finishes each job, loses nothing, and
// pauses and resumes every object exactly once.
func TestRestartInTheMiddleOfPauseAndResume(t *testing.T) {
	const objects = 300
	clk := &clock{t: time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)}
	ns := namespace(t, nil)
	for i := range objects {
		flux(t, pause.Kustomization, ns, fmt.Sprintf("app-%03d", i), false)
	}
	g := guard(t, v1alpha1.MaintenanceGuardSpec{Targets: onlyNamespace(ns), Debounce: dur(0), Settle: dur(time.Minute),
		Signals: v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Enabled: ptrTo(false)}, ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: ptrTo(false)}}})
	counter := newWriteCounter()

	stop := startGuard(t, clk, crashAfter(counter, 120))
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "rolling reboot")
	eventually(t, func() error {
		counter.mu.Lock()
		defer counter.mu.Unlock()
		if len(counter.pauses) < 120 {
			return fmt.Errorf("%d paused before the crash", len(counter.pauses))
		}
		return nil
	})
	stop()

	stop = startGuard(t, clk, crashAfter(counter, 1<<30))
	eventually(t, func() error {
		kick(t, g)
		if st := status(t, g); st.PausedCount != objects {
			return fmt.Errorf("paused %d of %d after the restart", st.PausedCount, objects)
		}
		return nil
	})
	stop()

	stop = startGuard(t, clk, crashAfter(counter, 100))
	setGuardAnnotation(t, g, v1alpha1.MaintenanceAnnotation, "")
	waitPhase(t, g, v1alpha1.PhaseSettling)
	clk.Add(2 * time.Minute)
	eventually(t, func() error {
		kick(t, g)
		counter.mu.Lock()
		defer counter.mu.Unlock()
		if len(counter.resumes) < 100 {
			return fmt.Errorf("%d resumed before the crash", len(counter.resumes))
		}
		return nil
	})
	stop()

	startGuard(t, clk, crashAfter(counter, 1<<30))
	eventually(t, func() error {
		kick(t, g)
		counter.mu.Lock()
		defer counter.mu.Unlock()
		if len(counter.resumes) != objects {
			return fmt.Errorf("resumed %d of %d after the restart", len(counter.resumes), objects)
		}
		return nil
	})
	counter.mu.Lock()
	defer counter.mu.Unlock()
	for name, n := range counter.pauses {
		if n != 1 {
			t.Errorf("%s paused %d times", name, n)
		}
	}
	for name, n := range counter.resumes {
		if n != 1 {
			t.Errorf("%s resumed %d times", name, n)
		}
	}
	if len(counter.pauses) != objects {
		t.Errorf("paused %d objects, want %d", len(counter.pauses), objects)
	}
}
