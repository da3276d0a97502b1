package webhook

import (
	"context"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	jsonpatch "github.com/evanphx/json-patch/v5"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

func TestMutator(t *testing.T) {
	web := func() map[string]any { return obj(t, webDeployment) }
	noStrategy := func() map[string]any { return del(web(), "spec.strategy") }
	defaulted := func() map[string]any {
		return set(web(), "spec.strategy.rollingUpdate.maxUnavailable", "25%")
	}

	tests := []struct {
		name    string
		active  *policy.Active
		timeout time.Duration
		req     admission.Request

		allowed   bool
		code      int32
		patch     string // JSON; empty means no patch
		message   string // substring of Result.Message
		warnings  []string
		evaluated bool
		errReason string
	}{
		{
			name:      "deployment without strategy gets maxSurge 25% and maxUnavailable 0",
			req:       request(t, admissionv1.Create, noStrategy(), nil),
			allowed:   true,
			code:      200,
			evaluated: true,
			patch:     `[{"op":"add","path":"/spec/strategy","value":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}}}]`,
		},
		{
			name:      "the API server's default maxUnavailable 25% is replaced",
			req:       request(t, admissionv1.Update, defaulted(), web()),
			allowed:   true,
			code:      200,
			evaluated: true,
			patch:     `[{"op":"replace","path":"/spec/strategy/rollingUpdate/maxUnavailable","value":0}]`,
		},
		{
			name:      "dry runs are mutated the same",
			req:       request(t, admissionv1.Create, noStrategy(), nil, dryRun),
			allowed:   true,
			code:      200,
			evaluated: true,
			patch:     `[{"op":"add","path":"/spec/strategy","value":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}}}]`,
		},
		{
			name:      "a compliant deployment is not patched",
			req:       request(t, admissionv1.Create, web(), nil),
			allowed:   true,
			code:      200,
			evaluated: true,
			message:   "no policy patches it",
		},
		{
			name:      "maxUnavailable 2 is left for the validator",
			req:       request(t, admissionv1.Create, set(web(), "spec.strategy.rollingUpdate.maxUnavailable", 2), nil),
			allowed:   true,
			code:      200,
			evaluated: true,
		},
		{
			name: "exempt objects are not patched",
			req: request(t, admissionv1.Create, set(noStrategy(), "metadata.annotations", map[string]any{
				policy.ExemptAnnotation: "rollout-strategy", policy.ExemptReasonAnnotation: "surges itself",
			}), nil),
			allowed:   true,
			code:      200,
			evaluated: true,
		},
		{
			name:    "DELETE is not mutated",
			req:     request(t, admissionv1.Delete, nil, noStrategy()),
			allowed: true,
			code:    200,
			message: "DELETE requests are not mutated",
		},
		{
			name:    "a scale is not mutated",
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			allowed: true,
			code:    200,
			message: "the scale subresource is not mutated",
		},
		{
			name:    "fluxgate's own namespace is not mutated",
			req:     request(t, admissionv1.Create, set(noStrategy(), "metadata.namespace", ownNamespace), nil),
			allowed: true,
			code:    200,
			message: "namespace fluxgate-system is fluxgate's own",
		},
		{
			name:    "kube-system is not mutated",
			req:     request(t, admissionv1.Create, set(noStrategy(), "metadata.namespace", "kube-system"), nil),
			allowed: true,
			code:    200,
			message: "namespace kube-system is always exempt",
		},
		{
			name:      "configured exempt namespace is allowed before anything is read or evaluated",
			active:    exemptActive(t),
			req:       request(t, admissionv1.Create, set(noStrategy(), "metadata.namespace", "legacy-batch"), nil),
			allowed:   true,
			code:      200,
			evaluated: false,
			message:   "namespace legacy-batch is exempt",
		},
		{
			name:    "a kind no policy covers is allowed",
			req:     request(t, admissionv1.Create, obj(t, "{apiVersion: v1, kind: ConfigMap, metadata: {name: c, namespace: shop}}"), nil),
			allowed: true,
			code:    200,
			message: "no enabled policy applies to ConfigMap",
		},
		{
			name:      "an object that is not a JSON object is a bad request",
			req:       request(t, admissionv1.Create, web(), nil, rawObject(`"web"`)),
			allowed:   false,
			code:      http.StatusBadRequest,
			message:   "decode object of Deployment shop/web",
			errReason: ReasonDecode,
		},
		{
			name:      "no policy set loaded yet admits with a warning",
			active:    &policy.Active{},
			req:       request(t, admissionv1.Create, noStrategy(), nil),
			allowed:   true,
			code:      200,
			warnings:  []string{"fluxgate did not mutate Deployment shop/web: no policy set loaded yet"},
			errReason: ReasonNotLoaded,
		},
		{
			name:      "an evaluation that times out admits unchanged with a warning",
			active:    slowActive(t),
			timeout:   100 * time.Millisecond,
			req:       request(t, admissionv1.Create, noStrategy(), nil),
			allowed:   true,
			code:      200,
			evaluated: true,
			warnings:  []string{"fluxgate could not mutate Deployment shop/web and admitted it unchanged: evaluation timed out after 100ms"},
			errReason: ReasonTimeout,
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			active := tc.active
			if active == nil {
				active = builtinActive(t)
			}
			rec := &fakeRecorder{}
			m := newTestMetrics(t)
			mu := NewMutator(Options{
				Policies: active, Related: &fakeRelated{objs: []map[string]any{obj(t, webBudget)}},
				Events: rec, Metrics: m, Namespace: ownNamespace, ServiceAccount: ownUser, EvalTimeout: tc.timeout,
			})
			resp := mu.Handle(context.Background(), tc.req)
			if err := resp.Complete(tc.req); err != nil {
				t.Fatal(err)
			}
			if resp.Allowed != tc.allowed || resp.Result.Code != tc.code {
				t.Errorf("allowed = %v code %d, want %v %d; result %+v", resp.Allowed, resp.Result.Code, tc.allowed, tc.code, resp.Result)
			}
			if !strings.Contains(resp.Result.Message, tc.message) {
				t.Errorf("message = %q, want it to contain %q", resp.Result.Message, tc.message)
			}
			checkWarnings(t, resp.Warnings, tc.warnings)
			if ev := rec.recorded(); len(ev) > 0 {
				t.Errorf("mutator recorded events: %+v", ev)
			}
			if got := histogramCount(t, m, MutateName); (got > 0) != tc.evaluated {
				t.Errorf("evaluations observed = %d, want evaluated %v", got, tc.evaluated)
			}
			if tc.errReason != "" {
				if got := testutil.ToFloat64(m.errors.WithLabelValues(MutateName, tc.errReason)); got != 1 {
					t.Errorf("errors{reason=%q} = %v, want 1", tc.errReason, got)
				}
			}

			if tc.patch == "" {
				if len(resp.Patch) != 0 || resp.PatchType != nil {
					t.Fatalf("unexpected patch %s", resp.Patch)
				}
				return
			}
			if resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch {
				t.Fatalf("patchType = %v, want JSONPatch", resp.PatchType)
			}
			if !jsonEqual(t, resp.Patch, []byte(tc.patch)) {
				t.Fatalf("patch = %s\nwant    %s", resp.Patch, tc.patch)
			}
			if got := testutil.ToFloat64(m.decisions.WithLabelValues(MutateName, "rollout-strategy", "mutate", string(tc.req.Operation))); got != 1 {
				t.Errorf("decisions{policy=rollout-strategy,action=mutate} = %v, want 1", got)
			}

			// Idempotence: the patched object is not patched again, as Flux
			// re-applies every object on every interval.
			patched := applyJSONPatch(t, tc.req.Object.Raw, resp.Patch)
			again := tc.req
			again.Object.Raw = patched
			resp2 := mu.Handle(context.Background(), again)
			if !resp2.Allowed || len(resp2.Patches) != 0 {
				t.Fatalf("second pass: allowed %v, patches %v", resp2.Allowed, resp2.Patches)
			}
		})
	}
}

