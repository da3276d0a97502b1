package recorder

import (
	"fmt"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/equality"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// The observe* methods compare an object with its last observed state
// and append an event per change; r.mu is held.

func (r *Recorder) observeNode(at time.Time, n *corev1.Node) {
	now := NodeState{Cordoned: n.Spec.Unschedulable, Ready: nodeReady(n)}
	ev := Event{At: at, Object: n.Name, Cordoned: now.Cordoned, NodeReady: now.Ready}
	before, seen := r.nodes[n.Name]
	r.nodes[n.Name] = now
	if !seen {
		ev.Kind = NodeSeen
		r.add(ev)
		return
	}
	if before.Cordoned != now.Cordoned {
		ev.Kind = NodeUncordoned
		if now.Cordoned {
			ev.Kind = NodeCordoned
		}
		r.add(ev)
	}
	if before.Ready != now.Ready {
		ev.Kind = NodeNotReady
		if now.Ready {
			ev.Kind = NodeReady
		}
		r.add(ev)
	}
}

func nodeReady(n *corev1.Node) bool {
	for _, c := range n.Status.Conditions {
		if c.Type == corev1.NodeReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

func (r *Recorder) observeDeployment(at time.Time, d *appsv1.Deployment) {
	key := d.Namespace + "/" + d.Name
	desired := int32(1)
	if d.Spec.Replicas != nil {
		desired = *d.Spec.Replicas
	}
	now := DeploymentState{Ready: d.Status.ReadyReplicas, Desired: desired}
	before, seen := r.deps[key]
	r.deps[key] = deployment{DeploymentState: now, namespace: d.Namespace, pods: labels.Set(d.Spec.Template.Labels)}
	ev := Event{At: at, Object: key, ReadyReplicas: now.Ready, Replicas: now.Desired}
	switch {
	case !seen:
		ev.Kind = DeploymentSeen
	case before.DeploymentState != now:
		ev.Kind = DeploymentReady
	default:
		return
	}
	r.add(ev)
}

func (r *Recorder) observePDB(at time.Time, p *policyv1.PodDisruptionBudget) {
	key := p.Namespace + "/" + p.Name
	before, seen := r.pdbs[key]
	r.pdbs[key] = p.DeepCopy()
	if seen && equality.Semantic.DeepEqual(before.Spec, p.Spec) {
		return
	}
	r.add(Event{At: at, Kind: PDBSeen, Object: key, Budget: budgetOf(p)})
}

// budgetOf renders a PDB's constraint: "minAvailable 3", "maxUnavailable 25%".
func budgetOf(p *policyv1.PodDisruptionBudget) string {
	switch {
	case p.Spec.MinAvailable != nil:
		return "minAvailable " + p.Spec.MinAvailable.String()
	case p.Spec.MaxUnavailable != nil:
		return "maxUnavailable " + p.Spec.MaxUnavailable.String()
	}
	return "no constraint"
}

func (r *Recorder) observeKustomization(at time.Time, k *kustomizev1.Kustomization) {
	key := k.Namespace + "/" + k.Name
	now := KustomizationState{Suspended: k.Spec.Suspend, Revision: k.Status.LastAppliedRevision}
	before, seen := r.ks[key]
	r.ks[key] = now
	ev := Event{At: at, Object: key, Suspended: now.Suspended, Revision: now.Revision}
	if !seen {
		ev.Kind = KustomizationSeen
		r.add(ev)
		return
	}
	if before.Suspended != now.Suspended {
		ev.Kind = KustomizationResumed
		if now.Suspended {
			ev.Kind = KustomizationSuspended
		}
		r.add(ev)
	}
	if before.Revision != now.Revision {
		ev.Kind = KustomizationApplied
		r.add(ev)
	}
}

// asKustomization accepts a typed or an unstructured Kustomization.
func asKustomization(obj any) (*kustomizev1.Kustomization, bool) {
	switch o := obj.(type) {
	case *kustomizev1.Kustomization:
		return o, true
	case *unstructured.Unstructured:
		if o.GroupVersionKind().GroupKind() != kustomizev1.GroupVersion.WithKind(kustomizev1.KustomizationKind).GroupKind() {
			return nil, false
		}
		k := &kustomizev1.Kustomization{}
		if err := runtime.DefaultUnstructuredConverter.FromUnstructured(o.Object, k); err != nil {
			// A Kustomization the API server accepted always converts;
			// record the oddity rather than lose it silently.
			k.Name, k.Namespace = o.GetName(), o.GetNamespace()
			k.Status.LastAppliedRevision = fmt.Sprintf("<unreadable: %v>", err)
		}
		return k, true
	}
	return nil, false
}
