package pause

import (
	"context"
	"encoding/json"
	"fmt"
	"slices"
	"strings"
	"time"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Pauser writes pauses and resumes for one guard.
type Pauser struct {
	Client client.Client
	// Guard is the name of the guard; FieldManager the manager its writes
	// are recorded under. It must not start with "kubectl" or equal a Flux
	// controller's name, or Flux's applies would take the field back.
	Guard        string
	FieldManager string
}

// Outcome says what one call did to one object.
type Outcome string

// The outcomes of Pause, Resume and Release.
const (
	Paused    Outcome = "Paused"    // suspended now, by this guard
	Joined    Outcome = "Joined"    // already held by other guards; this one joined
	Repaused  Outcome = "Repaused"  // a parent's apply had reverted the pause
	Resumed   Outcome = "Resumed"   // un-suspended, with an immediate reconcile requested
	Released  Outcome = "Released"  // this guard let go; others still hold it
	LeftAlone Outcome = "LeftAlone" // a person suspended or resumed it: not ours to change
	Unchanged Outcome = "Unchanged" // already as wanted
)

// Pause makes the guard hold obj: suspended, annotated with the guard,
// and shielded from parent applies. Objects a person suspended are left
// exactly as they are.
func (p *Pauser) Pause(ctx context.Context, obj *unstructured.Unstructured, reason string, now time.Time) (Outcome, error) {
	switch Classify(obj, p.Guard) {
	case Held, Releasing:
		return Unchanged, nil
	case HumanSuspended, HumanResumed:
		return LeftAlone, nil
	case HeldByOthers:
		return Joined, p.patch(ctx, obj, func(u *unstructured.Unstructured) {
			setAnnotation(u, PausedByAnnotation, strings.Join(append(Holders(u), p.Guard), ","))
		})
	case Reverted:
		return Repaused, p.patch(ctx, obj, func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
			p.shield(u)
		})
	default: // Free
		return Paused, p.patch(ctx, obj, func(u *unstructured.Unstructured) {
			_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
			holders := append(Holders(u), p.Guard)
			slices.Sort(holders)
			setAnnotation(u, PausedByAnnotation, strings.Join(slices.Compact(holders), ","))
			setAnnotation(u, PausedAtAnnotation, now.UTC().Format(time.RFC3339))
			setAnnotation(u, PauseReasonAnnotation, truncate(reason, 256))
			p.shield(u)
		})
	}
}

// Resume lets go of obj. When no other guard holds it, it is un-suspended
// with an immediate reconcile requested and every trace of the pause
// removed, in one write. Objects a person changed during the pause are
// left as that person left them.
func (p *Pauser) Resume(ctx context.Context, obj *unstructured.Unstructured, now time.Time) (Outcome, error) {
	state := Classify(obj, p.Guard)
	holders := Holders(obj)
	if !slices.Contains(holders, p.Guard) {
		return Unchanged, nil
	}
	others := slices.DeleteFunc(slices.Clone(holders), func(g string) bool { return g == p.Guard })
	switch {
	case state == HumanResumed && len(others) == 0:
		// A person resumed it: drop the guard's traces, change nothing else.
		return LeftAlone, p.patch(ctx, obj, func(u *unstructured.Unstructured) { clearTraces(u) })
	case len(others) > 0:
		return Released, p.patch(ctx, obj, func(u *unstructured.Unstructured) {
			setAnnotation(u, PausedByAnnotation, strings.Join(others, ","))
		})
	}
	return Resumed, p.patch(ctx, obj, func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, false, "spec", "suspend")
		clearTraces(u)
		setAnnotation(u, RequestedAtAnnotation, now.UTC().Format(time.RFC3339Nano))
	})
}

// StartRelease lets a held object through for one reconcile: un-suspended,
// with the reconcile request token, which the guard also records in
// fluxgate.dev/reconcile-once-at to recognise Flux's answer. It stays held.
func (p *Pauser) StartRelease(ctx context.Context, obj *unstructured.Unstructured, token string) error {
	return p.patch(ctx, obj, func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, false, "spec", "suspend")
		setAnnotation(u, RequestedAtAnnotation, token)
		setAnnotation(u, ReconcileOnceAtAnnotation, token)
	})
}

