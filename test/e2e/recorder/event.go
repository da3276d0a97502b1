package recorder

import (
	"fmt"
	"strings"
	"time"
)

// Kind names what an Event records.
type Kind string

// The kinds of events. A "seen" event records an object's state when the
// recorder first sees it; the others record a change.
const (
	NodeSeen       Kind = "node seen"
	NodeCordoned   Kind = "node cordoned"
	NodeUncordoned Kind = "node uncordoned"
	NodeNotReady   Kind = "node NotReady"
	NodeReady      Kind = "node Ready"
	NodeDeleted    Kind = "node deleted"

	DeploymentSeen    Kind = "deployment seen"
	DeploymentReady   Kind = "deployment ready replicas"
	DeploymentDeleted Kind = "deployment deleted"

	PDBSeen    Kind = "pdb seen"
	PDBDeleted Kind = "pdb deleted"

	KustomizationSeen      Kind = "kustomization seen"
	KustomizationSuspended Kind = "kustomization suspended"
	KustomizationResumed   Kind = "kustomization resumed"
	KustomizationApplied   Kind = "kustomization applied"
	KustomizationDeleted   Kind = "kustomization deleted"
)

// Event is one entry of the timeline. The state fields hold the object's
// state after the event; only those of the object's kind are set.
type Event struct {
	// At is when the recorder saw the change.
	At time.Time
	// Kind is what happened.
	Kind Kind
	// Object is the node's name, or the object's "namespace/name".
	Object string

	// Cordoned and NodeReady describe a node.
	Cordoned, NodeReady bool

	// ReadyReplicas and Replicas (spec.replicas) describe a Deployment.
	ReadyReplicas, Replicas int32

	// Suspended and Revision (status.lastAppliedRevision) describe a
	// Kustomization.
	Suspended bool
	Revision  string

	// Budget describes a PodDisruptionBudget: "minAvailable 3" or
	// "maxUnavailable 25%".
	Budget string
}

// Describe renders what happened, without the time: "node-2 cordoned",
// "apps/web ready 3/4".
func (e Event) Describe() string {
	switch e.Kind {
	case NodeSeen:
		return fmt.Sprintf("node %s seen: %s, %s", e.Object, readiness(e.NodeReady), schedulability(e.Cordoned))
	case NodeCordoned:
		return fmt.Sprintf("node %s cordoned", e.Object)
	case NodeUncordoned:
		return fmt.Sprintf("node %s uncordoned", e.Object)
	case NodeNotReady, NodeReady:
		return fmt.Sprintf("node %s %s", e.Object, readiness(e.NodeReady))
	case DeploymentSeen, DeploymentReady:
		verb := "ready"
		if e.Kind == DeploymentSeen {
			verb = "seen: ready"
		}
		return fmt.Sprintf("deployment %s %s %d/%d", e.Object, verb, e.ReadyReplicas, e.Replicas)
	case PDBSeen:
		return fmt.Sprintf("pdb %s %s", e.Object, e.Budget)
	case KustomizationSeen:
		state := "active"
		if e.Suspended {
			state = "suspended"
		}
		return fmt.Sprintf("kustomization %s seen: %s, applied %q", e.Object, state, e.Revision)
	case KustomizationSuspended:
		return fmt.Sprintf("kustomization %s suspended", e.Object)
	case KustomizationResumed:
		return fmt.Sprintf("kustomization %s resumed", e.Object)
	case KustomizationApplied:
		return fmt.Sprintf("kustomization %s applied %s", e.Object, e.Revision)
	case NodeDeleted, DeploymentDeleted, PDBDeleted, KustomizationDeleted:
		return fmt.Sprintf("%s %s deleted", strings.TrimSuffix(string(e.Kind), " deleted"), e.Object)
	}
	return fmt.Sprintf("%s %s", e.Kind, e.Object)
}

func readiness(ready bool) string {
	if ready {
		return "Ready"
	}
	return "NotReady"
}

func schedulability(cordoned bool) string {
	if cordoned {
		return "cordoned"
	}
	return "schedulable"
}
