package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/client-go/dynamic"

	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

const (
	restartNS    = "e2e-restart"
	restartGuard = "e2e-restart"
	// restartObjects is enough that the guard, writing 16 objects at a
	// time, is still pausing when the first suspend is seen and fluxgate
	// is killed.
	restartObjects = 40
)

// restartFiles renders one folder per Kustomization, each with a
// ConfigMap: cheap to apply, and no two Kustomizations own one object.
func restartFiles() map[string]string {
	files := map[string]string{}
	for i := range restartObjects {
		files[fmt.Sprintf("restart/ks-%02d/configmap.yaml", i)] = fmt.Sprintf(
			"apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: cm-%02d\n  namespace: %s\ndata:\n  index: %q\n", i, restartNS, fmt.Sprint(i))
	}
	return files
}

// TestRestartMidPause proves that a guard process SIGKILLed in the middle
// of a pause loses nothing and does nothing twice: its successor pauses
// the rest from the state in the API (the guard's status and the objects'
// annotations), and after the maintenance every object is resumed once.
func TestRestartMidPause(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()
	node := e.Cluster.Nodes[len(e.Cluster.Nodes)-2]
	selected := map[string]string{"fluxgate.dev/e2e-scenario": "restart"}
	source := types.NamespacedName{Namespace: restartNS, Name: "restart"}
	var keys []types.NamespacedName
	var names []string
	for i := range restartObjects {
		k := types.NamespacedName{Namespace: restartNS, Name: fmt.Sprintf("ks-%02d", i)}
		keys = append(keys, k)
		names = append(names, k.String())
	}

	if err := e.CreateNamespace(ctx, restartNS, selected); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := e.DeleteNamespace(context.Background(), restartNS, 2*time.Minute); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})
	rev, err := e.Repo.CommitOverlay(restartFiles(), "restart: one ConfigMap per Kustomization")
	if err != nil {
		t.Fatal(err)
	}
	if _, err := e.Source.Publish(ctx, e.Client, source.Namespace, source.Name, rev); err != nil {
		t.Fatal(err)
	}
	for i, k := range keys {
		if err := e.Client.Create(ctx, scenario.KustomizationFrom(k.Namespace, k.Name, fmt.Sprintf("./restart/ks-%02d", i), source)); err != nil {
			t.Fatal(err)
		}
	}
	if err := e.WaitKustomizations(ctx, keys, 2*time.Minute, func(st scenario.KustomizationState) bool {
		return st.Ready == "True" && st.LastAppliedRevision == rev
	}); err != nil {
		t.Fatal(err)
	}
	// No debounce: the pause starts as soon as the guard sees the cordon.
	startGuard(ctx, t, e, restartGuard, scenario.GuardSpec(selected, "0s", "3s"))

	// The recorder sees every transition of every object, through the
	// kill and the restart, from a watch that does not depend on fluxgate.
	rec := recorder.New(recorder.Options{Namespaces: []string{restartNS}, Kustomizations: names})
	recCtx, stopRec := context.WithCancel(ctx)
	t.Cleanup(stopRec)
	if err := rec.Start(recCtx, e.Cluster.RESTConfig()); err != nil {
		t.Fatal(err)
	}
	firstSuspend, err := watchFirstSuspend(recCtx, e)
	if err != nil {
		t.Fatal(err)
	}

	if err := e.Cluster.Cordon(ctx, node); err != nil {
		t.Fatal(err)
	}
	// Kill at the first suspend the watch delivers: the guard writes 16
	// objects at a time, so usually some but not all are paused by then.
	select {
	case <-firstSuspend:
	case <-time.After(time.Minute):
		t.Fatal("no Kustomization suspended within a minute of the cordon")
	}
	e.Fluxgate.Kill()
	restarted := false
	t.Cleanup(func() {
		// Later scenarios, and DeleteGuard's finalizer, need fluxgate.
		if !restarted {
			if err := e.Fluxgate.Start(context.Background()); err != nil {
				t.Errorf("cleanup: restart fluxgate: %v", err)
			}
		}
	})
	atKill, err := countSuspended(ctx, e, keys)
	if err != nil {
		t.Fatal(err)
	}
	if atKill < restartObjects {
		t.Logf("fluxgate killed mid-pause: %d of %d suspended", atKill, restartObjects)
	} else {
		t.Logf("fluxgate killed after the pause: all %d suspended already (the restart still must not resume or re-pause any)", restartObjects)
	}

	if err := e.Fluxgate.Start(ctx); err != nil {
		t.Fatal(err)
	}
	restarted = true
	// The new process waits for the dead one's leader lease to expire.
	if err := e.WaitKustomizations(ctx, keys, 2*time.Minute, func(st scenario.KustomizationState) bool { return st.Suspended }); err != nil {
		t.Fatalf("not all paused after the restart: %v", err)
	}

	if err := e.Cluster.Uncordon(ctx, node); err != nil {
		t.Fatal(err)
	}
	if err := e.WaitKustomizations(ctx, keys, 2*time.Minute, func(st scenario.KustomizationState) bool {
		return !st.Suspended && st.Ready == "True"
	}); err != nil {
		t.Fatalf("not all resumed after the settle period: %v", err)
	}
	stopRec()

	if err := pausedAndResumedOnce(rec.Timeline(), names); err != nil {
		t.Error(err)
	}
	for _, k := range keys {
		ks := scenario.NewKustomization()
		if err := e.Client.Get(ctx, k, ks); err != nil {
			t.Fatal(err)
		}
		if v, ok := ks.GetAnnotations()[pause.PausedByAnnotation]; ok {
			t.Errorf("resumed %s still has %s=%q", k, pause.PausedByAnnotation, v)
		}
	}
}