// TestMutatorPatchKeepsWhatItDoesNotKnow checks that the patch is built
// from the raw object: unknown fields and numbers beyond float64
// precision are left alone.
func TestMutatorPatchKeepsWhatItDoesNotKnow(t *testing.T) {
	raw := `{"apiVersion":"apps/v1","kind":"Deployment",
	  "metadata":{"name":"web","namespace":"shop","annotations":{"a/b~c":"x"}},
	  "x-unknown":{"kept":[1,2,3]},
	  "spec":{"replicas":3,"progressDeadlineSeconds":9007199254740993,"futureField":{"n":1.50},
	    "selector":{"matchLabels":{"app":"web"}},
	    "template":{"metadata":{"labels":{"app":"web"}},"spec":{"containers":[
	      {"name":"web","image":"nginx:1.27.3","readinessProbe":{"httpGet":{"path":"/","port":80}}}]}}}}`
	req := request(t, admissionv1.Create, obj(t, raw), nil, rawObject(raw))
	mu := NewMutator(Options{Policies: builtinActive(t)})
	resp := mu.Handle(context.Background(), req)
	if err := resp.Complete(req); err != nil {
		t.Fatal(err)
	}
	want := `[{"op":"add","path":"/spec/strategy","value":{"type":"RollingUpdate","rollingUpdate":{"maxSurge":"25%","maxUnavailable":0}}}]`
	if !jsonEqual(t, resp.Patch, []byte(want)) {
		t.Fatalf("patch = %s\nwant    %s", resp.Patch, want)
	}
	patched := string(applyJSONPatch(t, []byte(raw), resp.Patch))
	for _, s := range []string{`"x-unknown":{"kept":[1,2,3]}`, `9007199254740993`, `"futureField":{"n":1.50}`, `"a/b~c":"x"`} {
		if !strings.Contains(patched, s) {
			t.Errorf("patched object lost %s:\n%s", s, patched)
		}
	}
}

