package e2e_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// Scenario 1 at full size: 10 nodes, 20 apps with 2-10 replicas and a PDB
// each, one Kustomization per team; every node drained, rebooted and
// uncordoned in turn, a new revision pushed half-way.
func TestZeroDowntimeMaintenance(t *testing.T) {
	e := requireEnv(t)
	story := &strings.Builder{}
	opts := scenario.ZeroDowntimeOptions{
		Teams: 4, AppsPerTeam: 5, Debounce: 2 * time.Second, Settle: 10 * time.Second, Reboot: 3 * time.Second, Narrate: story,
	}
	res, err := scenario.ZeroDowntime(context.Background(), e, opts)
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

	for _, p := range res.Problems(opts) {
		t.Error(p)
	}
}
