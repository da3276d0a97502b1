// Package server assembles `fluxgate serve`: a controller-runtime manager
// that serves the mutating and validating admission webhooks over TLS,
// keeps the policy set in step with the policy ConfigMaps, caches the
// related objects cross-object policies need, and reports readiness with
// the active policy set.
package server
