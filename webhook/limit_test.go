package webhook

import (
	"bytes"
	"context"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	"github.com/prometheus/client_golang/prometheus/testutil"
	admissionv1 "k8s.io/api/admission/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"

	"github.com/fluxgate/fluxgate/policy"
)

// gatedRelated is a RelatedSource that holds every caller until open is
// closed, counting how many are inside at once. The handlers read the
// related objects while they hold an evaluation slot, so inside is the
// number of slots in use.
type gatedRelated struct {
	open chan struct{}

	mu           sync.Mutex
	inside, most int
	calls        int
}

func (g *gatedRelated) Related(ctx context.Context, _ string) (*policy.Related, error) {
	g.mu.Lock()
	g.inside++
	g.calls++
	g.most = max(g.most, g.inside)
	g.mu.Unlock()
	defer func() {
		g.mu.Lock()
		g.inside--
		g.mu.Unlock()
	}()
	select {
	case <-g.open:
	case <-ctx.Done():
		return nil, ctx.Err()
	}
	return policy.NewRelated()
}

func (g *gatedRelated) state() (inside, most, calls int) {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.inside, g.most, g.calls
}

// waitFor polls cond until it holds, giving up after a minute (a bound
// against hanging, not a measurement).
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	giveUp := time.Now().Add(time.Minute)
	for !cond() {
		if t.Context().Err() != nil || time.Now().After(giveUp) {
			t.Errorf("gave up waiting until %s", what)
			return
		}
		time.Sleep(time.Millisecond)
	}
}

// gauge reads a gauge of m for a webhook.
func gauge(m *Metrics, vec string, webhook string) float64 {
	switch vec {
	case "in_flight":
		return testutil.ToFloat64(m.inFlight.WithLabelValues(webhook))
	case "waiting":
		return testutil.ToFloat64(m.waitingReviews.WithLabelValues(webhook))
	}
	panic(vec)
}

// A burst of reviews, through both webhooks sharing one limiter, never
// has more than the cap evaluating at once; the rest wait, are counted as
// waiting, and are all answered once slots free. Run with -race.
func TestReviewLimiterCapsBurst(t *testing.T) {
	for _, tc := range []struct {
		name   string
		cap    int
		burst  int
		mutate bool // half the burst goes to the mutator
	}{
		{name: "one slot", cap: 1, burst: 8},
		{name: "three slots, both webhooks", cap: 3, burst: 24, mutate: true},
		{name: "more slots than reviews", cap: 32, burst: 6, mutate: true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := &gatedRelated{open: make(chan struct{})}
			m := newTestMetrics(t)
			opts := Options{
				Policies: builtinActive(t), Related: gate, Metrics: m,
				Reviews: NewReviewLimiter(tc.cap),
				// Long enough that no review gives up: this test is about
				// the cap, not about the wait ending.
				EvalTimeout: time.Hour,
			}
			validate := NewHTTPHandler(ValidateName, NewValidator(opts), m, logr.Discard())
			mutate := NewHTTPHandler(MutateName, NewMutator(opts), m, logr.Discard())
			body := reviewBody(t, request(t, admissionv1.Create, obj(t, webDeployment), nil))

			codes := make(chan int, tc.burst)
			var wg sync.WaitGroup
			for i := range tc.burst {
				h := validate
				if tc.mutate && i%2 == 1 {
					h = mutate
				}
				wg.Go(func() { codes <- post(h, "application/json", body).Code })
			}

			busy := min(tc.cap, tc.burst)
			waitFor(t, "the slots are taken and the rest wait", func() bool {
				inside, _, _ := gate.state()
				waiting := gauge(m, "waiting", ValidateName) + gauge(m, "waiting", MutateName)
				return inside == busy && int(waiting) == tc.burst-busy
			})
			if got := gauge(m, "in_flight", ValidateName) + gauge(m, "in_flight", MutateName); int(got) != busy {
				t.Errorf("in flight = %v, want %d", got, busy)
			}
			if got := testutil.ToFloat64(m.MaxConcurrentReviews); int(got) != tc.cap {
				t.Errorf("max concurrent reviews = %v, want %d", got, tc.cap)
			}

			close(gate.open)
			wg.Wait()
			close(codes)
			for code := range codes {
				if code != http.StatusOK {
					t.Errorf("HTTP %d, want 200", code)
				}
			}
			if _, most, calls := gate.state(); most != busy || calls != tc.burst {
				t.Errorf("at most %d evaluating at once over %d reviews, want %d over %d", most, calls, busy, tc.burst)
			}
			for _, name := range []string{ValidateName, MutateName} {
				if got := gauge(m, "in_flight", name) + gauge(m, "waiting", name); got != 0 {
					t.Errorf("%s: in flight + waiting = %v after the burst, want 0", name, got)
				}
				if got := testutil.ToFloat64(m.errors.WithLabelValues(name, ReasonBusy)); got != 0 {
					t.Errorf("%s: %v busy errors, want none", name, got)
				}
			}
		})
	}
}

