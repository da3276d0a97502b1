package webhook

import (
	"bytes"
	"context"
	jsonv1 "encoding/json"
	jsonv2 "encoding/json/v2"
	"errors"
	"fmt"
	"io"
	"mime"
	"net/http"
	"runtime/debug"
	"strings"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionv1 "k8s.io/api/admission/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/controller-runtime/pkg/webhook/admission"
)

// MaxRequestBytes bounds an AdmissionReview body. The API server limits
// an object to 3 MiB and a review carries up to two (object and
// oldObject), plus the request's own fields.
const MaxRequestBytes = 7 << 20

var admissionReviewType = metav1.TypeMeta{APIVersion: admissionv1.SchemeGroupVersion.String(), Kind: "AdmissionReview"}

// httpHandler serves AdmissionReview v1 for one admission.Handler.
type httpHandler struct {
	name string
	h    admission.Handler
	m    *Metrics
	log  logr.Logger
}

// NewHTTPHandler serves h over HTTP as the webhook called name (use
// MutateName or ValidateName for fluxgate's handlers: the name labels
// metrics and logs). It accepts AdmissionReview v1 only, strictly: a POST
// with Content-Type application/json and a body of at most
// MaxRequestBytes holding a review with a request and its uid. Anything
// else is answered with an HTTP error and a one-line reason, 400 for a
// bad body, 405 for another method, 415 for another content type; the API
// server never sends such requests, so they are logged and counted. A
// panic in h is recovered and answered with HTTP 500.
func NewHTTPHandler(name string, h admission.Handler, m *Metrics, log logr.Logger) http.Handler {
	return &httpHandler{name: name, h: h, m: m, log: log.WithValues("webhook", name)}
}

// ServeHTTP answers one AdmissionReview.
func (s *httpHandler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	start := time.Now()
	code := s.serve(w, r)
	s.m.request(s.name, code, time.Since(start))
}

