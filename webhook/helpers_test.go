package webhook

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	authenticationv1 "k8s.io/api/authentication/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/policy"
)

const (
	ownNamespace = "fluxgate-system"
	ownUser      = "system:serviceaccount:fluxgate-system:fluxgate"
	fluxUser     = "system:serviceaccount:flux-system:kustomize-controller"
)

// active compiles modules under cfg once per test binary and key.
var (
	activeMu    sync.Mutex
	activeCache = map[string]*policy.Active{}
)

func cachedActive(t testing.TB, key string, modules func() ([]policy.Module, error), cfg *policy.Config) *policy.Active {
	t.Helper()
	activeMu.Lock()
	defer activeMu.Unlock()
	if a, ok := activeCache[key]; ok {
		return a
	}
	mods, err := modules()
	if err != nil {
		t.Fatal(err)
	}
	a := &policy.Active{}
	if _, err := a.Reload(context.Background(), mods, cfg); err != nil {
		t.Fatal(err)
	}
	activeCache[key] = a
	return a
}

// builtinActive serves the built-in policies with the default
// configuration.
func builtinActive(t testing.TB) *policy.Active {
	return cachedActive(t, "builtin", policy.BuiltinModules, nil)
}

// exemptActive serves the built-in policies with legacy-batch exempt.
func exemptActive(t testing.TB) *policy.Active {
	return cachedActive(t, "exempt", policy.BuiltinModules, &policy.Config{ExemptNamespaces: []string{"legacy-batch"}})
}

// slowPolicy never finishes in reasonable time: 10^8 iterations of two
// nested loops, with little memory, so only the deadline ends it.
const slowPolicy = `# METADATA
# title: Slow
# description: Loops for a very long time.
# custom:
#   id: slow
#   kinds: [Deployment]
package test.slow

spin if {
	some i in numbers.range(1, 10000 + count(input.request.name))
	some j in numbers.range(1, 10000)
	i * j == -1
}

deny contains "never" if spin

patch contains {"op": "add", "path": "/metadata/labels", "value": {"slow": "done"}} if not spin
`

func slowActive(t testing.TB) *policy.Active {
	return cachedActive(t, "slow", func() ([]policy.Module, error) {
		return []policy.Module{{File: "slow.rego", Text: slowPolicy}}, nil
	}, nil)
}

// fakeRelated is a RelatedSource over fixed objects.
type fakeRelated struct {
	objs []map[string]any
	err  error
}

func (f *fakeRelated) Related(_ context.Context, _ string) (*policy.Related, error) {
	if f.err != nil {
		return nil, f.err
	}
	return policy.NewRelated(f.objs...)
}

var errCacheDown = errors.New("cache not synced")

// event is one call of fakeRecorder.Eventf.
type event struct {
	Regarding, Related         runtime.Object
	Type, Reason, Action, Note string
}

// fakeRecorder is an events.EventRecorder that records its calls.
type fakeRecorder struct {
	mu     sync.Mutex
	events []event
}

func (f *fakeRecorder) Eventf(regarding, related runtime.Object, eventtype, reason, action, note string, args ...any) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.events = append(f.events, event{regarding, related, eventtype, reason, action, fmt.Sprintf(note, args...)})
}

func (f *fakeRecorder) recorded() []event {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]event(nil), f.events...)
}

// obj parses a YAML manifest into a JSON-shaped map.
func obj(t testing.TB, manifest string) map[string]any {
	t.Helper()
	var m map[string]any
	if err := yaml.Unmarshal([]byte(manifest), &m); err != nil {
		t.Fatal(err)
	}
	return m
}

// set changes the field at a dotted path of m, creating maps on the way.
func set(m map[string]any, path string, v any) map[string]any {
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			next = map[string]any{}
			cur[p] = next
		}
		cur = next
	}
	cur[parts[len(parts)-1]] = v
	return m
}

// del removes the field at a dotted path of m.
func del(m map[string]any, path string) map[string]any {
	parts := strings.Split(path, ".")
	cur := m
	for _, p := range parts[:len(parts)-1] {
		next, ok := cur[p].(map[string]any)
		if !ok {
			return m
		}
		cur = next
	}
	delete(cur, parts[len(parts)-1])
	return m
}

// clone deep-copies a JSON-shaped map.
func clone(t testing.TB, m map[string]any) map[string]any {
	t.Helper()
	var out map[string]any
	if err := json.Unmarshal(mustJSON(t, m), &out); err != nil {
		t.Fatal(err)
	}
	return out
}

