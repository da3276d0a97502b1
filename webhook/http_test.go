package webhook

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// reviewBody wraps req in an AdmissionReview v1.
func reviewBody(t testing.TB, req admission.Request) []byte {
	t.Helper()
	return mustJSON(t, admissionv1.AdmissionReview{TypeMeta: admissionReviewType, Request: &req.AdmissionRequest})
}

func post(h http.Handler, contentType string, body []byte) *httptest.ResponseRecorder {
	r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
	if contentType != "" {
		r.Header.Set("Content-Type", contentType)
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestHTTPHandlerRejects(t *testing.T) {
	good := reviewBody(t, request(t, admissionv1.Create, obj(t, webDeployment), nil))
	noop := admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		t.Error("handler called for a bad request")
		return admission.Allowed("")
	})
	tests := []struct {
		name        string
		method      string
		contentType string
		body        []byte
		code        int
		message     string
	}{
		{"GET", http.MethodGet, "application/json", good, http.StatusMethodNotAllowed, "method GET not allowed"},
		{"no content type", http.MethodPost, "", good, http.StatusUnsupportedMediaType, `content type "" not supported`},
		{"YAML", http.MethodPost, "application/yaml", good, http.StatusUnsupportedMediaType, `content type "application/yaml" not supported`},
		{"empty body", http.MethodPost, "application/json", nil, http.StatusBadRequest, "empty request body"},
		{"oversized body", http.MethodPost, "application/json", bytes.Repeat([]byte(" "), MaxRequestBytes+1), http.StatusBadRequest, "exceeds the limit of 7340032 bytes"},
		{"invalid JSON", http.MethodPost, "application/json", good[:len(good)/2], http.StatusBadRequest, "invalid AdmissionReview JSON"},
		{"trailing data", http.MethodPost, "application/json", append(append([]byte{}, good...), "{}"...), http.StatusBadRequest, "invalid AdmissionReview JSON"},
		{"not an object", http.MethodPost, "application/json", []byte(`[1]`), http.StatusBadRequest, "invalid AdmissionReview JSON"},
		{"v1beta1", http.MethodPost, "application/json", bytes.Replace(good, []byte(`admission.k8s.io/v1"`), []byte(`admission.k8s.io/v1beta1"`), 1), http.StatusBadRequest, `got apiVersion "admission.k8s.io/v1beta1" kind "AdmissionReview"`},
		{"wrong kind", http.MethodPost, "application/json", bytes.Replace(good, []byte(`"AdmissionReview"`), []byte(`"ConversionReview"`), 1), http.StatusBadRequest, `kind "ConversionReview": want admission.k8s.io/v1 AdmissionReview`},
		{"no type", http.MethodPost, "application/json", []byte(`{"request":{"uid":"1"}}`), http.StatusBadRequest, `got apiVersion "" kind ""`},
		{"no request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview"}`), http.StatusBadRequest, "AdmissionReview has no request"},
		{"null request", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":null}`), http.StatusBadRequest, "AdmissionReview has no request"},
		{"request in the wrong case", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","Request":{"uid":"1"}}`), http.StatusBadRequest, "AdmissionReview has no request"},
		{"empty uid", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":{"uid":""}}`), http.StatusBadRequest, "AdmissionReview request has no uid"},
		{"request of the wrong type", http.MethodPost, "application/json", []byte(`{"apiVersion":"admission.k8s.io/v1","kind":"AdmissionReview","request":"x"}`), http.StatusBadRequest, "invalid AdmissionReview JSON"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			m := newTestMetrics(t)
			h := NewHTTPHandler(ValidateName, noop, m, logr.Discard())
			r := httptest.NewRequest(tc.method, ValidatePath, bytes.NewReader(tc.body))
			if tc.contentType != "" {
				r.Header.Set("Content-Type", tc.contentType)
			}
			w := httptest.NewRecorder()
			h.ServeHTTP(w, r)
			if w.Code != tc.code {
				t.Errorf("code = %d, want %d", w.Code, tc.code)
			}
			msg := w.Body.String()
			if !strings.Contains(msg, tc.message) || strings.Count(msg, "\n") != 1 {
				t.Errorf("body = %q, want one line containing %q", msg, tc.message)
			}
			if got := testutil.ToFloat64(m.errors.WithLabelValues(ValidateName, ReasonBadRequest)); got != 1 {
				t.Errorf("bad_request errors = %v, want 1", got)
			}
			if got := testutil.CollectAndCount(m.requestDuration); got != 1 {
				t.Errorf("%d request duration series, want 1", got)
			}
		})
	}
}

