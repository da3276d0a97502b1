package recorder

import (
	"slices"
	"time"
)

// NodeState is a node's state as recorded.
type NodeState struct {
	Cordoned bool // spec.unschedulable
	Ready    bool // the Ready condition is True
}

// DeploymentState is a Deployment's state as recorded.
type DeploymentState struct {
	Ready   int32 // status.readyReplicas
	Desired int32 // spec.replicas
}

// KustomizationState is a Kustomization's state as recorded.
type KustomizationState struct {
	Suspended bool   // spec.suspend
	Revision  string // status.lastAppliedRevision
}

// State is what the timeline says about every object at one instant,
// keyed like Event.Object.
type State struct {
	Nodes          map[string]NodeState
	Deployments    map[string]DeploymentState
	Kustomizations map[string]KustomizationState
}

func newState() State {
	return State{
		Nodes:          map[string]NodeState{},
		Deployments:    map[string]DeploymentState{},
		Kustomizations: map[string]KustomizationState{},
	}
}

// apply moves the state past one event.
func (s State) apply(e Event) {
	switch e.Kind {
	case NodeSeen, NodeCordoned, NodeUncordoned, NodeNotReady, NodeReady:
		s.Nodes[e.Object] = NodeState{Cordoned: e.Cordoned, Ready: e.NodeReady}
	case NodeDeleted:
		delete(s.Nodes, e.Object)
	case DeploymentSeen, DeploymentReady:
		s.Deployments[e.Object] = DeploymentState{Ready: e.ReadyReplicas, Desired: e.Replicas}
	case DeploymentDeleted:
		delete(s.Deployments, e.Object)
	case KustomizationSeen, KustomizationSuspended, KustomizationResumed, KustomizationApplied:
		s.Kustomizations[e.Object] = KustomizationState{Suspended: e.Suspended, Revision: e.Revision}
	case KustomizationDeleted:
		delete(s.Kustomizations, e.Object)
	}
}

// StateAt replays the timeline up to and including the instant t.
func (r *Recorder) StateAt(t time.Time) State {
	s := newState()
	for _, e := range r.Timeline() {
		if e.At.After(t) {
			break
		}
		s.apply(e)
	}
	return s
}

// Current returns the state after every event recorded so far.
func (r *Recorder) Current() State {
	s := newState()
	for _, e := range r.Timeline() {
		s.apply(e)
	}
	return s
}

// TimeUntil returns how long after from the timeline first satisfied
// cond: 0 if it did at from, false if it never did. Events sharing one
// timestamp are applied together before cond is asked.
func (r *Recorder) TimeUntil(from time.Time, cond func(State) bool) (time.Duration, bool) {
	events := r.Timeline()
	s := newState()
	i := 0
	for ; i < len(events) && !events[i].At.After(from); i++ {
		s.apply(events[i])
	}
	if cond(s) {
		return 0, true
	}
	for i < len(events) {
		at := events[i].At
		for ; i < len(events) && events[i].At.Equal(at); i++ {
			s.apply(events[i])
		}
		if cond(s) {
			return at.Sub(from), true
		}
	}
	return 0, false
}

// AllKustomizations reports whether every targeted Kustomization (see
// Options.Kustomizations) is in the state and satisfies ok; false when
// there is none.
func (r *Recorder) AllKustomizations(s State, ok func(KustomizationState) bool) bool {
	targets := r.targets(s)
	if len(targets) == 0 {
		return false
	}
	for _, key := range targets {
		k, found := s.Kustomizations[key]
		if !found || !ok(k) {
			return false
		}
	}
	return true
}

// TimeToAllSuspended returns how long after from every targeted
// Kustomization was suspended (false: never).
func (r *Recorder) TimeToAllSuspended(from time.Time) (time.Duration, bool) {
	return r.TimeUntil(from, func(s State) bool {
		return r.AllKustomizations(s, func(k KustomizationState) bool { return k.Suspended })
	})
}

// TimeToAllResumed returns how long after from every targeted
// Kustomization was no longer suspended (false: never).
func (r *Recorder) TimeToAllResumed(from time.Time) (time.Duration, bool) {
	return r.TimeUntil(from, func(s State) bool {
		return r.AllKustomizations(s, func(k KustomizationState) bool { return !k.Suspended })
	})
}

// TimeToAllApplied returns how long after from every targeted
// Kustomization had applied revision (false: never).
func (r *Recorder) TimeToAllApplied(from time.Time, revision string) (time.Duration, bool) {
	return r.TimeUntil(from, func(s State) bool {
		return r.AllKustomizations(s, func(k KustomizationState) bool { return k.Revision == revision })
	})
}

// AppliedBetween returns the KustomizationApplied events of targeted
// Kustomizations with from < At <= to: a maintenance window is respected
// when it is empty.
func (r *Recorder) AppliedBetween(from, to time.Time) []Event {
	var out []Event
	for _, e := range r.Timeline() {
		if e.Kind != KustomizationApplied || !e.At.After(from) || e.At.After(to) || !r.targeted(e.Object) {
			continue
		}
		out = append(out, e)
	}
	return out
}

func (r *Recorder) targeted(key string) bool {
	return len(r.opts.Kustomizations) == 0 || slices.Contains(r.opts.Kustomizations, key)
}

// First returns the earliest event of a kind.
func (r *Recorder) First(kind Kind) (Event, bool) {
	for _, e := range r.Timeline() {
		if e.Kind == kind {
			return e, true
		}
	}
	return Event{}, false
}

// Last returns the latest event of a kind.
func (r *Recorder) Last(kind Kind) (Event, bool) {
	events := r.Timeline()
	for i := len(events) - 1; i >= 0; i-- {
		if events[i].Kind == kind {
			return events[i], true
		}
	}
	return Event{}, false
}
