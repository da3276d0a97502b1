package webhook

import (
	"context"
	"net/http"
	"testing"

	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// scaleRequest builds the request the API server sends for an update of
// the scale subresource of resource (apps/v1 deployments or statefulsets)
// name in namespace shop, from replicas from to to. A negative from sends
// no old object.
func scaleRequest(t *testing.T, resource, name string, from, to int64, opts ...func(*admission.Request)) admission.Request {
	t.Helper()
	scale := func(n int64) map[string]any {
		spec := map[string]any{}
		if n != 0 { // omitempty, as the API server serializes it
			spec["replicas"] = n
		}
		return map[string]any{
			"apiVersion": "autoscaling/v1", "kind": "Scale",
			"metadata": map[string]any{"name": name, "namespace": "shop", "uid": string(webRef.UID), "resourceVersion": "4800"},
			"spec":     spec,
			"status":   map[string]any{"replicas": from, "selector": "app=" + name},
		}
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:         types.UID("7f0b5a0e-1c1e-4d8b-9d0e-sca000000000"),
		Kind:        metav1.GroupVersionKind{Group: "autoscaling", Version: "v1", Kind: "Scale"},
		Resource:    metav1.GroupVersionResource{Group: "apps", Version: "v1", Resource: resource},
		SubResource: "scale",
		Namespace:   "shop",
		Name:        name,
		Operation:   admissionv1.Update,
		UserInfo:    authenticationv1.UserInfo{Username: fluxUser, Groups: []string{"system:serviceaccounts"}},
	}}
	req.Object.Raw = mustJSON(t, scale(to))
	if from >= 0 {
		req.OldObject.Raw = mustJSON(t, scale(from))
	}
	for _, o := range opts {
		o(&req)
	}
	return req
}