// A review that waits for a slot and whose wait ends gets a clear error:
// HTTP 503 through NewHTTPHandler, so that the failurePolicy applies, and
// the handlers' own answers through Handle. No evaluation runs for it.
func TestReviewWaitEnds(t *testing.T) {
	web := obj(t, webDeployment)
	for _, tc := range []struct {
		name string
		// evalTimeout bounds the wait; query is the call's query, as the
		// API server sends it; cancel ends the request's context once the
		// review waits.
		evalTimeout time.Duration
		query       string
		cancel      bool
		user        string
		mutate      bool
		direct      bool // call Handle, not NewHTTPHandler

		code     int    // HTTP status
		allowed  bool   // for 200
		rcode    int32  // the review's result code, for 200
		contains string // in the body, or the result message or warning
	}{
		{name: "request ends while waiting", evalTimeout: time.Hour, cancel: true,
			code: 503, contains: "the request ended after waiting"},
		{name: "no slot frees within the evaluation timeout", evalTimeout: 5 * time.Millisecond,
			code: 503, contains: "stayed taken for"},
		{name: "API server's timeout ends the wait", evalTimeout: time.Hour, query: "timeout=20ms",
			code: 503, contains: "context deadline exceeded"},
		{name: "mutator, request ends", evalTimeout: time.Hour, cancel: true, mutate: true,
			code: 503, contains: "fluxgate could not mutate Deployment shop/web: fluxgate is busy"},
		{name: "fluxgate's own user is admitted with a warning", evalTimeout: 5 * time.Millisecond, user: ownUser,
			code: 200, allowed: true, rcode: 200, contains: "fluxgate is busy"},
		{name: "Handle: the validator fails closed", evalTimeout: 5 * time.Millisecond, direct: true,
			code: 200, allowed: false, rcode: 503, contains: "fluxgate could not evaluate Deployment shop/web: fluxgate is busy"},
		{name: "Handle: the mutator admits unchanged", evalTimeout: 5 * time.Millisecond, direct: true, mutate: true,
			code: 200, allowed: true, rcode: 200, contains: "fluxgate is busy"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			gate := &gatedRelated{open: make(chan struct{})}
			close(gate.open)
			m := newTestMetrics(t)
			limiter := NewReviewLimiter(1)
			limiter.slots <- struct{}{} // the one slot is taken
			opts := Options{Policies: builtinActive(t), Related: gate, Metrics: m, Reviews: limiter,
				EvalTimeout: tc.evalTimeout, ServiceAccount: ownUser}
			name := ValidateName
			var h admission.Handler = NewValidator(opts)
			if tc.mutate {
				name = MutateName
				h = NewMutator(opts)
			}
			var opt []func(*admission.Request)
			if tc.user != "" {
				opt = append(opt, asUser(tc.user))
			}
			req := request(t, admissionv1.Create, web, nil, opt...)

			ctx, cancel := context.WithCancel(t.Context())
			defer cancel()
			if tc.cancel {
				go func() {
					waitFor(t, "the review waits", func() bool { return gauge(m, "waiting", name) == 1 })
					cancel()
				}()
			}

			var code int
			var text string
			var resp *admissionv1.AdmissionResponse
			if tc.direct {
				r := h.Handle(ctx, req)
				code, resp = http.StatusOK, &r.AdmissionResponse
			} else {
				r := httptest.NewRequestWithContext(ctx, http.MethodPost, "/x?"+tc.query, bytes.NewReader(reviewBody(t, req)))
				r.Header.Set("Content-Type", "application/json")
				w := httptest.NewRecorder()
				NewHTTPHandler(name, h, m, logr.Discard()).ServeHTTP(w, r)
				code, text = w.Code, w.Body.String()
				if code == http.StatusOK {
					resp = decodeReview(t, w)
				}
			}

			if code != tc.code {
				t.Fatalf("HTTP %d, want %d: %s", code, tc.code, text)
			}
			if resp != nil {
				if resp.Allowed != tc.allowed || resp.Result == nil || resp.Result.Code != tc.rcode {
					t.Errorf("allowed %v, result %+v; want allowed %v, code %d", resp.Allowed, resp.Result, tc.allowed, tc.rcode)
				}
				text = resp.Result.Message + "\n" + strings.Join(resp.Warnings, "\n")
			}
			if !strings.Contains(text, tc.contains) {
				t.Errorf("answer %q does not say %q", text, tc.contains)
			}
			if _, _, calls := gate.state(); calls != 0 {
				t.Errorf("the related objects were read %d times without a slot", calls)
			}
			if got := histogramCount(t, m, name); got != 0 {
				t.Errorf("%d evaluations observed without a slot", got)
			}
			if got := testutil.ToFloat64(m.errors.WithLabelValues(name, ReasonBusy)); got != 1 {
				t.Errorf("busy errors = %v, want 1", got)
			}
			if got := gauge(m, "waiting", name) + gauge(m, "in_flight", name); got != 0 {
				t.Errorf("waiting + in flight = %v after the answer, want 0", got)
			}
		})
	}
}

