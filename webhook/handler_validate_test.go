package webhook

import (
	"context"
	"fmt"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/client-go/tools/reference"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// wantEvent describes one expected Event.
type wantEvent struct {
	reason string
	target corev1.ObjectReference
	note   string   // prefix
	and    []string // further substrings of the note, in order
}

func namespaceRef(ns string) corev1.ObjectReference {
	return corev1.ObjectReference{APIVersion: "v1", Kind: "Namespace", Name: ns, Namespace: ns}
}

// webRef is the reference to webDeployment, which carries a UID and a
// resourceVersion: CREATE requests of it too (the API server sets the UID
// before validating webhooks run; the resourceVersion is the fixture's).
var webRef = corev1.ObjectReference{
	APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web",
	UID: "0b5c8a52-3d7e-4a53-9d33-3c9f7f1c2a11", ResourceVersion: "4711",
}

func TestValidator(t *testing.T) {
	web := func() map[string]any { return obj(t, webDeployment) }
	budget := func() map[string]any { return obj(t, webBudget) }
	inNamespace := func(ns string) map[string]any { return set(web(), "metadata.namespace", ns) }
	unsafe := func() map[string]any { return set(web(), "spec.strategy.rollingUpdate.maxUnavailable", 2) }
	exempt := func(reason string) map[string]any {
		o := unsafe()
		annotations := map[string]any{policy.ExemptAnnotation: "rollout-strategy"}
		if reason != "" {
			annotations[policy.ExemptReasonAnnotation] = reason
		}
		set(o, "metadata.annotations", annotations)
		return o
	}
	blockingBudget := set(budget(), "spec", map[string]any{
		"minAvailable":               2,
		"unhealthyPodEvictionPolicy": "AlwaysAllow",
		"selector":                   map[string]any{"matchLabels": map[string]any{"app": "web"}},
	})
	set(blockingBudget, "metadata.name", "web-blocking")
	allBudget := set(clone(t, blockingBudget), "spec.minAvailable", 3)
	set(allBudget, "metadata.name", "web-all")

	tests := []struct {
		name    string
		active  *policy.Active
		related RelatedSource
		timeout time.Duration
		req     admission.Request

		validation
	}{
		{
			name: "compliant deployment",
			req:  request(t, admissionv1.Create, web(), nil),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"no policy denies it"},
				evaluated: true,
			},
		},
		{
			name: "maxUnavailable 2 is denied",
			req:  request(t, admissionv1.Create, unsafe(), nil),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"rollout-strategy: Deployment shop/web: spec.strategy.rollingUpdate.maxUnavailable is 2; set it to 0"},
				events:    []wantEvent{{EventReasonDenied, webRef, "rollout-strategy: Deployment shop/web: spec.strategy.rollingUpdate.maxUnavailable is 2", nil}},
				evaluated: true,
			},
		},
		{
			name: "container without readiness probe behind a Service is denied",
			req: request(t, admissionv1.Create, set(web(), "spec.template.spec.containers", []any{
				map[string]any{"name": "web", "image": "nginx:1.27.3", "lifecycle": map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": 5}}}},
			}), nil),
			related: &fakeRelated{objs: []map[string]any{budget(), {
				"apiVersion": "v1", "kind": "Service",
				"metadata": map[string]any{"name": "web", "namespace": "shop"},
				"spec":     map[string]any{"selector": map[string]any{"app": "web"}, "ports": []any{map[string]any{"port": 80}}},
			}}},
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{`readiness-probe: Deployment shop/web: container "web" (spec.template.spec.containers[0]) has no readinessProbe`},
				events:    []wantEvent{{EventReasonDenied, webRef, "readiness-probe: ", nil}},
				evaluated: true,
			},
		},
		{
			name:    "budget with minAvailable 100% is denied",
			req:     request(t, admissionv1.Create, set(budget(), "spec", map[string]any{"minAvailable": "100%", "unhealthyPodEvictionPolicy": "AlwaysAllow", "selector": map[string]any{"matchLabels": map[string]any{"app": "web"}}}), nil),
			related: &fakeRelated{objs: []map[string]any{obj(t, webDeployment)}},
			validation: validation{
				allowed: false,
				code:    http.StatusForbidden,
				message: []string{"pdb-drain-safe: PodDisruptionBudget shop/web: spec.minAvailable is 100%, so no pod may ever be evicted"},
				events: []wantEvent{{EventReasonDenied, corev1.ObjectReference{
					APIVersion: "policy/v1", Kind: "PodDisruptionBudget", Namespace: "shop", Name: "web",
				}, "pdb-drain-safe: ", nil}},
				evaluated: true,
			},
		},
		{
			name:    "scale-down under an existing budget is denied naming the budget",
			req:     request(t, admissionv1.Update, set(web(), "spec.replicas", 2), web()),
			related: &fakeRelated{objs: []map[string]any{blockingBudget}},
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking (spec.minAvailable: 2) allows no disruption"},
				events:    []wantEvent{{EventReasonDenied, webRef, "pdb-drain-safe: ", nil}},
				evaluated: true,
			},
		},
		{
			name: "warning on create is recorded on the new object",
			req:  request(t, admissionv1.Create, set(web(), "spec.replicas", 1), nil),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"admitted with warnings"},
				warnings:  []string{"replicas-ha: Deployment shop/web: spec.replicas is 1"},
				events:    []wantEvent{{EventReasonWarning, webRef, "replicas-ha: Deployment shop/web: spec.replicas is 1", nil}},
				evaluated: true,
			},
		},
		{
			name: "two warnings of one request are one Event listing both",
			req: request(t, admissionv1.Create, set(set(web(), "spec.replicas", 1), "metadata.annotations",
				map[string]any{policy.ExemptAnnotation: "rollout-strategy"}), nil),
			validation: validation{
				allowed:  true,
				code:     200,
				warnings: []string{"fluxgate: annotation fluxgate.dev/exempt is ignored", "replicas-ha: Deployment shop/web: spec.replicas is 1"},
				events: []wantEvent{{EventReasonWarning, webRef, "fluxgate: annotation fluxgate.dev/exempt is ignored",
					[]string{noteSeparator + "replicas-ha: Deployment shop/web: spec.replicas is 1"}}},
				evaluated: true,
			},
		},
		{
			name:    "two denials of one request are one Event listing both",
			req:     request(t, admissionv1.Create, set(web(), "spec.strategy", map[string]any{"type": "Recreate"}), nil),
			related: &fakeRelated{objs: []map[string]any{allBudget}},
			validation: validation{
				allowed: false,
				code:    http.StatusForbidden,
				message: []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-all", "\nrollout-strategy: Deployment shop/web: spec.strategy.type is Recreate"},
				events: []wantEvent{{EventReasonDenied, webRef, "pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-all",
					[]string{noteSeparator + "rollout-strategy: Deployment shop/web: spec.strategy.type is Recreate"}}},
				evaluated: true,
			},
		},
		{
			name: "warning on update is recorded on the object",
			req:  request(t, admissionv1.Update, set(web(), "spec.replicas", 1), web()),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"replicas-ha: Deployment shop/web: spec.replicas is 1"},
				events:    []wantEvent{{EventReasonWarning, webRef, "replicas-ha: ", nil}},
				evaluated: true,
			},
		},
		{
			name: "dry run answers the same and records no event",
			req:  request(t, admissionv1.Update, set(web(), "spec.replicas", 1), web(), dryRun),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"replicas-ha: Deployment shop/web: spec.replicas is 1"},
				evaluated: true,
			},
		},
		{
			name: "dry run denial records no event",
			req:  request(t, admissionv1.Create, unsafe(), nil, dryRun),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"rollout-strategy: "},
				evaluated: true,
			},
		},
		{
			name: "fluxgate's own namespace is not evaluated",
			req:  request(t, admissionv1.Create, set(unsafe(), "metadata.namespace", ownNamespace), nil),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"namespace fluxgate-system is fluxgate's own"},
			},
		},
		{
			name: "kube-system is not evaluated",
			req:  request(t, admissionv1.Create, set(unsafe(), "metadata.namespace", "kube-system"), nil),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"namespace kube-system is always exempt"},
			},
		},
		{
			name:   "configured exempt namespace is allowed before anything is read or evaluated",
			active: exemptActive(t),
			req:    request(t, admissionv1.Create, set(unsafe(), "metadata.namespace", "legacy-batch"), nil),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"namespace legacy-batch is exempt"},
				evaluated: false,
			},
		},
		{
			name: "exemption annotation with a reason is honoured",
			req:  request(t, admissionv1.Create, exempt("holds a node-local lock"), nil),
			validation: validation{
				allowed:   true,
				code:      200,
				evaluated: true,
			},
		},
		{
			name: "exemption annotation without a reason is not honoured",
			req:  request(t, admissionv1.Create, exempt(""), nil),
			validation: validation{
				allowed:  false,
				code:     http.StatusForbidden,
				message:  []string{"rollout-strategy: "},
				warnings: []string{"fluxgate: annotation fluxgate.dev/exempt is ignored"},
				events: []wantEvent{
					{EventReasonDenied, webRef, "rollout-strategy: ", nil},
					{EventReasonWarning, webRef, "fluxgate: annotation fluxgate.dev/exempt is ignored", nil},
				},
				evaluated: true,
			},
		},
		{
			name: "fluxgate's own service account is never denied",
			req:  request(t, admissionv1.Create, unsafe(), nil, asUser(ownUser)),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"fluxgate's own service account is never denied"},
				warnings:  []string{"rollout-strategy: Deployment shop/web: spec.strategy.rollingUpdate.maxUnavailable is 2"},
				events:    []wantEvent{{EventReasonWarning, webRef, "rollout-strategy: ", nil}},
				evaluated: true,
			},
		},
		{
			name: "a kind no policy covers is allowed",
			req:  request(t, admissionv1.Create, obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}, data: {a: b}}"), nil),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"no enabled policy applies to ConfigMap"},
			},
		},
		{
			name: "an object that is not a JSON object is a bad request",
			req:  request(t, admissionv1.Create, web(), nil, rawObject(`["not", "an", "object"]`)),
			validation: validation{
				allowed:   false,
				code:      http.StatusBadRequest,
				message:   []string{"decode object of Deployment shop/web"},
				errReason: ReasonDecode,
			},
		},
		{
			name: "a truncated object is a bad request",
			req:  request(t, admissionv1.Create, web(), nil, rawObject(`{"metadata": {"name": `)),
			validation: validation{
				allowed:   false,
				code:      http.StatusBadRequest,
				message:   []string{"decode object of Deployment shop/web"},
				errReason: ReasonDecode,
			},
		},
		{
			name: "a malformed old object is a bad request",
			req: request(t, admissionv1.Update, web(), web(), func(r *admission.Request) {
				r.OldObject.Raw = []byte(`{"a": 1} {"b": 2}`)
			}),
			validation: validation{
				allowed:   false,
				code:      http.StatusBadRequest,
				message:   []string{"decode oldObject of Deployment shop/web: unexpected data after the object"},
				errReason: ReasonDecode,
			},
		},
		{
			name:   "no policy set loaded yet is 503",
			active: &policy.Active{},
			req:    request(t, admissionv1.Create, web(), nil),
			validation: validation{
				allowed:   false,
				code:      http.StatusServiceUnavailable,
				message:   []string{"fluxgate cannot judge Deployment shop/web: no policy set loaded yet"},
				errReason: ReasonNotLoaded,
			},
		},
		{
			name:   "no policy set loaded yet never denies fluxgate itself",
			active: &policy.Active{},
			req:    request(t, admissionv1.Create, web(), nil, asUser(ownUser)),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"fluxgate cannot judge Deployment shop/web: no policy set loaded yet"},
				errReason: ReasonNotLoaded,
			},
		},
		{
			name:    "an evaluation that times out fails closed",
			active:  slowActive(t),
			timeout: 100 * time.Millisecond,
			req:     request(t, admissionv1.Create, web(), nil),
			validation: validation{
				allowed:   false,
				code:      http.StatusInternalServerError,
				message:   []string{"fluxgate could not evaluate Deployment shop/web: evaluation timed out after 100ms"},
				evaluated: true,
				errReason: ReasonTimeout,
			},
		},
		{
			name:    "an evaluation that times out never denies fluxgate itself",
			active:  slowActive(t),
			timeout: 100 * time.Millisecond,
			req:     request(t, admissionv1.Create, web(), nil, asUser(ownUser)),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"fluxgate could not evaluate Deployment shop/web: evaluation timed out after 100ms"},
				evaluated: true,
				errReason: ReasonTimeout,
			},
		},
		{
			name:    "unreadable related objects are evaluated without them",
			related: &fakeRelated{err: errCacheDown},
			req:     request(t, admissionv1.Create, web(), nil),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"pdb-coverage: Deployment shop/web: 3 expected pods but no PodDisruptionBudget selects pods labelled"},
				events:    []wantEvent{{EventReasonWarning, webRef, "pdb-coverage: ", nil}},
				evaluated: true,
				errReason: ReasonRelated,
			},
		},
		{
			name: "deleting a deployment is allowed",
			req:  request(t, admissionv1.Delete, nil, unsafe()),
			validation: validation{
				allowed:   true,
				code:      200,
				evaluated: true,
			},
		},
		{
			name: "cluster-scoped create records no event",
			req:  request(t, admissionv1.Create, set(unsafe(), "metadata.namespace", ""), nil),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"rollout-strategy: Deployment web"},
				warnings:  []string{"pdb-coverage: Deployment web"},
				evaluated: true,
			},
		},
		{
			name: "an object of another namespace gets its Event there",
			req:  request(t, admissionv1.Create, set(inNamespace("blog"), "spec.strategy.rollingUpdate.maxUnavailable", "50%"), nil),
			validation: validation{
				allowed: false,
				code:    http.StatusForbidden,
				message: []string{"rollout-strategy: Deployment blog/web: spec.strategy.rollingUpdate.maxUnavailable is 50%"},
				events: []wantEvent{{EventReasonDenied, func() corev1.ObjectReference {
					r := webRef
					r.Namespace = "blog"
					return r
				}(), "rollout-strategy: ", nil}},
				evaluated: true,
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			active := tc.active
			if active == nil {
				active = builtinActive(t)
			}
			related := tc.related
			if related == nil {
				related = &fakeRelated{objs: []map[string]any{obj(t, webBudget)}}
			}
			rec := &fakeRecorder{}
			m := newTestMetrics(t)
			v := NewValidator(Options{
				Policies: active, Related: related, Events: rec, Metrics: m,
				Namespace: ownNamespace, ServiceAccount: ownUser, EvalTimeout: tc.timeout,
			})
			resp := v.Handle(context.Background(), tc.req)
			checkValidation(t, resp, rec, m, tc.validation)
			outcome := "deny"
			if tc.allowed {
				outcome = "allow"
			}
			if got := testutil.ToFloat64(m.decisions.WithLabelValues(ValidateName, "", outcome, string(tc.req.Operation))); got != 1 {
				t.Errorf("decisions{action=%q} = %v, want 1", outcome, got)
			}
		})
	}
}