func TestValidatorScale(t *testing.T) {
	web := func() map[string]any { return obj(t, webDeployment) }
	budget := func(name string, spec map[string]any) map[string]any {
		b := set(obj(t, webBudget), "metadata.name", name)
		spec["unhealthyPodEvictionPolicy"] = "AlwaysAllow"
		spec["selector"] = map[string]any{"matchLabels": map[string]any{"app": "web"}}
		return set(b, "spec", spec)
	}
	minAvailable2 := budget("web-blocking", map[string]any{"minAvailable": 2})
	maxUnavailable1 := budget("web", map[string]any{"maxUnavailable": 1})
	hundred := budget("web-all", map[string]any{"minAvailable": "100%"})
	// legacy breaks rules a replica count has nothing to do with.
	legacy := func() map[string]any {
		return set(set(web(), "spec.strategy", map[string]any{"type": "Recreate"}), "spec.template.spec.containers",
			[]any{map[string]any{"name": "web", "image": "nginx:1.27.3",
				"lifecycle": map[string]any{"preStop": map[string]any{"sleep": map[string]any{"seconds": 5}}}}})
	}
	statefulSet := func() map[string]any {
		s := del(set(web(), "kind", "StatefulSet"), "spec.strategy")
		return set(s, "spec.serviceName", "web")
	}
	hpa := obj(t, `{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, metadata: {name: web, namespace: shop},
		spec: {scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}, minReplicas: 3, maxReplicas: 10}}`)
	// The Event regards the workload at the version the Scale names.
	scaledRef := webRef
	scaledRef.ResourceVersion = "4800"
	scaledSetRef := scaledRef
	scaledSetRef.Kind = "StatefulSet"

	tests := []struct {
		name    string
		related RelatedSource
		req     admission.Request

		validation
	}{
		{
			name:    "a scale-down that makes a budget block drains is denied naming the budget",
			related: &fakeRelated{objs: []map[string]any{web(), minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking (spec.minAvailable: 2) allows no disruption: 2 pods expected"},
				events:    []wantEvent{{EventReasonDenied, scaledRef, "pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking", nil}},
				evaluated: true,
			},
		},
		{
			name:    "the same for a StatefulSet",
			related: &fakeRelated{objs: []map[string]any{statefulSet(), minAvailable2}},
			req:     scaleRequest(t, "statefulsets", "web", 3, 2),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"pdb-drain-safe: StatefulSet shop/web: PodDisruptionBudget shop/web-blocking (spec.minAvailable: 2) allows no disruption"},
				events:    []wantEvent{{EventReasonDenied, scaledSetRef, "pdb-drain-safe: StatefulSet shop/web: ", nil}},
				evaluated: true,
			},
		},
		{
			name:    "a dry run is denied the same and records nothing",
			related: &fakeRelated{objs: []map[string]any{web(), minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 2, dryRun),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking"},
				evaluated: true,
			},
		},
		{
			name:    "fluxgate's own service account is warned, not denied",
			related: &fakeRelated{objs: []map[string]any{web(), minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 2, asUser(ownUser)),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking"},
				events:    []wantEvent{{EventReasonWarning, scaledRef, "pdb-drain-safe: ", nil}},
				evaluated: true,
			},
		},
		{
			name:    "a harmless scale is admitted",
			related: &fakeRelated{objs: []map[string]any{web(), maxUnavailable1}},
			req:     scaleRequest(t, "deployments", "web", 3, 4),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"no policy denies it"},
				evaluated: true,
			},
		},
		{
			name:    "scaling to zero blocks no drain",
			related: &fakeRelated{objs: []map[string]any{web(), minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 0),
			validation: validation{
				allowed:   true,
				code:      200,
				evaluated: true,
			},
		},
		{
			name:    "a legacy workload's unrelated violations do not stop a scale",
			related: &fakeRelated{objs: []map[string]any{legacy(), maxUnavailable1}},
			req:     scaleRequest(t, "deployments", "web", 3, 5),
			validation: validation{
				allowed:   true,
				code:      200,
				message:   []string{"no policy denies it"},
				evaluated: true,
			},
		},
		{
			name:    "only what the new count introduces is reported",
			related: &fakeRelated{objs: []map[string]any{legacy(), maxUnavailable1}},
			req:     scaleRequest(t, "deployments", "web", 3, 1),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"replicas-ha: Deployment shop/web: spec.replicas is 1"},
				events:    []wantEvent{{EventReasonWarning, scaledRef, "replicas-ha: Deployment shop/web: spec.replicas is 1", nil}},
				evaluated: true,
			},
		},
		{
			name:    "a budget that blocks at every count does not stop a scale up",
			related: &fakeRelated{objs: []map[string]any{web(), hundred}},
			req:     scaleRequest(t, "deployments", "web", 3, 6),
			validation: validation{
				allowed:   true,
				code:      200,
				evaluated: true,
			},
		},
		{
			name:    "the old Scale's count is the current one, not the cache's",
			related: &fakeRelated{objs: []map[string]any{set(web(), "spec.replicas", 2), minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			validation: validation{
				allowed:   false,
				code:      http.StatusForbidden,
				message:   []string{"pdb-drain-safe: Deployment shop/web: PodDisruptionBudget shop/web-blocking"},
				events:    []wantEvent{{EventReasonDenied, scaledRef, "pdb-drain-safe: ", nil}},
				evaluated: true,
			},
		},
		{
			name:    "an autoscaled workload's budget counts the autoscaler's minimum",
			related: &fakeRelated{objs: []map[string]any{web(), minAvailable2, hpa}},
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			validation: validation{
				allowed:   true,
				code:      200,
				evaluated: true,
			},
		},
		{
			name:    "a workload not in the cache yet is admitted with a warning",
			related: &fakeRelated{objs: []map[string]any{minAvailable2}},
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"fluxgate did not judge scaling Deployment shop/web to 2 replicas: the Deployment is not in its cache yet"},
				errReason: ReasonRelated,
			},
		},
		{
			name:    "unreadable related objects admit with a warning",
			related: &fakeRelated{err: errCacheDown},
			req:     scaleRequest(t, "deployments", "web", 3, 2),
			validation: validation{
				allowed:   true,
				code:      200,
				warnings:  []string{"fluxgate did not judge scaling Deployment shop/web to 2 replicas: read the related objects of namespace shop: cache not synced"},
				errReason: ReasonRelated,
			},
		},
		{
			name: "other scalable resources are not judged",
			req:  scaleRequest(t, "replicasets", "web", 3, 2),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"the scale subresource of replicasets is not judged"},
			},
		},
		{
			name: "other subresources are not judged",
			req:  request(t, admissionv1.Update, web(), web(), func(r *admission.Request) { r.SubResource = "status" }),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"the status subresource is not judged"},
			},
		},
		{
			name: "a malformed Scale is a bad request",
			req:  scaleRequest(t, "deployments", "web", 3, 2, rawObject(`{"spec": {"replicas": "two"}}`)),
			validation: validation{
				allowed:   false,
				code:      http.StatusBadRequest,
				message:   []string{"decode the Scale of Deployment shop/web"},
				errReason: ReasonDecode,
			},
		},
		{
			name: "exempt namespaces come first",
			req:  scaleRequest(t, "deployments", "web", 3, 2, func(r *admission.Request) { r.Namespace = "kube-system" }),
			validation: validation{
				allowed: true,
				code:    200,
				message: []string{"namespace kube-system is always exempt"},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			t.Parallel()
			related := tc.related
			if related == nil {
				related = &fakeRelated{objs: []map[string]any{web(), maxUnavailable1}}
			}
			rec := &fakeRecorder{}
			m := newTestMetrics(t)
			v := NewValidator(Options{
				Policies: builtinActive(t), Related: related, Events: rec, Metrics: m,
				Namespace: ownNamespace, ServiceAccount: ownUser,
			})
			resp := v.Handle(context.Background(), tc.req)
			checkValidation(t, resp, rec, m, tc.validation)
		})
	}
}