// FinishRelease suspends a released object again and removes the request
// for it and the guard's record.
func (p *Pauser) FinishRelease(ctx context.Context, obj *unstructured.Unstructured) error {
	return p.patch(ctx, obj, func(u *unstructured.Unstructured) {
		_ = unstructured.SetNestedField(u.Object, true, "spec", "suspend")
		a := u.GetAnnotations()
		delete(a, ReconcileOnceAnnotation)
		delete(a, ReconcileOnceAtAnnotation)
		u.SetAnnotations(a)
	})
}

// shield stops a parent Kustomization from applying (and reverting) the
// object while it is paused, remembering that the guard set the switch so
// that resume removes only what the guard added.
func (p *Pauser) shield(u *unstructured.Unstructured) {
	if u.GetAnnotations()[FluxReconcileAnnotation] == FluxReconcileDisabled {
		return
	}
	setAnnotation(u, FluxReconcileAnnotation, FluxReconcileDisabled)
	setAnnotation(u, ReconcileDisabledAnnotation, "true")
}

func clearTraces(u *unstructured.Unstructured) {
	a := u.GetAnnotations()
	if a[ReconcileDisabledAnnotation] == "true" {
		delete(a, FluxReconcileAnnotation)
	}
	for _, k := range []string{PausedByAnnotation, PausedAtAnnotation, PauseReasonAnnotation, ReconcileDisabledAnnotation, ReconcileOnceAnnotation, ReconcileOnceAtAnnotation} {
		delete(a, k)
	}
	u.SetAnnotations(a)
}

// patch writes the change mutate makes as one merge patch, under
// optimistic locking: a concurrent writer (a person, Flux, another guard)
// makes it fail with a conflict, and the caller's next reconcile decides
// again on fresh state. On success obj's map is replaced by the object the
// API server returned (never edited: obj may be shared with a cache).
//
// A pause touches only spec.suspend and metadata.annotations, so mutate
// gets a stand-in holding just those two, and the patch is built from
// what it changed there. Deep-copying the whole object (status,
// managedFields) and diffing two encodings of it to find the same two
// fields cost more of the guard's time than the rest of the write.
func (p *Pauser) patch(ctx context.Context, obj *unstructured.Unstructured, mutate func(*unstructured.Unstructured)) error {
	stand := &unstructured.Unstructured{Object: map[string]any{}}
	stand.SetAnnotations(obj.GetAnnotations())
	if suspend, ok, _ := unstructured.NestedBool(obj.Object, "spec", "suspend"); ok {
		_ = unstructured.SetNestedField(stand.Object, suspend, "spec", "suspend")
	}
	mutate(stand)

	body, err := mergePatch(obj, stand)
	if err != nil {
		return fmt.Errorf("patch %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	out := &unstructured.Unstructured{}
	out.SetGroupVersionKind(obj.GroupVersionKind())
	out.SetNamespace(obj.GetNamespace())
	out.SetName(obj.GetName())
	err = p.Client.Patch(ctx, out, client.RawPatch(types.MergePatchType, body), client.FieldOwner(p.FieldManager))
	if err != nil {
		if apierrors.IsConflict(err) {
			return fmt.Errorf("%s %s/%s changed while the guard wrote it: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
		}
		return fmt.Errorf("patch %s %s/%s: %w", obj.GetKind(), obj.GetNamespace(), obj.GetName(), err)
	}
	obj.Object = out.Object
	return nil
}

// mergePatch is the JSON merge patch from obj to what the stand-in of a
// pause holds (its annotations and spec.suspend), with the resourceVersion
// obj was read at for optimistic locking.
func mergePatch(obj, stand *unstructured.Unstructured) ([]byte, error) {
	before, after := obj.GetAnnotations(), stand.GetAnnotations()
	changed := map[string]any{}
	for k, v := range after {
		if old, ok := before[k]; !ok || old != v {
			changed[k] = v
		}
	}
	for k := range before {
		if _, ok := after[k]; !ok {
			changed[k] = nil
		}
	}
	meta := map[string]any{"resourceVersion": obj.GetResourceVersion()}
	if len(changed) > 0 {
		meta["annotations"] = changed
	}
	patch := map[string]any{"metadata": meta}
	was, had, _ := unstructured.NestedBool(obj.Object, "spec", "suspend")
	if now, ok, _ := unstructured.NestedBool(stand.Object, "spec", "suspend"); ok && (!had || now != was) {
		patch["spec"] = map[string]any{"suspend": now}
	}
	return json.Marshal(patch)
}

func setAnnotation(u *unstructured.Unstructured, key, value string) {
	a := u.GetAnnotations()
	if a == nil {
		a = map[string]string{}
	}
	a[key] = value
	u.SetAnnotations(a)
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
