package recorder

import (
	"sort"
	"time"
)

// AppSummary is what the timeline says about one Deployment's
// availability.
type AppSummary struct {
	// Deployment is "namespace/name".
	Deployment string
	// Desired is the last spec.replicas seen.
	Desired int32
	// PDB is the "namespace/name" of the PodDisruptionBudget setting
	// Floor, "" when none selects the Deployment.
	PDB string
	// Floor is the ready replicas PDB keeps for Desired.
	Floor int32
	// FullyReadyAt is when ready replicas first reached desired; zero if
	// never. Nothing before it counts below.
	FullyReadyAt time.Time
	// MinReady is the fewest ready replicas seen from FullyReadyAt on,
	// and MinReadyAt the first time it was seen; -1 if never fully ready.
	MinReady   int32
	MinReadyAt time.Time
	// MinRatio is the lowest ready/desired seen from FullyReadyAt on (1
	// when never below).
	MinRatio float64
	// Breaches are the intervals with ready replicas below the floor
	// that the PDB sets for the desired replicas of the moment.
	Breaches []Breach
}

// Breach is an interval during which a Deployment had fewer ready
// replicas than its PDB's floor.
type Breach struct {
	From time.Time
	// To is when it ended; zero if it had not by the last event.
	To time.Time
	// Ready and Floor are from the interval's worst moment.
	Ready, Floor int32
}

// BelowFloor reports whether the Deployment ever went below its floor.
func (a AppSummary) BelowFloor() bool { return len(a.Breaches) > 0 }

// Summary returns one AppSummary per Deployment currently known, sorted
// by name. Floors come from the PDBs as last seen.
func (r *Recorder) Summary() []AppSummary {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := make([]AppSummary, 0, len(r.deps))
	for key, d := range r.deps {
		out = append(out, summarize(key, r.events, r.budgetFor(d)))
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Deployment < out[j].Deployment })
	return out
}

// summarize replays one Deployment's events.
func summarize(key string, events []Event, floorFor budget) AppSummary {
	s := AppSummary{Deployment: key, MinReady: -1, MinRatio: 1}
	var open *Breach
	for _, e := range events {
		if e.Object != key {
			continue
		}
		switch e.Kind {
		case DeploymentSeen, DeploymentReady:
		case DeploymentDeleted:
			// A Deployment deleted and made again starts over.
			s = AppSummary{Deployment: key, MinReady: -1, MinRatio: 1}
			open = nil
			continue
		default:
			continue
		}
		s.Desired = e.Replicas
		if s.FullyReadyAt.IsZero() {
			if e.ReadyReplicas < e.Replicas {
				continue
			}
			s.FullyReadyAt = e.At
		}
		if s.MinReady < 0 || e.ReadyReplicas < s.MinReady {
			s.MinReady, s.MinReadyAt = e.ReadyReplicas, e.At
		}
		if e.Replicas > 0 {
			s.MinRatio = min(s.MinRatio, float64(e.ReadyReplicas)/float64(e.Replicas))
		}
		floor, _ := floorFor(e.Replicas)
		switch {
		case e.ReadyReplicas < floor && open == nil:
			s.Breaches = append(s.Breaches, Breach{From: e.At, Ready: e.ReadyReplicas, Floor: floor})
			open = &s.Breaches[len(s.Breaches)-1]
		case e.ReadyReplicas < floor:
			if floor-e.ReadyReplicas > open.Floor-open.Ready {
				open.Ready, open.Floor = e.ReadyReplicas, floor
			}
		case open != nil:
			open.To = e.At
			open = nil
		}
	}
	s.Floor, s.PDB = floorFor(s.Desired)
	return s
}