// The cached workload the validator scales is shared with every other
// request: judging a scale must leave it as it was.
func TestValidatorScaleLeavesTheCacheAlone(t *testing.T) {
	rel, err := policy.NewRelated(obj(t, webDeployment))
	if err != nil {
		t.Fatal(err)
	}
	before := mustJSON(t, rel.Object("Deployment", "web"))
	v := NewValidator(Options{Policies: builtinActive(t), Related: staticRelated{rel}})
	v.Handle(context.Background(), scaleRequest(t, "deployments", "web", 3, 1))
	if after := mustJSON(t, rel.Object("Deployment", "web")); string(after) != string(before) {
		t.Errorf("cached workload changed:\n before %s\n after  %s", before, after)
	}
}

// TestFindingKey checks what counts as the same finding at two replica
// counts.
func TestFindingKey(t *testing.T) {
	f := func(msg string) policy.Finding {
		return policy.Finding{Policy: "pdb-drain-safe", Action: policy.ActionDeny, Message: msg}
	}
	for _, tc := range []struct {
		a, b string
		same bool
	}{
		{"3 pods expected from Deployment web and 3 must stay healthy", "4 pods expected from Deployment web and 4 must stay healthy", true},
		{"PodDisruptionBudget shop/web (spec.minAvailable: 100%) allows no disruption", "PodDisruptionBudget shop/web (spec.minAvailable: 100%) allows no disruption", true},
		{"spec.replicas is 1", "spec.replicas is 2", true},
		{"0.5 of them", "1.5 of them", true},
		{"PodDisruptionBudget shop/web-1 allows no disruption", "PodDisruptionBudget shop/web-2 allows no disruption", false},
		{"PodDisruptionBudget shop/2nd allows no disruption", "PodDisruptionBudget shop/3rd allows no disruption", false},
		{"Deployment app1", "Deployment app2", false},
		{"allows no disruption", "lets too many pods go at once", false},
	} {
		if got := findingKey(f(tc.a)) == findingKey(f(tc.b)); got != tc.same {
			t.Errorf("same(%q, %q) = %v, want %v", tc.a, tc.b, got, tc.same)
		}
	}
	warn := f("spec.replicas is 1")
	warn.Action = policy.ActionWarn
	if findingKey(warn) == findingKey(f("spec.replicas is 1")) {
		t.Errorf("a warning and a denial share a key")
	}
}