func mustJSON(t testing.TB, v any) []byte {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// webDeployment complies with every built-in policy once a budget
// selects it.
const webDeployment = `
apiVersion: apps/v1
kind: Deployment
metadata:
  name: web
  namespace: shop
  uid: 0b5c8a52-3d7e-4a53-9d33-3c9f7f1c2a11
  resourceVersion: "4711"
spec:
  replicas: 3
  selector:
    matchLabels: {app: web}
  strategy:
    type: RollingUpdate
    rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}
  template:
    metadata:
      labels: {app: web}
    spec:
      terminationGracePeriodSeconds: 30
      containers:
        - name: web
          image: nginx:1.27.3
          readinessProbe:
            httpGet: {path: /healthz, port: 8080}
          lifecycle:
            preStop:
              sleep: {seconds: 5}
`

const webBudget = `
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: web
  namespace: shop
spec:
  maxUnavailable: 1
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels: {app: web}
`

// request builds an admission request for obj (and old, for UPDATE and
// DELETE) as the API server sends it.
func request(t testing.TB, op admissionv1.Operation, object, old map[string]any, opts ...func(*admission.Request)) admission.Request {
	t.Helper()
	src := object
	if src == nil {
		src = old
	}
	meta, _ := src["metadata"].(map[string]any)
	ns, _ := meta["namespace"].(string)
	name, _ := meta["name"].(string)
	kind, _ := src["kind"].(string)
	gv, _ := src["apiVersion"].(string)
	group, version := "", gv
	if i := strings.Index(gv, "/"); i >= 0 {
		group, version = gv[:i], gv[i+1:]
	}
	req := admission.Request{AdmissionRequest: admissionv1.AdmissionRequest{
		UID:       types.UID("7f0b5a0e-1c1e-4d8b-9d0e-" + strings.ToLower(string(op))[:3] + "000000000"),
		Kind:      metav1.GroupVersionKind{Group: group, Version: version, Kind: kind},
		Namespace: ns,
		Name:      name,
		Operation: op,
		UserInfo:  authenticationv1.UserInfo{Username: fluxUser, Groups: []string{"system:serviceaccounts"}},
	}}
	if object != nil {
		req.Object.Raw = mustJSON(t, object)
	}
	if old != nil {
		req.OldObject.Raw = mustJSON(t, old)
	}
	for _, o := range opts {
		o(&req)
	}
	return req
}

func dryRun(r *admission.Request) { r.DryRun = new(true) }

func asUser(name string) func(*admission.Request) {
	return func(r *admission.Request) { r.UserInfo.Username = name }
}

func rawObject(raw string) func(*admission.Request) {
	return func(r *admission.Request) { r.Object.Raw = []byte(raw) }
}

// histogramCount returns how many observations a histogram vector holds
// for the given labels.
func histogramCount(t testing.TB, m *Metrics, webhook string) uint64 {
	t.Helper()
	var out dto.Metric
	if err := m.evalDuration.WithLabelValues(webhook).(interface{ Write(*dto.Metric) error }).Write(&out); err != nil {
		t.Fatal(err)
	}
	return out.GetHistogram().GetSampleCount()
}

func newTestMetrics(t testing.TB) *Metrics {
	t.Helper()
	m, err := NewMetrics(nil)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// validation is what a validator test case expects of a response.
type validation struct {
	allowed   bool
	code      int32
	message   []string // substrings of Result.Message
	warnings  []string // prefixes, in order
	events    []wantEvent
	evaluated bool
	errReason string
}

// checkValidation checks a validator's response, the Events it recorded
// and the metrics it counted against want.
func checkValidation(t *testing.T, resp admission.Response, rec *fakeRecorder, m *Metrics, want validation) {
	t.Helper()
	if resp.Allowed != want.allowed {
		t.Errorf("allowed = %v, want %v; result %+v", resp.Allowed, want.allowed, resp.Result)
	}
	if resp.Result == nil || resp.Result.Code != want.code {
		t.Errorf("result = %+v, want code %d", resp.Result, want.code)
	}
	for _, sub := range want.message {
		if resp.Result == nil || !strings.Contains(resp.Result.Message, sub) {
			t.Errorf("message does not contain %q:\n%v", sub, resp.Result)
		}
	}
	if len(resp.Patches) != 0 || resp.PatchType != nil {
		t.Errorf("validator returned a patch: %v", resp.Patches)
	}
	checkWarnings(t, resp.Warnings, want.warnings)
	checkEvents(t, rec.recorded(), want.events)
	if got := histogramCount(t, m, ValidateName); (got > 0) != want.evaluated {
		t.Errorf("evaluations observed = %d, want evaluated %v", got, want.evaluated)
	}
	if want.errReason != "" {
		if got := testutil.ToFloat64(m.errors.WithLabelValues(ValidateName, want.errReason)); got != 1 {
			t.Errorf("errors{reason=%q} = %v, want 1", want.errReason, got)
		}
	}
}