func checkWarnings(t *testing.T, got, want []string) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("warnings = %q, want %d starting with %q", got, len(want), want)
		return
	}
	for i := range want {
		if !strings.HasPrefix(got[i], want[i]) {
			t.Errorf("warning %d = %q, want prefix %q", i, got[i], want[i])
		}
	}
}

func checkEvents(t *testing.T, got []event, want []wantEvent) {
	t.Helper()
	if len(got) != len(want) {
		t.Errorf("%d events, want %d: %+v", len(got), len(want), got)
		return
	}
	for i, w := range want {
		e := got[i]
		ref, ok := e.Regarding.(*corev1.ObjectReference)
		if !ok {
			t.Errorf("event %d regards a %T, want *ObjectReference", i, e.Regarding)
			continue
		}
		if *ref != w.target {
			t.Errorf("event %d regards %+v, want %+v", i, *ref, w.target)
		}
		if e.Type != corev1.EventTypeWarning || e.Reason != w.reason || e.Action != EventAction {
			t.Errorf("event %d is %s/%s/%s, want Warning/%s/%s", i, e.Type, e.Reason, e.Action, w.reason, EventAction)
		}
		if !strings.HasPrefix(e.Note, w.note) {
			t.Errorf("event %d note = %q, want prefix %q", i, e.Note, w.note)
		}
		rest := e.Note[min(len(w.note), len(e.Note)):]
		for _, s := range w.and {
			j := strings.Index(rest, s)
			if j < 0 {
				t.Errorf("event %d note = %q, want %q after %q", i, e.Note, s, w.note)
				break
			}
			rest = rest[j+len(s):]
		}
		if len(e.Note) > maxNoteBytes {
			t.Errorf("event %d note of %d bytes", i, len(e.Note))
		}
		if e.Related != nil {
			t.Errorf("event %d has related %v", i, e.Related)
		}
	}
}