func TestHTTPHandlerRoundTrip(t *testing.T) {
	m := newTestMetrics(t)
	opts := Options{Policies: builtinActive(t), Related: &fakeRelated{objs: []map[string]any{obj(t, webBudget)}}, Metrics: m}
	mutate := NewHTTPHandler(MutateName, NewMutator(opts), m, logr.Discard())
	validate := NewHTTPHandler(ValidateName, NewValidator(opts), m, logr.Discard())

	dep := del(obj(t, webDeployment), "spec.strategy")
	req := request(t, admissionv1.Create, dep, nil)

	w := post(mutate, "application/json; charset=utf-8", reviewBody(t, req))
	resp := decodeReview(t, w)
	if resp.UID != req.UID || !resp.Allowed || resp.PatchType == nil || *resp.PatchType != admissionv1.PatchTypeJSONPatch || len(resp.Patch) == 0 {
		t.Fatalf("mutate response = %+v", resp)
	}
	if w.Header().Get("Content-Type") != "application/json" {
		t.Errorf("content type %q", w.Header().Get("Content-Type"))
	}

	// The API server applies the patch, then calls the validator.
	req.Object.Raw = applyJSONPatch(t, req.Object.Raw, resp.Patch)
	resp = decodeReview(t, post(validate, "application/json", reviewBody(t, req)))
	if resp.UID != req.UID || !resp.Allowed || resp.Result.Code != http.StatusOK || resp.Patch != nil {
		t.Fatalf("validate response = %+v", resp)
	}

	// A denial travels as HTTP 200 with allowed false and code 403.
	set(dep, "spec.strategy", map[string]any{"type": "Recreate"})
	req = request(t, admissionv1.Create, dep, nil)
	resp = decodeReview(t, post(validate, "application/json", reviewBody(t, req)))
	if resp.UID != req.UID || resp.Allowed || resp.Result.Code != http.StatusForbidden ||
		!strings.HasPrefix(resp.Result.Message, "rollout-strategy: Deployment shop/web: spec.strategy.type is Recreate") {
		t.Fatalf("validate response = %+v", resp.Result)
	}
	if got := testutil.CollectAndCount(m.requestDuration); got != 2 {
		t.Errorf("%d request duration series, want one per webhook", got)
	}
}

func decodeReview(t *testing.T, w *httptest.ResponseRecorder) *admissionv1.AdmissionResponse {
	t.Helper()
	if w.Code != http.StatusOK {
		t.Fatalf("code %d: %s", w.Code, w.Body)
	}
	var review admissionv1.AdmissionReview
	if err := json.Unmarshal(w.Body.Bytes(), &review); err != nil {
		t.Fatal(err)
	}
	if review.TypeMeta != admissionReviewType || review.Response == nil {
		t.Fatalf("review = %s", w.Body)
	}
	return review.Response
}

func TestHTTPHandlerRecoversPanics(t *testing.T) {
	m := newTestMetrics(t)
	var logged bytes.Buffer
	log := logr.New(&bufSink{w: &logged})
	h := NewHTTPHandler("boom", admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
		panic("policy engine exploded")
	}), m, log)
	w := post(h, "application/json", reviewBody(t, request(t, admissionv1.Create, obj(t, webDeployment), nil)))
	if w.Code != http.StatusInternalServerError {
		t.Fatalf("code = %d, want 500", w.Code)
	}
	if got := testutil.ToFloat64(m.errors.WithLabelValues("boom", ReasonPanic)); got != 1 {
		t.Errorf("panic errors = %v, want 1", got)
	}
	if !strings.Contains(logged.String(), "policy engine exploded") {
		t.Errorf("panic not logged: %s", logged.String())
	}
}

// bufSink is a minimal logr.LogSink writing messages and values to w.
type bufSink struct{ w io.Writer }

func (s *bufSink) Init(logr.RuntimeInfo)                  {}
func (s *bufSink) Enabled(int) bool                       { return true }
func (s *bufSink) WithValues(...any) logr.LogSink         { return s }
func (s *bufSink) WithName(string) logr.LogSink           { return s }
func (s *bufSink) Info(_ int, msg string, kv ...any)      { s.write(msg, nil, kv) }
func (s *bufSink) Error(err error, msg string, kv ...any) { s.write(msg, err, kv) }
func (s *bufSink) write(msg string, err error, kv []any) {
	b, _ := json.Marshal(map[string]any{"msg": msg, "error": errString(err), "kv": kvStrings(kv)})
	_, _ = s.w.Write(append(b, '\n'))
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}

func kvStrings(kv []any) []string {
	out := make([]string, 0, len(kv))
	for _, v := range kv {
		b, _ := json.Marshal(v)
		out = append(out, string(b))
	}
	return out
}
