package webhook

import (
	"context"
	"errors"
	"fmt"
	"runtime"
	"time"
)

// DefaultMaxConcurrentReviews returns the cap NewReviewLimiter uses when
// it is given no positive size: runtime.GOMAXPROCS(0), one evaluation per
// core the process may use (Go sets GOMAXPROCS from the container's CPU
// limit). An evaluation is CPU-bound, as the related objects and the
// maintenance state are read from memory, so more of them at once would
// only share the same cores while each holds its decoded object and the
// engine's working memory.
func DefaultMaxConcurrentReviews() int {
	return runtime.GOMAXPROCS(0)
}

// ErrBusy is the error a review gets when no evaluation slot freed before
// its wait ended (see ReviewLimiter). NewHTTPHandler answers it with HTTP
// 503, so that the webhook configuration's failurePolicy decides what
// becomes of the request.
var ErrBusy = errors.New("fluxgate is busy")

// ReviewLimiter caps how many reviews are evaluated at once, so that a
// burst of admission requests degrades latency rather than growing memory
// without bound: a review holds a slot from decoding its object to
// building its response, and the cheap early answers (exempt namespaces,
// kinds no policy covers) need none. A review that finds every slot taken
// waits, at most Options.EvalTimeout and no longer than its request's
// context, and then fails with ErrBusy.
//
// Give both handlers the same limiter (Options.Reviews) so that the cap
// holds for the process. A ReviewLimiter is safe for concurrent use.
type ReviewLimiter struct {
	slots chan struct{}
}

// NewReviewLimiter returns a limiter of n slots, or of
// DefaultMaxConcurrentReviews() slots when n is zero or negative.
func NewReviewLimiter(n int) *ReviewLimiter {
	if n <= 0 {
		n = DefaultMaxConcurrentReviews()
	}
	return &ReviewLimiter{slots: make(chan struct{}, n)}
}

// Size returns the number of reviews evaluated at once at most.
func (l *ReviewLimiter) Size() int { return cap(l.slots) }

// slot takes an evaluation slot for a review of the webhook h, waiting at
// most h.o.EvalTimeout and no longer than ctx. On success the caller must
// call h.release. The wait is measured, and counted as waiting while it
// lasts.
func (h *handler) slot(ctx context.Context) error {
	l := h.o.Reviews
	select {
	case l.slots <- struct{}{}:
		h.o.Metrics.admitted(h.name, 0)
		return nil
	default:
	}
	if err := ctx.Err(); err != nil {
		return h.busy(ctx, 0)
	}

	h.o.Metrics.waiting(h.name, 1)
	start := time.Now()
	timer := time.NewTimer(h.o.EvalTimeout)
	defer timer.Stop()
	select {
	case l.slots <- struct{}{}:
		h.o.Metrics.waiting(h.name, -1)
		h.o.Metrics.admitted(h.name, time.Since(start))
		return nil
	case <-ctx.Done():
	case <-timer.C:
	}
	h.o.Metrics.waiting(h.name, -1)
	return h.busy(ctx, time.Since(start))
}

// busy counts a review that got no slot and says why.
func (h *handler) busy(ctx context.Context, waited time.Duration) error {
	h.o.Metrics.error(h.name, ReasonBusy)
	n := h.o.Reviews.Size()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("%w: all %d evaluation slots (--max-concurrent-reviews) were taken and the request ended after waiting %s: %w",
			ErrBusy, n, waited.Round(time.Millisecond), context.Cause(ctx))
	}
	return fmt.Errorf("%w: all %d evaluation slots (--max-concurrent-reviews) stayed taken for %s",
		ErrBusy, n, waited.Round(time.Millisecond))
}

// release gives back the slot slot took.
func (h *handler) release() {
	<-h.o.Reviews.slots
	h.o.Metrics.done(h.name)
}
