package webhook

import (
	"bufio"
	"bytes"
	"context"
	"crypto/tls"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
	sigsjson "sigs.k8s.io/json"

	"github.com/fluxgate/fluxgate/internal/testenv"
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

// withManagedFields returns obj with the metadata.managedFields the API
// server keeps for an object Flux applies: kustomize-controller's
// server-side apply of every field and the controller's status update,
// each a tree of the fields it set (fieldsV1), as every review carries.
func withManagedFields(b *testing.B, obj map[string]any) map[string]any {
	b.Helper()
	obj = clone(b, obj)
	spec := map[string]any{"metadata": obj["metadata"], "spec": obj["spec"]}
	status := map[string]any{"status": map[string]any{
		"availableReplicas": 3, "observedGeneration": 1, "readyReplicas": 3, "replicas": 3, "updatedReplicas": 3,
		"conditions": []any{map[string]any{"type": "Available"}, map[string]any{"type": "Progressing"}},
	}}
	meta := obj["metadata"].(map[string]any)
	meta["managedFields"] = []any{
		map[string]any{"manager": "kustomize-controller", "operation": "Apply", "apiVersion": "apps/v1",
			"time": "2026-12-01T10:00:00Z", "fieldsType": "FieldsV1", "fieldsV1": fieldsV1(spec)},
		map[string]any{"manager": "kube-controller-manager", "operation": "Update", "apiVersion": "apps/v1",
			"time": "2026-12-01T10:00:05Z", "fieldsType": "FieldsV1", "fieldsV1": fieldsV1(status), "subresource": "status"},
	}
	return obj
}

// fieldsV1 is the field set of v as the API server records it: "f:name"
// per field, "k:{...}" per list item keyed by name or type.
func fieldsV1(v any) any {
	out := map[string]any{}
	switch v := v.(type) {
	case map[string]any:
		for k, x := range v {
			out["f:"+k] = fieldsV1(x)
		}
	case []any:
		for _, x := range v {
			m, ok := x.(map[string]any)
			if !ok {
				return map[string]any{}
			}
			for _, key := range []string{"name", "type", "containerPort", "mountPath"} {
				if id, ok := m[key]; ok {
					item := fieldsV1(m).(map[string]any)
					item["."] = map[string]any{}
					out[fmt.Sprintf("k:{%q:%q}", key, fmt.Sprint(id))] = item
					break
				}
			}
		}
	}
	return out
}

var noopHandler = admission.HandlerFunc(func(context.Context, admission.Request) admission.Response {
	return admission.Allowed("")
})

// benchHandler measures one review through NewHTTPHandler, decoding and
// encoding included. The request and the response writer are reused, so
// that what is measured is the handler, not net/http/httptest. When m is
// given, the benchmark also reports the engine's share (the evaluation
// time m observed for the webhook called name) and the rest, in µs/op.
func benchHandler(b *testing.B, h http.Handler, body []byte, m *Metrics, name string, check func(*admissionv1.AdmissionResponse) bool, vary func(n int)) {
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
	start, cpu := time.Now(), testenv.ProcessCPU()
	for b.Loop() {
		if vary != nil {
			vary(n)
		}
		rd.Reset(body)
		bw.reset()
		h.ServeHTTP(bw, r)
		if bw.code != http.StatusOK {
			b.Fatalf("HTTP %d", bw.code)
		}
		n++
	}
	b.ReportMetric(float64(testenv.ProcessCPU()-cpu)/float64(n), "cpu-ns/op")
	if m != nil {
		total := time.Since(start).Seconds() / float64(n) * 1e6
		engine := (evalSeconds(b, m, name) - engineBefore) / float64(n) * 1e6
		b.ReportMetric(engine, "engine-µs/op")
		b.ReportMetric(total-engine, "rest-µs/op")
	}
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
	benchHandler(b, h, body, opts.Metrics, ValidateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Warnings) == 0 }, nil)
}