// TestEventTarget checks what Events regard, and that client-go's events
// recorder accepts it.
func TestEventTarget(t *testing.T) {
	web := obj(t, webDeployment)
	created := del(clone(t, web), "metadata.resourceVersion")
	createdRef := webRef
	createdRef.ResourceVersion = ""
	unnamed := del(del(clone(t, web), "metadata.name"), "metadata.namespace")
	shopRef := namespaceRef("shop")
	for _, tc := range []struct {
		name string
		req  policy.Request
		want *corev1.ObjectReference
	}{
		{"create regards the new object with the UID the API server gave it",
			policy.Request{Operation: policy.OperationCreate, Kind: deploymentGVK, Namespace: "shop", Name: "web", Object: created}, &createdRef},
		{"update regards the stored object",
			policy.Request{Operation: policy.OperationUpdate, Kind: deploymentGVK, Namespace: "shop", Name: "web", Object: set(clone(t, web), "metadata.resourceVersion", "4712"), OldObject: web}, &webRef},
		{"delete regards the stored object",
			policy.Request{Operation: policy.OperationDelete, Kind: deploymentGVK, Namespace: "shop", Name: "web", OldObject: web}, &webRef},
		{"the request names what the object does not",
			policy.Request{Operation: policy.OperationCreate, Kind: deploymentGVK, Namespace: "shop", Name: "web", Object: unnamed},
			&corev1.ObjectReference{APIVersion: "apps/v1", Kind: "Deployment", Namespace: "shop", Name: "web", UID: webRef.UID, ResourceVersion: "4711"}},
		{"an object fluxgate cannot name regards its namespace",
			policy.Request{Operation: policy.OperationCreate, Kind: deploymentGVK, Namespace: "shop", Object: unnamed}, &shopRef},
		{"cluster-scoped create gets no event",
			policy.Request{Operation: policy.OperationCreate, Kind: deploymentGVK, Name: "web", Object: set(clone(t, web), "metadata.namespace", "")}, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got := eventTarget(&tc.req)
			if (got == nil) != (tc.want == nil) || (got != nil && *got != *tc.want) {
				t.Fatalf("target = %+v, want %+v", got, tc.want)
			}
			if got != nil {
				// client-go's events recorder takes the reference as is.
				ref, err := reference.GetReference(nil, got)
				if err != nil || *ref != *got {
					t.Fatalf("GetReference = %+v, %v", ref, err)
				}
			}
		})
	}
}

