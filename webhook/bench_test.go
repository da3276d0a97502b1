package webhook

import (
	"bytes"
	"context"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	"github.com/fluxgate/fluxgate/policy"
)

// staticRelated returns one prepared *policy.Related, as CacheRelated
// does for a namespace whose objects have not changed.
type staticRelated struct{ r *policy.Related }

func (s staticRelated) Related(context.Context, string) (*policy.Related, error) { return s.r, nil }

// benchObjects reads the policy package's benchmark manifests: a typical
// Flux-managed Deployment (podinfo) and its PDB and HPA.
func benchObjects(b *testing.B, name string) []map[string]any {
	b.Helper()
	raw, err := os.ReadFile("../policy/testdata/bench/" + name)
	if err != nil {
		b.Fatal(err)
	}
	var objs []map[string]any
	for _, doc := range bytes.Split(raw, []byte("\n---\n")) {
		objs = append(objs, obj(b, string(doc)))
	}
	return objs
}

// benchSetup returns the options and the review bodies of the benchmarks:
// the Deployment as the API server defaults it (the mutator patches
// maxUnavailable) and as the validator then sees it.
func benchSetup(b *testing.B) (opts Options, mutateBody, validateBody []byte) {
	b.Helper()
	related, err := policy.NewRelated(benchObjects(b, "related.yaml")...)
	if err != nil {
		b.Fatal(err)
	}
	opts = Options{Policies: builtinActive(b), Related: staticRelated{related}, Events: &countingRecorder{}, Metrics: newTestMetrics(b)}
	dep := benchObjects(b, "deployment.yaml")[0]
	mutateBody = reviewBody(b, request(b, admissionv1.Create, dep, nil))
	mutated := set(clone(b, dep), "spec.strategy.rollingUpdate.maxUnavailable", 0)
	validateBody = reviewBody(b, request(b, admissionv1.Create, mutated, nil))
	return opts, mutateBody, validateBody
}

var noopHandler = admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
	return admission.Allowed("")
})

// benchHandler measures one review through NewHTTPHandler, decoding and
// encoding included.
func benchHandler(b *testing.B, h http.Handler, body []byte, check func(*admissionv1.AdmissionResponse) bool) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, benchRequest(body))
	if w.Code != http.StatusOK {
		b.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	if resp := decodeBenchReview(b, w.Body.Bytes()); !check(resp) {
		b.Fatalf("unexpected response %s", w.Body)
	}
	b.ReportAllocs()
	for b.Loop() {
		w := httptest.NewRecorder()
		h.ServeHTTP(w, benchRequest(body))
		if w.Code != http.StatusOK {
			b.Fatalf("HTTP %d", w.Code)
		}
	}
}

func benchRequest(body []byte) *http.Request {
	r := httptest.NewRequest(http.MethodPost, ValidatePath, bytes.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	return r
}

func decodeBenchReview(b *testing.B, body []byte) *admissionv1.AdmissionResponse {
	b.Helper()
	var review admissionv1.AdmissionReview
	if err := sigsjson.UnmarshalCaseSensitivePreserveInts(body, &review); err != nil || review.Response == nil {
		b.Fatalf("bad review %s: %v", body, err)
	}
	return review.Response
}

func BenchmarkValidatorHandle(b *testing.B) {
	opts, _, body := benchSetup(b)
	h := NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Warnings) == 0 })
}

func BenchmarkMutatorHandle(b *testing.B) {
	opts, body, _ := benchSetup(b)
	h := NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Patch) > 0 })
}

func BenchmarkNoopHandle(b *testing.B) {
	_, _, body := benchSetup(b)
	h := NewHTTPHandler("noop", noopHandler, nil, logr.Discard())
	benchHandler(b, h, body, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed })
}

// benchServer sends reviews to h over HTTPS (HTTP/1.1, keep-alive, on
// 127.0.0.1) from parallel clients and reports the throughput and the
// latency percentiles clients saw.
func benchServer(b *testing.B, h http.Handler, body []byte) {
	b.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(h)
	_ = srv.Listener.Close()
	srv.Listener = ln
	srv.EnableHTTP2 = false
	srv.StartTLS()
	defer srv.Close()

	client := srv.Client()
	tr := client.Transport.(*http.Transport)
	tr.ForceAttemptHTTP2 = false
	tr.MaxIdleConnsPerHost = 1024
	url := srv.URL + ValidatePath

	send := func() (time.Duration, error) {
		start := time.Now()
		resp, err := client.Post(url, "application/json", bytes.NewReader(body))
		if err != nil {
			return 0, err
		}
		_, err = io.Copy(io.Discard, resp.Body)
		_ = resp.Body.Close()
		if err == nil && resp.StatusCode != http.StatusOK {
			err = &statusError{resp.StatusCode}
		}
		return time.Since(start), err
	}
	if _, err := send(); err != nil {
		b.Fatal(err)
	}

	var mu sync.Mutex
	var all []time.Duration
	b.ReportAllocs()
	b.ResetTimer()
	start := time.Now()
	b.RunParallel(func(pb *testing.PB) {
		local := make([]time.Duration, 0, 256)
		for pb.Next() {
			d, err := send()
			if err != nil {
				b.Error(err)
				return
			}
			local = append(local, d)
		}
		mu.Lock()
		all = append(all, local...)
		mu.Unlock()
	})
	elapsed := time.Since(start)
	b.StopTimer()
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "reviews/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

func BenchmarkHTTPSServer(b *testing.B) {
	opts, mutateBody, validateBody := benchSetup(b)
	b.Run("validate", func(b *testing.B) {
		benchServer(b, NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard()), validateBody)
	})
	b.Run("mutate", func(b *testing.B) {
		benchServer(b, NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard()), mutateBody)
	})
}

func BenchmarkHTTPSServerNoop(b *testing.B) {
	_, _, body := benchSetup(b)
	benchServer(b, NewHTTPHandler("noop", noopHandler, nil, logr.Discard()), body)
}
