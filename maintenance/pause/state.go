package pause

import (
	"encoding/json"
	"slices"
	"sort"
	"strings"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
)

// The annotations a guard writes on the objects it pauses.
// The keys are the MaintenanceGuard API's; they are repeated here so that
// callers of this package need only one import.
const (
	PausedByAnnotation          = v1alpha1.PausedByAnnotation
	PausedAtAnnotation          = v1alpha1.PausedAtAnnotation
	PauseReasonAnnotation       = v1alpha1.PauseReasonAnnotation
	ReconcileOnceAnnotation     = v1alpha1.ReconcileOnceAnnotation
	ReconcileOnceAtAnnotation   = v1alpha1.ReconcileOnceAtAnnotation
	ReconcileDisabledAnnotation = "fluxgate.dev/reconcile-disabled"
)

// Flux's annotations: the parent-apply switch and the reconcile request.
const (
	FluxReconcileAnnotation = "kustomize.toolkit.fluxcd.io/reconcile"
	FluxReconcileDisabled   = "disabled"
	RequestedAtAnnotation   = "reconcile.fluxcd.io/requestedAt"
)

// The Flux kinds a guard pauses.
var (
	Kustomization = schema.GroupVersionKind{Group: "kustomize.toolkit.fluxcd.io", Version: "v1", Kind: "Kustomization"}
	HelmRelease   = schema.GroupVersionKind{Group: "helm.toolkit.fluxcd.io", Version: "v2", Kind: "HelmRelease"}
)

// fluxManagers are the field managers of Flux's own applies: a suspend
// they wrote is a parent Kustomization (or a HelmRelease's chart)
// reconciling the pause away, not a person.
var fluxManagers = []string{"kustomize-controller", "helm-controller"}

// State is where an object stands with respect to one guard.
type State int

const (
	// Free: not suspended, held by no guard. The guard may pause it.
	Free State = iota
	// Held: suspended and held by this guard.
	Held
	// HeldByOthers: suspended and held by other guards only. The guard
	// joins them.
	HeldByOthers
	// HumanSuspended: suspended by someone who is not a guard (or whose
	// guard annotation a person removed). Never touched.
	HumanSuspended
	// Reverted: held by this guard but un-suspended by Flux applying a
	// parent's manifest. The guard suspends it again and reports it.
	Reverted
	// HumanResumed: held by guards but un-suspended by a person. Left as
	// the person left it; the guard lets go.
	HumanResumed
	// Releasing: held by this guard, which un-suspended it itself for one
	// reconcile (fluxgate.dev/reconcile-once). Pause leaves it as it is;
	// Resume resumes it as any held object.
	Releasing
)

var stateNames = [...]string{"Free", "Held", "HeldByOthers", "HumanSuspended", "Reverted", "HumanResumed", "Releasing"}

func (s State) String() string { return stateNames[s] }

// Classify tells where obj stands for the guard named guard.
func Classify(obj *unstructured.Unstructured, guard string) State {
	suspended, _, _ := unstructured.NestedBool(obj.Object, "spec", "suspend")
	holders := Holders(obj)
	switch {
	case len(holders) == 0 && suspended:
		return HumanSuspended
	case len(holders) == 0:
		return Free
	case suspended && slices.Contains(holders, guard):
		return Held
	case suspended:
		return HeldByOthers
	case slices.Contains(holders, guard) && obj.GetAnnotations()[ReconcileOnceAtAnnotation] != "":
		return Releasing
	case suspendOwnedByFlux(obj):
		if slices.Contains(holders, guard) {
			return Reverted
		}
		// Another guard's pause, reverted: that guard restores it; for this
		// one the object is free to pause too.
		return Free
	default:
		return HumanResumed
	}
}

// Holders returns the guards holding obj, sorted.
func Holders(obj *unstructured.Unstructured) []string {
	raw := obj.GetAnnotations()[PausedByAnnotation]
	var out []string
	for _, g := range strings.Split(raw, ",") {
		if g = strings.TrimSpace(g); g != "" && !slices.Contains(out, g) {
			out = append(out, g)
		}
	}
	sort.Strings(out)
	return out
}

// suspendOwnedByFlux reports whether the last writer of spec.suspend was
// one of Flux's own controllers, from the object's managed fields.
func suspendOwnedByFlux(obj *unstructured.Unstructured) bool {
	for _, mf := range obj.GetManagedFields() {
		if !slices.Contains(fluxManagers, mf.Manager) || mf.FieldsV1 == nil {
			continue
		}
		if ownsSuspend(mf) {
			return true
		}
	}
	return false
}

func ownsSuspend(mf metav1.ManagedFieldsEntry) bool {
	var fields map[string]map[string]any
	if err := json.Unmarshal(mf.FieldsV1.GetRawBytes(), &fields); err != nil {
		return false
	}
	_, owns := fields["f:spec"]["f:suspend"]
	return owns
}

// Settled reports whether Flux has no reconcile in flight for obj: a
// suspend does not stop a run that already started, so an object only
// counts as paused once its Reconciling condition is not True.
func Settled(obj *unstructured.Unstructured) bool {
	conds, _, _ := unstructured.NestedSlice(obj.Object, "status", "conditions")
	for _, c := range conds {
		m, _ := c.(map[string]any)
		if m["type"] == "Reconciling" && m["status"] == "True" {
			return false
		}
	}
	return true
}