// BenchmarkValidatorHandleManagedFields is BenchmarkValidatorHandle on
// the review the API server sends for the same Deployment once Flux has
// applied it: with its metadata.managedFields, which the handler skips.
func BenchmarkValidatorHandleManagedFields(b *testing.B) {
	opts, _, _ := benchSetup(b)
	dep := set(benchObjects(b, "deployment.yaml")[0], "spec.strategy.rollingUpdate.maxUnavailable", 0)
	body := reviewBody(b, request(b, admissionv1.Update, withManagedFields(b, dep), withManagedFields(b, dep)))
	b.Logf("review of %d bytes", len(body))
	h := NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, opts.Metrics, ValidateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Warnings) == 0 }, nil)
}

// BenchmarkValidatorHandleUncached is BenchmarkValidatorHandle with a
// label whose value changes with every review, so that no decision comes
// from the engine's decision cache: the engine's share is a whole
// evaluation.
func BenchmarkValidatorHandleUncached(b *testing.B) {
	opts, _, _ := benchSetup(b)
	const seq = "00000000"
	dep := set(benchObjects(b, "deployment.yaml")[0], "spec.strategy.rollingUpdate.maxUnavailable", 0)
	body := reviewBody(b, request(b, admissionv1.Create, set(dep, "metadata.labels.bench-seq", seq), nil))
	at := bytes.Index(body, []byte(`"bench-seq":"`+seq+`"`)) + len(`"bench-seq":"`)
	h := NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, opts.Metrics, ValidateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Warnings) == 0 },
		func(n int) { copy(body[at:at+len(seq)], fmt.Sprintf("%08d", n+1)) })
}

func BenchmarkMutatorHandle(b *testing.B) {
	opts, body, _ := benchSetup(b)
	h := NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard())
	benchHandler(b, h, body, opts.Metrics, MutateName, func(r *admissionv1.AdmissionResponse) bool { return r.Allowed && len(r.Patch) > 0 }, nil)
}

func BenchmarkNoopHandle(b *testing.B) {
	_, _, body := benchSetup(b)
	h := NewHTTPHandler("noop", noopHandler, nil, logr.Discard())
	benchHandler(b, h, body, nil, "", func(r *admissionv1.AdmissionResponse) bool { return r.Allowed }, nil)
}

// benchConns is how many connections the HTTPS benchmarks keep open, each
// with one review in flight at a time: the API server likewise calls a
// webhook over a pool of HTTP/1.1 keep-alive connections (fluxgate serves
// HTTP/2 only with --enable-http2). Four is twice the evaluation slots of
// a 2-core machine, so a review is always ready when a slot frees, while
// a review waits behind at most one other per slot.
const benchConns = 4

// benchServer sends reviews to h over HTTPS from benchConns connections
// and reports the throughput (reviews/s), the latency percentiles the
// clients saw (p50-µs, p99-µs) and the process's CPU time per review,
// the clients' included (cpu-µs/review). The server is net/http's, with
// TLS 1.3 and HTTP/1.1 as fluxgate serves them; the handlers run under
// their evaluation cap. The clients are lean, so that the figures are
// the server's: each owns one TLS connection and writes the request
// bytes, prepared once, then reads the response, in the same goroutine,
// where net/http's Transport would hand every request to a connection's
// reader and writer goroutines.
func benchServer(b *testing.B, h http.Handler, bodies ...[]byte) {
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
	tlsConfig := srv.Client().Transport.(*http.Transport).TLSClientConfig.Clone()
	tlsConfig.NextProtos = []string{"http/1.1"}

	// The API server sends the webhook's timeoutSeconds as ?timeout=.
	requests := make([][]byte, len(bodies))
	for i, body := range bodies {
		head := fmt.Sprintf("POST %s?timeout=3s HTTP/1.1\r\nHost: %s\r\nContent-Type: application/json\r\nAccept: application/json, */*\r\nContent-Length: %d\r\n\r\n",
			ValidatePath, ln.Addr(), len(body))
		requests[i] = append([]byte(head), body...)
	}
	var next atomic.Uint64
	clients := make([]*benchClient, benchConns)
	for i := range clients {
		c, err := dialBench(ln.Addr().String(), tlsConfig, requests, &next)
		if err != nil {
			b.Fatal(err)
		}
		defer c.conn.Close()
		if _, err := c.send(); err != nil { // the handshake and a first review
			b.Fatal(err)
		}
		clients[i] = c
	}

	var left atomic.Int64
	left.Store(int64(b.N))
	latencies := make([][]time.Duration, len(clients))
	b.ReportAllocs()
	b.ResetTimer()
	start, cpu := time.Now(), testenv.ProcessCPU()
	var wg sync.WaitGroup
	for i, c := range clients {
		wg.Go(func() {
			local := make([]time.Duration, 0, b.N/len(clients)+1)
			for left.Add(-1) >= 0 {
				d, err := c.send()
				if err != nil {
					b.Error(err)
					return
				}
				local = append(local, d)
			}
			latencies[i] = local
		})
	}
	wg.Wait()
	elapsed, cpuUsed := time.Since(start), testenv.ProcessCPU()-cpu
	b.StopTimer()
	all := slices.Concat(latencies...)
	if len(all) == 0 {
		return
	}
	slices.Sort(all)
	pct := func(p float64) float64 { return float64(all[int(p*float64(len(all)-1))]) / float64(time.Microsecond) }
	b.ReportMetric(float64(len(all))/elapsed.Seconds(), "reviews/s")
	b.ReportMetric(pct(0.50), "p50-µs")
	b.ReportMetric(pct(0.99), "p99-µs")
	b.ReportMetric(float64(cpuUsed)/float64(len(all))/float64(time.Microsecond), "cpu-µs/review")
}

