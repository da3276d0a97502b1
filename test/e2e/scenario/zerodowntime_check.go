package scenario

import (
	"fmt"
	"time"

	"github.com/fluxgate/fluxgate/test/e2e/recorder"
)

// Problems lists every promise of scenario 1 the run broke; none when it
// held. The bounds are the product's promises, not performance figures:
// the guard pauses within its debounce (plus 5 s), Flux applies nothing
// while nodes are under maintenance, no app falls below its PDB floor,
// the guard waits out the settle period, the new revision is applied
// within 30 s of it, and the rollout never has fewer ready replicas than
// desired (maxUnavailable 0).
func (r *ZeroDowntimeResult) Problems(o ZeroDowntimeOptions) []string {
	var out []string
	if r.ToAllPaused == 0 || r.ToAllPaused > o.Debounce+5*time.Second {
		out = append(out, fmt.Sprintf("every Kustomization paused %s after the first cordon, want within debounce + 5s (%s)", r.ToAllPaused, o.Debounce+5*time.Second))
	}
	for _, ev := range r.AppliedDuringMaintenance {
		out = append(out, fmt.Sprintf("Flux applied during the maintenance: %s at %s", ev.Describe(), ev.At.Format(time.RFC3339Nano)))
	}
	for _, app := range r.Apps {
		if app.BelowFloor() {
			out = append(out, fmt.Sprintf("%s fell below its PDB floor %d: %+v", app.Deployment, app.Floor, app.Breaches))
		}
		if app.FullyReadyAt.IsZero() {
			out = append(out, fmt.Sprintf("%s never seen fully ready", app.Deployment))
		}
	}
	if want := o.Teams * o.AppsPerTeam; len(r.Apps) != want {
		out = append(out, fmt.Sprintf("the summary covers %d apps, want %d", len(r.Apps), want))
	}
	// The last uncordon is timed here, after the API answered; the guard
	// starts its settle period when its watch sees it, a moment later or,
	// by clock skew between the two reads, a moment earlier.
	if r.ToAllResumed < o.Settle-250*time.Millisecond {
		out = append(out, fmt.Sprintf("resumed %s after the last uncordon, before the settle period %s", r.ToAllResumed, o.Settle))
	}
	if r.ToAllApplied == 0 || r.ToAllApplied > o.Settle+30*time.Second {
		out = append(out, fmt.Sprintf("new revision applied %s after the last uncordon, want within settle + 30s", r.ToAllApplied))
	}
	for _, ev := range r.RolloutDips {
		out = append(out, fmt.Sprintf("during the rollout %s had %d ready of %d desired", ev.Object, ev.ReadyReplicas, ev.Replicas))
	}
	if _, ok := r.Recorder.First(recorder.NodeNotReady); !ok {
		out = append(out, "no node was seen NotReady: the reboots were not simulated")
	}
	return out
}