var deploymentGVK = policy.GroupVersionKind{Group: "apps", Version: "v1", Kind: "Deployment"}

// TestEventNote checks that one Event's note lists every finding it can
// and says how many it left out, within the API's limit.
func TestEventNote(t *testing.T) {
	long := func(c string, n int) string { return strings.Repeat(c, n) }
	tests := []struct {
		name  string
		msgs  []string
		limit int
		want  string
	}{
		{"one finding as is", []string{"replicas-ha: Deployment shop/web: spec.replicas is 1"}, 1024,
			"replicas-ha: Deployment shop/web: spec.replicas is 1"},
		{"all that fit, in order", []string{"a: one", "b: two", "c: three"}, 1024, "a: one | b: two | c: three"},
		{"exactly the limit", []string{"a: one", "b: two"}, len("a: one | b: two"), "a: one | b: two"},
		{"the rest counted", []string{"a: one", "b: two", "c: three"}, 24, "a: one | and 2 more"},
		{"the last one counted", []string{"a: one", "b: two", "c: three, and longer"}, 28, "a: one | b: two | and 1 more"},
		{"a first finding over the limit is cut", []string{long("x", 50)}, 20, long("x", 17) + "…"},
		{"a first finding over the limit is cut, the rest counted", []string{long("x", 50), "b: two"}, 30,
			long("x", 30-len(" | and 1 more")-len("…")) + "… | and 1 more"},
		{"control characters become spaces", []string{"a: one\ntwo"}, 1024, "a: one two"},
		{"multi-byte runes are never split", []string{long("é", 20)}, 11, long("é", 4) + "…"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			got := eventNote(tc.msgs, tc.limit)
			if got != tc.want {
				t.Errorf("note = %q, want %q", got, tc.want)
			}
			if len(got) > tc.limit || !utf8.ValidString(got) {
				t.Errorf("note of %d bytes (limit %d), valid UTF-8 %v", len(got), tc.limit, utf8.ValidString(got))
			}
		})
	}
	// Many long findings: the note stays within the API's limit and
	// counts the ones it left out.
	var many []string
	for i := range 40 {
		many = append(many, fmt.Sprintf("policy-%d: %s", i, long("y", 100)))
	}
	got := eventNote(many, maxNoteBytes)
	if len(got) > maxNoteBytes || !strings.HasPrefix(got, "policy-0: ") || !regexp.MustCompile(` \| and \d+ more$`).MatchString(got) {
		t.Errorf("note of %d bytes: %q", len(got), got)
	}
	shown := strings.Count(got, "policy-")
	if want := fmt.Sprintf("and %d more", 40-shown); !strings.HasSuffix(got, want) {
		t.Errorf("%d findings shown, note ends %q, want %q", shown, got[len(got)-20:], want)
	}
}