func (s *httpHandler) serve(w http.ResponseWriter, r *http.Request) int {
	review, code, msg := s.read(r)
	if code != http.StatusOK {
		s.m.error(s.name, ReasonBadRequest)
		s.log.Info("rejecting bad admission request", "code", code, "reason", msg, "remote", r.RemoteAddr)
		if code == http.StatusMethodNotAllowed {
			w.Header().Set("Allow", http.MethodPost)
		}
		http.Error(w, msg, code)
		return code
	}

	req := admission.Request{AdmissionRequest: *review.Request}
	ctx, cancel := withAPIServerTimeout(r)
	resp, err := s.call(ctx, &req)
	cancel()
	if errors.Is(err, errPanicked) {
		http.Error(w, "internal error: the admission handler failed", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	if err != nil {
		// Not an AdmissionReview: the API server applies the webhook's
		// failurePolicy. No Retry-After, which would make the API
		// server's client retry into the same burst.
		http.Error(w, printable(err.Error()), http.StatusServiceUnavailable)
		return http.StatusServiceUnavailable
	}
	if err := resp.Complete(req); err != nil {
		s.m.error(s.name, ReasonEncode)
		s.log.Error(err, "encoding the admission response failed", "uid", req.UID)
		resp = admission.Errored(http.StatusInternalServerError, fmt.Errorf("fluxgate could not encode its response: %w", err))
		resp.UID = req.UID
	}
	body := getBuffer()
	defer putBuffer(body)
	// As encoding/json.Marshal does, into a reused buffer.
	if err := jsonv2.MarshalWrite(body, admissionv1.AdmissionReview{TypeMeta: admissionReviewType, Response: &resp.AdmissionResponse}, encodeOptions); err != nil {
		s.m.error(s.name, ReasonEncode)
		s.log.Error(err, "encoding the admission review failed", "uid", req.UID)
		http.Error(w, "internal error: cannot encode the admission review", http.StatusInternalServerError)
		return http.StatusInternalServerError
	}
	w.Header()["Content-Type"] = jsonContentType
	w.WriteHeader(http.StatusOK)
	if _, err := w.Write(body.Bytes()); err != nil {
		s.log.V(1).Info("writing the admission response failed", "uid", req.UID, "error", err.Error())
	}
	if v := s.log.V(1); v.Enabled() {
		v.Info("admission", "uid", req.UID, "operation", req.Operation, "kind", req.Kind.Kind,
			"namespace", req.Namespace, "name", req.Name, "allowed", resp.Allowed, "code", resp.Result.Code)
	}
	return http.StatusOK
}

// read checks and decodes the request. On failure it returns the HTTP
// status and a one-line message for the client.
func (s *httpHandler) read(r *http.Request) (*admissionv1.AdmissionReview, int, string) {
	if r.Method != http.MethodPost {
		return nil, http.StatusMethodNotAllowed, fmt.Sprintf("method %s not allowed: send AdmissionReview with POST", r.Method)
	}
	ct := r.Header.Get("Content-Type")
	if ct != "application/json" { // what the API server sends, parsed only if it differs
		if mt, _, err := mime.ParseMediaType(ct); err != nil || mt != "application/json" {
			return nil, http.StatusUnsupportedMediaType, fmt.Sprintf("content type %q not supported: want application/json", ct)
		}
	}
	if r.ContentLength > MaxRequestBytes {
		return nil, http.StatusBadRequest, fmt.Sprintf("request body of %d bytes exceeds the limit of %d bytes", r.ContentLength, MaxRequestBytes)
	}
	if r.Body == nil {
		return nil, http.StatusBadRequest, "empty request body: want an AdmissionReview"
	}
	// The review is decoded into copies, so the body's buffer is reused.
	buf := getBuffer()
	defer putBuffer(buf)
	if r.ContentLength > 0 {
		buf.Grow(int(r.ContentLength) + bytes.MinRead)
	}
	if _, err := buf.ReadFrom(io.LimitReader(r.Body, MaxRequestBytes+1)); err != nil {
		return nil, http.StatusBadRequest, fmt.Sprintf("read request body: %v", err)
	}
	body := buf.Bytes()
	switch {
	case len(body) == 0:
		return nil, http.StatusBadRequest, "empty request body: want an AdmissionReview"
	case len(body) > MaxRequestBytes:
		return nil, http.StatusBadRequest, fmt.Sprintf("request body exceeds the limit of %d bytes", MaxRequestBytes)
	}
	review := &admissionv1.AdmissionReview{}
	// Case-sensitive, as the API machinery decodes: "Request" is not
	// "request".
	if err := unmarshalReview(body, review); err != nil {
		return nil, http.StatusBadRequest, fmt.Sprintf("invalid AdmissionReview JSON: %s", printable(err.Error()))
	}
	if review.TypeMeta != admissionReviewType {
		return nil, http.StatusBadRequest, fmt.Sprintf("got apiVersion %q kind %q: want %s %s",
			review.APIVersion, review.Kind, admissionReviewType.APIVersion, admissionReviewType.Kind)
	}
	if review.Request == nil {
		return nil, http.StatusBadRequest, "AdmissionReview has no request"
	}
	if review.Request.UID == "" {
		return nil, http.StatusBadRequest, "AdmissionReview request has no uid"
	}
	return review, http.StatusOK, ""
}

// jsonContentType is the Content-Type of every review fluxgate answers,
// shared rather than allocated per response; net/http only reads it.
var jsonContentType = []string{"application/json"}

// encodeOptions encode as encoding/json.Marshal does.
var encodeOptions = jsonv1.DefaultOptionsV1()

// buffers hold request bodies and encoded responses between requests.
var buffers = sync.Pool{New: func() any { return new(bytes.Buffer) }}

// maxPooledBuffer bounds the buffers kept for reuse: the buffer of an
// unusually large review is left to the garbage collector.
const maxPooledBuffer = 256 << 10

func getBuffer() *bytes.Buffer { return buffers.Get().(*bytes.Buffer) }

func putBuffer(b *bytes.Buffer) {
	if b.Cap() > maxPooledBuffer {
		return
	}
	b.Reset()
	buffers.Put(b)
}

// errPanicked is call's error for a handler that panicked.
var errPanicked = errors.New("the admission handler panicked")

// call runs the admission handler, recovering a panic (errPanicked). Any
// other error is a review's ErrBusy, from fluxgate's own handlers
// (reviewer).
func (s *httpHandler) call(ctx context.Context, req *admission.Request) (resp admission.Response, err error) {
	defer func() {
		if p := recover(); p != nil {
			s.m.error(s.name, ReasonPanic)
			s.log.Error(fmt.Errorf("panic: %v", p), "admission handler panicked", "uid", req.UID,
				"kind", req.Kind.Kind, "namespace", req.Namespace, "name", req.Name, "stack", string(debug.Stack()))
			err = errPanicked
		}
	}()
	if rv, ok := s.h.(reviewer); ok {
		return rv.review(ctx, req)
	}
	return s.h.Handle(ctx, *req), nil
}

// withAPIServerTimeout returns the request's context, ended by
// answerWithin of its query when the API server gave a timeout.
func withAPIServerTimeout(r *http.Request) (context.Context, context.CancelFunc) {
	if d, ok := answerWithin(r.URL.RawQuery); ok {
		return context.WithTimeout(r.Context(), d)
	}
	return r.Context(), func() {}
}

// answerWithin returns how long fluxgate may take to answer a call whose
// raw query is rawQuery: nine tenths of the timeout the API server gives
// it. The API server sends the webhook's timeoutSeconds as the query
// parameter timeout ("timeout=3s") and never reads an answer after it, so
// a review waiting for an evaluation slot, or evaluating, gives up while
// its answer still counts. ok is false without a valid, positive timeout.
func answerWithin(rawQuery string) (d time.Duration, ok bool) {
	for q := rawQuery; q != ""; {
		var kv string
		kv, q, _ = strings.Cut(q, "&")
		v, found := strings.CutPrefix(kv, "timeout=")
		if !found {
			continue
		}
		t, err := time.ParseDuration(v)
		if err != nil || t <= 0 {
			return 0, false
		}
		return t - t/10, true
	}
	return 0, false
}
