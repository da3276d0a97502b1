package webhook

import (
	"encoding/json"
	"net/http"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"k8s.io/apimachinery/pkg/runtime"
	sigsjson "sigs.k8s.io/json"
)

// countingRecorder is an events.EventRecorder that only counts, so a long
// fuzzing run does not accumulate events.
type countingRecorder struct{ n atomic.Int64 }

func (c *countingRecorder) Eventf(runtime.Object, runtime.Object, string, string, string, string, ...any) {
	c.n.Add(1)
}

// FuzzHTTPHandler feeds arbitrary bodies to both webhooks, served by the
// real handlers over the built-in policies. Whatever the body, the answer
// is a well-formed review (200) or a one-line HTTP 400; never a panic or
// a 500. Seeds live in testdata/fuzz/FuzzHTTPHandler.
func FuzzHTTPHandler(f *testing.F) {
	opts := Options{
		Policies:       builtinActive(f),
		Related:        &fakeRelated{objs: []map[string]any{obj(f, webBudget), obj(f, webDeployment)}},
		Events:         &countingRecorder{},
		Metrics:        newTestMetrics(f),
		Namespace:      ownNamespace,
		ServiceAccount: ownUser,
	}
	handlers := map[string]http.Handler{
		MutateName:   NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard()),
		ValidateName: NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard()),
	}
	f.Fuzz(func(t *testing.T, body []byte) {
		for name, h := range handlers {
			w := post(h, "application/json", body)
			switch w.Code {
			case http.StatusOK:
				var in admissionv1.AdmissionReview
				if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &in); err != nil || in.Request == nil {
					t.Fatalf("%s: 200 for a body that is no review (%v): %q", name, err, body)
				}
				var out admissionv1.AdmissionReview
				if err := json.Unmarshal(w.Body.Bytes(), &out); err != nil {
					t.Fatalf("%s: response is not JSON: %v", name, err)
				}
				if out.TypeMeta != admissionReviewType || out.Response == nil || out.Response.UID != in.Request.UID {
					t.Fatalf("%s: response %s for uid %q", name, w.Body, in.Request.UID)
				}
				if out.Response.Result == nil || out.Response.Result.Code == 0 {
					t.Fatalf("%s: response without status code: %s", name, w.Body)
				}
				if name == ValidateName && out.Response.Patch != nil {
					t.Fatalf("validator returned a patch: %s", w.Body)
				}
			case http.StatusBadRequest:
				if msg := w.Body.String(); strings.Count(msg, "\n") != 1 || !strings.HasSuffix(msg, "\n") {
					t.Fatalf("%s: 400 body is not one line: %q", name, msg)
				}
			default:
				t.Fatalf("%s: HTTP %d: %s\nbody %q", name, w.Code, w.Body, body)
			}
		}
	})
}
