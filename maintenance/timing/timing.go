// Package timing decides, from the signals and the clock alone, what a
// maintenance guard does next: wait out the debounce, pause, hold, wait
// out the settle period, resume. It is pure so that every edge (a brief
// cordon, a signal that returns while settling, a pause that outlives
// maxPause) is tested without a cluster or a real clock.
package timing

import "time"

// Phase is where a guard stands.
type Phase string

// The phases, in the order a maintenance goes through them.
const (
	Idle       Phase = "Idle"       // no signal
	Debouncing Phase = "Debouncing" // a signal, not yet for the debounce period
	Paused     Phase = "Paused"     // targets paused while signals last
	Settling   Phase = "Settling"   // signals cleared, waiting out the settle period
	Expired    Phase = "Expired"    // paused past maxPause and resumed by configuration; waits for the signals to clear
)

// Action is what the guard does to its targets in this step.
type Action string

// The actions.
const (
	None   Action = ""
	Pause  Action = "Pause"  // pause every target not yet paused (idempotent)
	Resume Action = "Resume" // resume every target the guard holds
)

// Timing is a guard's configuration.
type Timing struct {
	Debounce, Settle, MaxPause time.Duration
	// ResumeAfterMaxPause resumes the targets once a pause has lasted
	// MaxPause although signals remain; otherwise the guard only warns.
	ResumeAfterMaxPause bool
}

// State is what the guard remembers between steps (in its status).
type State struct {
	Phase Phase
	// SignalSince is when the signals were first seen in this episode.
	SignalSince time.Time
	// PausedSince is when the targets were paused.
	PausedSince time.Time
	// ClearSince is when the signals last cleared.
	ClearSince time.Time
}

// Decision is the outcome of one step.
type Decision struct {
	Next   State
	Action Action
	// MaxPauseExceeded is true while a pause has lasted longer than MaxPause.
	MaxPauseExceeded bool
	// RequeueAfter is when the state changes by time alone; 0 for never.
	RequeueAfter time.Duration
}

// Step returns what to do at now, given whether any signal is active.
func Step(t Timing, s State, active bool, now time.Time) Decision {
	d := Decision{Next: s}
	switch {
	case active && (s.Phase == Idle || s.Phase == ""):
		d.Next = State{Phase: Debouncing, SignalSince: now}
		return debounce(t, d, now)
	case active && s.Phase == Debouncing:
		return debounce(t, d, now)
	case active && (s.Phase == Paused || s.Phase == Settling):
		d.Next.Phase, d.Next.ClearSince = Paused, time.Time{}
		d.Action = Pause
		return holdLimit(t, d, now)
	case active && s.Phase == Expired:
		return d
	case !active && (s.Phase == Debouncing || s.Phase == Expired):
		d.Next = State{Phase: Idle}
		return d
	case !active && s.Phase == Paused:
		d.Next.Phase, d.Next.ClearSince = Settling, now
		return settle(t, d, now)
	case !active && s.Phase == Settling:
		return settle(t, d, now)
	default: // !active && Idle
		d.Next = State{Phase: Idle}
		return d
	}
}

func debounce(t Timing, d Decision, now time.Time) Decision {
	if wait := d.Next.SignalSince.Add(t.Debounce).Sub(now); wait > 0 {
		d.RequeueAfter = wait
		return d
	}
	d.Next.Phase, d.Next.PausedSince = Paused, now
	d.Action = Pause
	return holdLimit(t, d, now)
}

// holdLimit applies maxPause to a held pause.
func holdLimit(t Timing, d Decision, now time.Time) Decision {
	if t.MaxPause <= 0 {
		return d
	}
	left := d.Next.PausedSince.Add(t.MaxPause).Sub(now)
	if left > 0 {
		d.RequeueAfter = left
		return d
	}
	d.MaxPauseExceeded = true
	if t.ResumeAfterMaxPause {
		d.Next.Phase = Expired
		d.Action = Resume
	}
	return d
}

func settle(t Timing, d Decision, now time.Time) Decision {
	if wait := d.Next.ClearSince.Add(t.Settle).Sub(now); wait > 0 {
		d.RequeueAfter = wait
		return holdLimitSettling(t, d, now)
	}
	d.Next = State{Phase: Idle}
	d.Action = Resume
	return d
}

// holdLimitSettling reports maxPause while settling without acting on it:
// the resume is minutes away anyway.
func holdLimitSettling(t Timing, d Decision, now time.Time) Decision {
	if t.MaxPause > 0 && !now.Before(d.Next.PausedSince.Add(t.MaxPause)) {
		d.MaxPauseExceeded = true
	}
	return d
}
