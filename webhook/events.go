package webhook

import (
	"fmt"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// The reasons and the action of the Events the validator records. Flux
// shows only its Kustomization's message, so Events are how the owners of
// a workload learn about warnings (and, outside dry runs, denials).
const (
	EventReasonWarning = "PolicyWarning"
	EventReasonDenied  = "PolicyDenied"
	EventAction        = "Admission"
)

// noteSeparator joins the findings of one Event's note. Notes stay on one
// line, so `kubectl get events` keeps one row per Event.
const noteSeparator = " | "

// recordEvents records the deny and warn findings of a real (not dry-run)
// request as Warning Events on the object under review: one Event per
// reason, PolicyDenied with every deny finding and PolicyWarning with
// every warning, each note listing all of them.
//
// One Event per reason, rather than one per finding, is what keeps every
// finding visible: client-go's events broadcaster (tools/events) folds an
// Event whose type, action, reason, reporting controller and instance,
// regarding and related objects equal those of an Event it recorded in
// the last six minutes into that Event's series, and the folded Event's
// note is never stored. Two findings of one request, recorded apart,
// would be one Event with only the first note. Regarding the object
// itself, with its UID (and, once it exists, its resourceVersion), keeps
// the Events of different workloads, and of successive versions of one,
// apart.
//
// Dry runs record nothing: the webhooks declare sideEffects: None, and
// Flux dry-runs every object on every interval. denies and warns are the
// decision's messages (Decision.Messages); the caller passes the deny
// messages among the warnings when the request was admitted in spite of
// them (fluxgate's own service account).
//
// The object is decoded only here, when an Event is recorded: a decision
// from the cache did not need it.
func (h *handler) recordEvents(req *admission.Request, src inputSource, denies, warns []string) {
	if h.o.Events == nil || (req.DryRun != nil && *req.DryRun) || len(denies)+len(warns) == 0 {
		return
	}
	in, err := src.Decoded()
	if err != nil {
		// It decoded for the decision it was given, or was cached by its
		// bytes after decoding once; a failure now is a bug to log.
		h.o.Log.Error(err, "no Event recorded: the object no longer decodes", "webhook", h.name, "uid", req.UID)
		return
	}
	target := eventTarget(&in.Request)
	if target == nil {
		return
	}
	for _, e := range []struct {
		reason string
		msgs   []string
	}{{EventReasonDenied, denies}, {EventReasonWarning, warns}} {
		if len(e.msgs) > 0 {
			h.o.Events.Eventf(target, nil, corev1.EventTypeWarning, e.reason, EventAction, "%s", eventNote(e.msgs, maxNoteBytes))
		}
	}
}

// inputSource gives the engine's input of a request, decoding its
// objects if they are not yet; *policy.RawInput is one, decodedInput
// another.
type inputSource interface {
	Decoded() (*policy.Input, error)
}

// decodedInput is an input built already decoded (a scale request).
type decodedInput struct{ in *policy.Input }

// Decoded returns the input.
func (d decodedInput) Decoded() (*policy.Input, error) { return d.in, nil }

// eventNote joins msgs into one printable line of at most limit bytes.
// When they do not all fit, the note ends with how many were left out
// ("| and 3 more"); a first message longer than the limit is cut, with an
// ellipsis.
func eventNote(msgs []string, limit int) string {
	more := func(n int) string {
		if n == 0 {
			return ""
		}
		return fmt.Sprintf("%sand %d more", noteSeparator, n)
	}
	clean := make([]string, len(msgs))
	for i, m := range msgs {
		clean[i] = printable(m)
	}
	if all := strings.Join(clean, noteSeparator); len(all) <= limit {
		return all
	}
	var b strings.Builder
	for i, m := range clean {
		sep := ""
		if i > 0 {
			sep = noteSeparator
		}
		// Room is kept after every message for the tail that would name
		// the messages after it, so stopping later always fits.
		tail := more(len(clean) - i - 1)
		if b.Len()+len(sep)+len(m)+len(tail) <= limit {
			b.WriteString(sep)
			b.WriteString(m)
			continue
		}
		if i == 0 {
			b.WriteString(truncateBytes(m, limit-len(tail)))
			b.WriteString(tail)
		} else {
			b.WriteString(more(len(clean) - i))
		}
		break
	}
	return b.String()
}

// eventTarget is what Events about a request are recorded on: the object
// under review. For CREATE that is the new object, which the API server
// has named and given its UID before validating webhooks run, so the
// reference names the object that will exist (and `kubectl describe` and
// `kubectl events --for` find the Event); for UPDATE and DELETE it is the
// stored object, with its UID and resourceVersion. When the object names
// no name (a request fluxgate cannot place), the Event regards the
// request's Namespace instead; a cluster-scoped object gets no Event, as
// an Event needs a namespace.
func eventTarget(r *policy.Request) *corev1.ObjectReference {
	obj := r.OldObject
	if r.Operation == policy.OperationCreate || obj == nil {
		obj = r.Object
	}
	meta, _ := obj["metadata"].(map[string]any)
	ref := &corev1.ObjectReference{
		APIVersion: schema.GroupVersion{Group: r.Kind.Group, Version: r.Kind.Version}.String(),
		Kind:       r.Kind.Kind,
		Namespace:  r.Namespace,
		Name:       r.Name,
	}
	if s, _ := obj["apiVersion"].(string); s != "" {
		ref.APIVersion = s
	}
	if s, _ := obj["kind"].(string); s != "" {
		ref.Kind = s
	}
	if s, _ := meta["namespace"].(string); s != "" {
		ref.Namespace = s
	}
	if s, _ := meta["name"].(string); s != "" {
		ref.Name = s
	}
	if s, _ := meta["uid"].(string); s != "" {
		ref.UID = types.UID(s)
	}
	if s, _ := meta["resourceVersion"].(string); s != "" {
		ref.ResourceVersion = s
	}
	if ref.Name != "" && ref.Kind != "" && ref.Namespace != "" {
		return ref
	}
	if r.Namespace == "" {
		return nil
	}
	return &corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: r.Namespace, Namespace: r.Namespace}
}
