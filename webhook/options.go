package webhook

import (
	"context"
	"time"

	"github.com/go-logr/logr"
	"k8s.io/client-go/tools/events"

	"github.com/fluxgate/fluxgate/policy"
)

// The paths the manager serves the handlers on, and that the webhook
// configurations name.
const (
	MutatePath   = "/mutate"
	ValidatePath = "/validate"
)

// The webhook names the handlers report in metrics and logs; pass them to
// NewHTTPHandler too, so that both layers share one label value.
const (
	MutateName   = "mutate"
	ValidateName = "validate"
)

// DefaultEvalTimeout bounds one evaluation when Options.EvalTimeout is
// unset. It sits well below the API server's webhook timeout (10s by
// default), so a runaway policy is answered by fluxgate, not by the
// webhook's failurePolicy.
const DefaultEvalTimeout = time.Second

// Options configures both handlers.
type Options struct {
	// Policies holds the engine in service; its Engine() is nil until the
	// first policy set has loaded. A nil Policies behaves the same.
	Policies *policy.Active
	// Related supplies the related objects of a namespace for cross-object
	// rules; nil means none.
	Related RelatedSource
	// Maintenance supplies the cluster's maintenance state (input.maintenance)
	// from the maintenance guards; nil means no maintenance.
	Maintenance MaintenanceSource
	// Events records Kubernetes Events about findings (validator only);
	// nil records none.
	Events events.EventRecorder
	// Metrics records Prometheus metrics; nil records none.
	Metrics *Metrics
	// Namespace is fluxgate's own namespace, whose objects are never
	// evaluated, so a bad policy cannot lock fluxgate out of its own fix.
	Namespace string
	// ServiceAccount is fluxgate's own user,
	// "system:serviceaccount:<namespace>:<name>", which is never denied.
	ServiceAccount string
	// EvalTimeout is the deadline of one evaluation, and separately of
	// reading the related objects; DefaultEvalTimeout when zero or
	// negative.
	EvalTimeout time.Duration
	// Reviews caps the reviews evaluated at once (ReviewLimiter): give
	// both handlers the same one. Nil gives each handler its own limiter
	// of DefaultMaxConcurrentReviews() slots.
	Reviews *ReviewLimiter
	// Log receives the handlers' logs; the zero Logger discards them.
	Log logr.Logger
}

// RelatedSource returns the related objects of a namespace (budgets,
// autoscalers and workloads) that cross-object rules read as
// input.related.
type RelatedSource interface {
	Related(ctx context.Context, namespace string) (*policy.Related, error)
}

// MaintenanceSource returns the maintenance state policies see as
// input.maintenance. It reads a cache, never the API server.
type MaintenanceSource interface {
	Maintenance(ctx context.Context) (policy.Maintenance, error)
}

func (o Options) withDefaults() Options {
	if o.EvalTimeout <= 0 {
		o.EvalTimeout = DefaultEvalTimeout
	}
	if o.Reviews == nil {
		o.Reviews = NewReviewLimiter(0)
	}
	return o
}