func TestAnswerWithin(t *testing.T) {
	for _, tc := range []struct {
		query string
		want  time.Duration
		ok    bool
	}{
		{query: "timeout=3s", want: 2700 * time.Millisecond, ok: true},
		{query: "timeout=10s", want: 9 * time.Second, ok: true},
		{query: "a=b&timeout=2s&c", want: 1800 * time.Millisecond, ok: true},
		{query: "timeout=250ms", want: 225 * time.Millisecond, ok: true},
		{query: ""},
		{query: "timeouts=3s"},
		{query: "timeout=3"},
		{query: "timeout=-1s"},
		{query: "timeout=0s"},
	} {
		got, ok := answerWithin(tc.query)
		if got != tc.want || ok != tc.ok {
			t.Errorf("answerWithin(%q) = %v, %v; want %v, %v", tc.query, got, ok, tc.want, tc.ok)
		}
	}
}

func TestNewReviewLimiterSize(t *testing.T) {
	for _, tc := range []struct {
		n, want int
	}{
		{n: 4, want: 4},
		{n: 1, want: 1},
		{n: 0, want: runtime.GOMAXPROCS(0)},
		{n: -3, want: runtime.GOMAXPROCS(0)},
	} {
		if got := NewReviewLimiter(tc.n).Size(); got != tc.want {
			t.Errorf("NewReviewLimiter(%d).Size() = %d, want %d", tc.n, got, tc.want)
		}
	}
	if got := DefaultMaxConcurrentReviews(); got != runtime.GOMAXPROCS(0) {
		t.Errorf("DefaultMaxConcurrentReviews() = %d, want GOMAXPROCS %d", got, runtime.GOMAXPROCS(0))
	}
}