func applyJSONPatch(t *testing.T, doc, patch []byte) []byte {
	t.Helper()
	p, err := jsonpatch.DecodePatch(patch)
	if err != nil {
		t.Fatal(err)
	}
	out, err := p.Apply(doc)
	if err != nil {
		t.Fatal(err)
	}
	return out
}

func jsonEqual(t *testing.T, a, b []byte) bool {
	t.Helper()
	var x, y any
	if err := json.Unmarshal(a, &x); err != nil {
		t.Fatalf("%s: %v", a, err)
	}
	if err := json.Unmarshal(b, &y); err != nil {
		t.Fatalf("%s: %v", b, err)
	}
	return string(mustJSON(t, x)) == string(mustJSON(t, y))
}

// A repeated mutation is answered with the patch built for its decision,
// which the engine answered from its cache; a new policy set evaluates,
// and builds the patch, again.
func TestMutatorRemembersPatches(t *testing.T) {
	defaulted := set(obj(t, webDeployment), "spec.strategy.rollingUpdate.maxUnavailable", "25%")
	want := `[{"op":"replace","path":"/spec/strategy/rollingUpdate/maxUnavailable","value":0}]`
	active := cachedActive(t, "remembered-patches", policy.BuiltinModules, nil) // a cache of its own
	m := NewMutator(Options{Policies: active, Metrics: newTestMetrics(t), Namespace: ownNamespace, ServiceAccount: ownUser})
	mutate := func() string {
		t.Helper()
		resp := m.Handle(context.Background(), request(t, admissionv1.Update, defaulted, defaulted))
		if !resp.Allowed {
			t.Fatalf("not allowed: %+v", resp.Result)
		}
		patch, err := json.Marshal(resp.Patches)
		if err != nil {
			t.Fatal(err)
		}
		return string(patch)
	}
	for i := range 2 {
		if got := mutate(); got != want {
			t.Fatalf("request %d: patch %s, want %s", i, got, want)
		}
	}
	if hits, _ := active.Engine().CacheStats(); hits != 1 {
		t.Errorf("engine cache hits = %d, want 1", hits)
	}
	if n := m.patches.Len(); n != 1 {
		t.Errorf("%d patches remembered, want 1", n)
	}

	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	if _, err := active.Reload(context.Background(), mods, nil); err != nil {
		t.Fatal(err)
	}
	if got := mutate(); got != want {
		t.Fatalf("after a reload: patch %s, want %s", got, want)
	}
	if n := m.patches.Len(); n != 2 {
		t.Errorf("%d patches remembered after a reload, want 2 (a new evaluation)", n)
	}
}