func TestValidatorTruncatesWarnings(t *testing.T) {
	var msgs []string
	for i := range 40 {
		msgs = append(msgs, strings.Repeat("x", 2000)+"\nline two "+string(rune('a'+i%26)))
	}
	got := warnings(msgs)
	if len(got) != maxWarnings {
		t.Fatalf("%d warnings, want %d", len(got), maxWarnings)
	}
	for _, w := range got[:maxWarnings-1] {
		if n := len([]rune(w)); n > maxWarningRunes {
			t.Errorf("warning of %d runes", n)
		}
		if strings.ContainsAny(w, "\n\r\t") {
			t.Errorf("warning with control characters: %q", w)
		}
	}
	if want := "fluxgate: 29 more findings not shown"; got[maxWarnings-1] != want {
		t.Errorf("last warning = %q, want %q", got[maxWarnings-1], want)
	}
	if got := truncateBytes(strings.Repeat("é", 1000), maxNoteBytes); len(got) > maxNoteBytes || !strings.HasSuffix(got, "…") {
		t.Errorf("note of %d bytes: %q", len(got), got[len(got)-10:])
	}
}

// A request seen before is answered from the decision cache by its bytes,
// without decoding the object; its Events still name the object, decoded
// for them.
func TestRepeatedRequestFromTheCache(t *testing.T) {
	web := obj(t, webDeployment)
	req := request(t, admissionv1.Create, set(clone(t, web), "spec.strategy.rollingUpdate.maxUnavailable", "50%"), nil)
	active := cachedActive(t, "repeated", policy.BuiltinModules, nil) // a cache of its own
	rec := &fakeRecorder{}
	v := NewValidator(Options{
		Policies: active, Related: &fakeRelated{objs: []map[string]any{obj(t, webBudget)}}, Events: rec,
		Metrics: newTestMetrics(t), Namespace: ownNamespace, ServiceAccount: ownUser,
	})
	hits0, misses0 := active.Engine().CacheStats()
	for i := range 2 {
		resp := v.Handle(context.Background(), req)
		if resp.Allowed || !strings.Contains(resp.Result.Message, "maxUnavailable is 50%") {
			t.Fatalf("request %d: %+v", i, resp.Result)
		}
	}
	if hits, misses := active.Engine().CacheStats(); hits-hits0 != 1 || misses-misses0 != 1 {
		t.Errorf("cache hits %d, misses %d; want 1, 1", hits-hits0, misses-misses0)
	}
	events := rec.recorded()
	if len(events) != 2 {
		t.Fatalf("%d events, want one per request: %+v", len(events), events)
	}
	for _, e := range events {
		if ref, ok := e.Regarding.(*corev1.ObjectReference); !ok || *ref != webRef {
			t.Errorf("event regards %+v, want %+v", e.Regarding, webRef)
		}
	}
}
