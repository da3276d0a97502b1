// Package webhook serves fluxgate's admission webhooks: the Mutator
// applies the policies' patch rules, and the Validator their deny and
// warn rules, to the workloads the API server admits.
//
// Both are controller-runtime admission.Handlers whose Handle is a chain
// of early returns, each with its reason: fluxgate's own namespace and
// kube-system are never evaluated, kinds no policy covers are admitted,
// a malformed object is answered with 400, and only then is the engine in
// service (policy.Active) asked, under a deadline (Options.EvalTimeout).
// At most Options.Reviews.Size() reviews are evaluated at once
// (ReviewLimiter); a review that gets no slot in time is answered with
// HTTP 503, leaving it to the webhook's failurePolicy.
//
// The validator fails closed: an object it cannot judge (no policy set
// loaded yet, an evaluation error or timeout) is rejected, and the
// webhook configuration's failurePolicy and exempt namespaces are the
// escape hatch. Only fluxgate's own service account is never denied. The
// mutator fails open: an object it cannot patch is admitted unchanged,
// with a warning, and the validator judges it.
//
// NewHTTPHandler serves either handler as AdmissionReview v1 over HTTP,
// CacheRelated supplies the related objects of a namespace from the
// manager's cache, and Metrics holds the Prometheus metrics of admission
// and of the policy set in service.
package webhook