// watchFirstSuspend starts watching the scenario's Kustomizations and
// returns a channel closed when the first one is seen suspended. The
// watch starts from a list, so every later write is seen, however soon.
func watchFirstSuspend(ctx context.Context, e *scenario.Env) (<-chan struct{}, error) {
	dyn, err := dynamic.NewForConfig(e.Cluster.RESTConfig())
	if err != nil {
		return nil, fmt.Errorf("dynamic client: %w", err)
	}
	res := dyn.Resource(recorder.KustomizationResource).Namespace(restartNS)
	list, err := res.List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, fmt.Errorf("list Kustomizations: %w", err)
	}
	w, err := res.Watch(ctx, metav1.ListOptions{ResourceVersion: list.GetResourceVersion()})
	if err != nil {
		return nil, fmt.Errorf("watch Kustomizations: %w", err)
	}
	done := make(chan struct{})
	go func() {
		defer w.Stop()
		for ev := range w.ResultChan() {
			u, ok := ev.Object.(*unstructured.Unstructured)
			if !ok || ev.Type != watch.Modified {
				continue
			}
			if s, _, _ := unstructured.NestedBool(u.Object, "spec", "suspend"); s {
				close(done)
				return
			}
		}
	}()
	return done, nil
}

// countSuspended counts the Kustomizations whose spec.suspend is true.
func countSuspended(ctx context.Context, e *scenario.Env, keys []types.NamespacedName) (int, error) {
	n := 0
	for _, k := range keys {
		st, err := e.GetKustomization(ctx, k)
		if err != nil {
			return 0, err
		}
		if st.Suspended {
			n++
		}
	}
	return n, nil
}

// pausedAndResumedOnce checks that each object of a timeline was first
// seen active, then suspended exactly once and resumed exactly once, in
// that order: nothing lost across the restart, nothing done twice.
func pausedAndResumedOnce(timeline []recorder.Event, objects []string) error {
	var errs []string
	for _, o := range objects {
		var seq []string
		for _, ev := range timeline {
			if ev.Object != o {
				continue
			}
			switch ev.Kind {
			case recorder.KustomizationSeen:
				if ev.Suspended {
					seq = append(seq, "seen suspended")
				}
			case recorder.KustomizationSuspended:
				seq = append(seq, "suspended")
			case recorder.KustomizationResumed:
				seq = append(seq, "resumed")
			}
		}
		if got := strings.Join(seq, ", "); got != "suspended, resumed" {
			errs = append(errs, fmt.Sprintf("%s: %s; want suspended, resumed", o, got))
		}
	}
	if len(errs) > 0 {
		return fmt.Errorf("transitions across the restart:\n%s", strings.Join(errs, "\n"))
	}
	return nil
}
