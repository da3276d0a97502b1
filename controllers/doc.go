// Package controllers holds fluxgate's controllers. PolicyReconciler keeps
// the admission webhook's policy set in step with the policy ConfigMaps of
// fluxgate's namespace.
package controllers
