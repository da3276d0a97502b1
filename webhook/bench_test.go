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
	"syscall"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
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
// encoding included. The request and the response writer are reused, so
// that what is measured is the handler, not net/http/httptest. When m is
// given, the benchmark also reports the engine's share (the evaluation
// time m observed for the webhook called name) and the rest, in µs/op.
func benchHandler(b *testing.B, h http.Handler, body []byte, m *Metrics, name string, check func(*admissionv1.AdmissionResponse) bool) {
	b.Helper()
	w := httptest.NewRecorder()
	h.ServeHTTP(w, benchRequest(body))
	if w.Code != http.StatusOK {
		b.Fatalf("HTTP %d: %s", w.Code, w.Body)
	}
	if resp := decodeBenchReview(b, w.Body.Bytes()); !check(resp) {
		b.Fatalf("unexpected response %s", w.Body)
	}
	r := benchRequest(body)
	rd := bytes.NewReader(body)
	r.Body = io.NopCloser(rd)
	bw := &benchWriter{header: http.Header{}}
	engineBefore := evalSeconds(b, m, name)
	b.ReportAllocs()
	n := 0
	start, cpu := time.Now(), processCPU()
	for b.Loop() {
		rd.Reset(body)
		bw.reset()
		h.ServeHTTP(bw, r)
		if bw.code != http.StatusOK {
			b.Fatalf("HTTP %d", bw.code)
		}
		n++
	}
	b.ReportMetric(float64(processCPU()-cpu)/float64(n), "cpu-ns/op")
	if m != nil {
		total := time.Since(start).Seconds() / float64(n) * 1e6
		engine := (evalSeconds(b, m, name) - engineBefore) / float64(n) * 1e6
		b.ReportMetric(engine, "engine-µs/op")
		b.ReportMetric(total-engine, "rest-µs/op")
	}
}

// processCPU is the process's CPU time (user and system, every thread,
// the garbage collector's included). On a machine shared with other work,
// wall-clock ns/op grows with the load and CPU time per operation does
// not, so the benchmarks report both.
func processCPU() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// evalSeconds is the evaluation time m observed for the webhook called
// name, in seconds; 0 without m.
func evalSeconds(b *testing.B, m *Metrics, name string) float64 {
	b.Helper()
	if m == nil {
		return 0
	}
	var out dto.Metric
	if err := m.evalDuration.WithLabelValues(name).(prometheus.Histogram).Write(&out); err != nil {
		b.Fatal(err)
	}
	return out.GetHistogram().GetSampleSum()
}

// benchWriter is an http.ResponseWriter that keeps only the status code
// and reuses its header and buffer.
type benchWriter struct {
	header http.Header
	code   int
	body   []byte
}

func (w *benchWriter) Header() http.Header { return w.header }

func (w *benchWriter) WriteHeader(code int) { w.code = code }

func (w *benchWriter) Write(p []byte) (int, error) {
	if w.code == 0 {
		w.code = http.StatusOK
	}
	w.body = append(w.body, p...)
	return len(p), nil
}

func (w *benchWriter) reset() {
	clear(w.header)
	w.code = 0
	w.body = w.body[:0]
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
	benchHandler(b, h, body, opts.Metrics, ValidateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Warnings) == 0 })
}

func BenchmarkMutatorHandle(b *testing.B) {
	opts, body, _ := benchSetup(b)
	h := NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, opts.Metrics, MutateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Patch) > 0 })
}

func BenchmarkNoopHandle(b *testing.B) {
	_, _, body := benchSetup(b)
	h := NewHTTPHandler("noop", noopHandler, nil, logr.Discard())
	benchHandler(b, h, body, nil, "", func(r *admissionv1.AdmissionResponse) bool { return r.Allowed })
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
