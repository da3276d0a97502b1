package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/test/e2e/recorder"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// Scenario 1 at full size: 10 nodes, 20 apps with 2-10 replicas and a PDB
// each, one Kustomization per team; every node drained, rebooted and
// uncordoned in turn, a new revision pushed half-way.
func TestZeroDowntimeMaintenance(t *testing.T) {
	e := requireEnv(t)
	const debounce, settle = 2 * time.Second, 10 * time.Second
	story := &strings.Builder{}
	res, err := scenario.ZeroDowntime(context.Background(), e, scenario.ZeroDowntimeOptions{
		Teams: 4, AppsPerTeam: 5, Debounce: debounce, Settle: settle, Reboot: 3 * time.Second, Narrate: story,
	})
	t.Log("\n" + story.String())
	if err != nil {
		t.Fatal(err)
	}
	report := &strings.Builder{}
	if err := res.Recorder.Print(report); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + report.String())
	peaks, total := e.PeakMemory()
	t.Logf("first cordon → all paused %.1fs; last uncordon → all resumed %.1fs, new revision applied %.1fs, rolled out %.1fs; peak memory %d MiB over %d processes",
		res.ToAllPaused.Seconds(), res.ToAllResumed.Seconds(), res.ToAllApplied.Seconds(), res.ToRolledOut.Seconds(), total>>20, len(peaks))
	for _, p := range peaks {
		t.Logf("  %-24s %4d MiB", p.Name, p.PeakRSS>>20)
	}

	// These bounds are the product's promises (issue 6), not performance
	// figures: the guard reacts within its debounce, Flux within its
	// reconcile after the resume.
	if res.ToAllPaused == 0 || res.ToAllPaused > debounce+5*time.Second {
		t.Errorf("every Kustomization paused %s after the first cordon, want within debounce + 5s (%s)", res.ToAllPaused, debounce+5*time.Second)
	}
	for _, ev := range res.AppliedDuringMaintenance {
		t.Errorf("Flux applied during the maintenance: %s at %s", ev.Describe(), ev.At.Format(time.RFC3339Nano))
	}
	for _, app := range res.Apps {
		if app.BelowFloor() {
			t.Errorf("%s fell below its PDB floor %d: %+v", app.Deployment, app.Floor, app.Breaches)
		}
		if app.FullyReadyAt.IsZero() {
			t.Errorf("%s never seen fully ready", app.Deployment)
		}
	}
	if len(res.Apps) != 20 {
		t.Errorf("summary covers %d apps, want 20", len(res.Apps))
	}
	// The guard's status keeps times in whole seconds (metav1.Time), so
	// the settle period may end up to a second early.
	if res.ToAllResumed < settle-time.Second {
		t.Errorf("resumed %s after the last uncordon, before the settle period %s", res.ToAllResumed, settle)
	}
	if res.ToAllApplied == 0 || res.ToAllApplied > settle+30*time.Second {
		t.Errorf("new revision applied %s after the last uncordon, want within settle + 30s", res.ToAllApplied)
	}
	for _, ev := range res.RolloutDips {
		t.Errorf("during the rollout %s had %d ready of %d desired", ev.Object, ev.ReadyReplicas, ev.Replicas)
	}
	if _, ok := res.Recorder.First(recorder.NodeNotReady); !ok {
		t.Error("no node was seen NotReady: the reboots were not simulated")
	}
}