// benchClient is one keep-alive connection of benchServer. The clients
// send the requests in turn, each the next one no client sent yet.
type benchClient struct {
	conn     *tls.Conn
	r        *bufio.Reader
	requests [][]byte
	next     *atomic.Uint64
}

func dialBench(addr string, config *tls.Config, requests [][]byte, next *atomic.Uint64) (*benchClient, error) {
	conn, err := tls.Dial("tcp", addr, config)
	if err != nil {
		return nil, fmt.Errorf("dial %s: %w", addr, err)
	}
	return &benchClient{conn: conn, r: bufio.NewReaderSize(conn, 16<<10), requests: requests, next: next}, nil
}

// send sends one review and reads its answer, which must be HTTP 200.
func (c *benchClient) send() (time.Duration, error) {
	request := c.requests[(c.next.Add(1)-1)%uint64(len(c.requests))]
	start := time.Now()
	if _, err := c.conn.Write(request); err != nil {
		return 0, fmt.Errorf("write the review: %w", err)
	}
	resp, err := http.ReadResponse(c.r, nil)
	if err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	_, err = io.Copy(io.Discard, resp.Body)
	_ = resp.Body.Close()
	if err != nil {
		return 0, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode != http.StatusOK {
		return 0, &statusError{resp.StatusCode}
	}
	return time.Since(start), nil
}

type statusError struct{ code int }

func (e *statusError) Error() string { return http.StatusText(e.code) }

func BenchmarkHTTPSServer(b *testing.B) {
	opts, mutateBody, validateBody := benchSetup(b)
	b.Run("validate", func(b *testing.B) {
		benchServer(b, NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard()), validateBody)
	})
	// Every review a Deployment the server has not seen: twice as many
	// as the decision cache holds, sent in turn, so none is answered from
	// it.
	b.Run("validate-new", func(b *testing.B) {
		dep := set(clone(b, benchObjects(b, "deployment.yaml")[0]), "spec.strategy.rollingUpdate.maxUnavailable", 0)
		bodies := make([][]byte, 16384)
		for i := range bodies {
			set(dep, "metadata.labels.revision", strconv.Itoa(i))
			bodies[i] = reviewBody(b, request(b, admissionv1.Create, dep, nil))
		}
		benchServer(b, NewHTTPHandler(ValidateName, NewValidator(opts), opts.Metrics, logr.Discard()), bodies...)
	})
	b.Run("mutate", func(b *testing.B) {
		benchServer(b, NewHTTPHandler(MutateName, NewMutator(opts), opts.Metrics, logr.Discard()), mutateBody)
	})
}

func BenchmarkHTTPSServerNoop(b *testing.B) {
	_, _, body := benchSetup(b)
	benchServer(b, NewHTTPHandler("noop", noopHandler, nil, logr.Discard()), body)
}
