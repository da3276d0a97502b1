package timing

import (
	"testing"
	"time"
)

var (
	t0 = time.Date(2026, 11, 21, 20, 0, 0, 0, time.UTC)
	cf = Timing{Debounce: 30 * time.Second, Settle: 5 * time.Minute, MaxPause: 4 * time.Hour}
)

func at(d time.Duration) time.Time { return t0.Add(d) }

func TestStep(t *testing.T) {
	tests := []struct {
		name    string
		timing  Timing
		state   State
		active  bool
		now     time.Time
		want    Phase
		action  Action
		requeue time.Duration
		exceed  bool
	}{
		{name: "idle stays idle", state: State{Phase: Idle}, now: t0, want: Idle},
		{name: "first signal debounces", state: State{Phase: Idle}, active: true, now: t0, want: Debouncing, requeue: 30 * time.Second},
		{name: "still debouncing", state: State{Phase: Debouncing, SignalSince: t0}, active: true, now: at(10 * time.Second), want: Debouncing, requeue: 20 * time.Second},
		{name: "brief cordon does not pause", state: State{Phase: Debouncing, SignalSince: t0}, now: at(10 * time.Second), want: Idle},
		{name: "debounce over: pause", state: State{Phase: Debouncing, SignalSince: t0}, active: true, now: at(30 * time.Second), want: Paused, action: Pause, requeue: 4 * time.Hour},
		{name: "no debounce pauses at once", timing: Timing{Settle: time.Minute}, state: State{}, active: true, now: t0, want: Paused, action: Pause},
		{name: "held pause re-checks targets", state: State{Phase: Paused, PausedSince: t0}, active: true, now: at(time.Hour), want: Paused, action: Pause, requeue: 3 * time.Hour},
		{name: "signals clear: settle", state: State{Phase: Paused, PausedSince: t0}, now: at(time.Hour), want: Settling, requeue: 5 * time.Minute},
		{name: "still settling", state: State{Phase: Settling, PausedSince: t0, ClearSince: at(time.Hour)}, now: at(time.Hour + time.Minute), want: Settling, requeue: 4 * time.Minute},
		{name: "signal returns while settling", state: State{Phase: Settling, PausedSince: t0, ClearSince: at(time.Hour)}, active: true, now: at(time.Hour + time.Minute), want: Paused, action: Pause, requeue: 3*time.Hour - time.Minute},
		{name: "settled: resume", state: State{Phase: Settling, PausedSince: t0, ClearSince: at(time.Hour)}, now: at(time.Hour + 5*time.Minute), want: Idle, action: Resume},
		{name: "max pause warns and holds", state: State{Phase: Paused, PausedSince: t0}, active: true, now: at(5 * time.Hour), want: Paused, action: Pause, exceed: true},
		{name: "max pause resumes when configured", timing: Timing{MaxPause: time.Hour, ResumeAfterMaxPause: true}, state: State{Phase: Paused, PausedSince: t0}, active: true, now: at(time.Hour), want: Expired, action: Resume, exceed: true},
		{name: "expired waits for signals to clear", timing: Timing{MaxPause: time.Hour, ResumeAfterMaxPause: true}, state: State{Phase: Expired, PausedSince: t0}, active: true, now: at(2 * time.Hour), want: Expired},
		{name: "expired clears to idle", state: State{Phase: Expired, PausedSince: t0}, now: at(2 * time.Hour), want: Idle},
		{name: "max pause reported while settling", state: State{Phase: Settling, PausedSince: t0, ClearSince: at(5 * time.Hour)}, now: at(5*time.Hour + time.Minute), want: Settling, requeue: 4 * time.Minute, exceed: true},
		{name: "unknown phase after an upgrade starts over", state: State{Phase: "Resuming"}, now: t0, want: Idle},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			timing := tt.timing
			if timing == (Timing{}) {
				timing = cf
			}
			d := Step(timing, tt.state, tt.active, tt.now)
			if d.Next.Phase != tt.want || d.Action != tt.action || d.RequeueAfter != tt.requeue || d.MaxPauseExceeded != tt.exceed {
				t.Fatalf("Step = phase %s action %q requeue %s exceeded %v; want %s %q %s %v",
					d.Next.Phase, d.Action, d.RequeueAfter, d.MaxPauseExceeded, tt.want, tt.action, tt.requeue, tt.exceed)
			}
		})
	}
}

// TestStepKeepsTimestamps walks one whole maintenance and checks what the
// guard remembers on the way.
func TestStepKeepsTimestamps(t *testing.T) {
	s := State{Phase: Idle}
	s = Step(cf, s, true, t0).Next
	if !s.SignalSince.Equal(t0) {
		t.Fatalf("signal since = %v", s.SignalSince)
	}
	s = Step(cf, s, true, at(time.Minute)).Next
	if s.Phase != Paused || !s.PausedSince.Equal(at(time.Minute)) {
		t.Fatalf("after debounce: %+v", s)
	}
	s = Step(cf, s, false, at(time.Hour)).Next
	if s.Phase != Settling || !s.ClearSince.Equal(at(time.Hour)) || !s.PausedSince.Equal(at(time.Minute)) {
		t.Fatalf("settling: %+v", s)
	}
	d := Step(cf, s, false, at(time.Hour+5*time.Minute))
	if d.Action != Resume || d.Next != (State{Phase: Idle}) {
		t.Fatalf("resume: %+v", d)
	}
}
