// Package audit evaluates what already runs in a cluster against the
// active policy set, as if each object were applied now, and publishes the
// results as OpenReports Report objects (openreports.io/v1alpha1), one per
// namespace, which policy report consumers read.
//
// Collect reads the Deployments, StatefulSets, DaemonSets,
// PodDisruptionBudgets, HorizontalPodAutoscalers and Services of the
// cluster (or one namespace) and hands them to the same evaluation as
// `fluxgate check` (package check), so an audit and a check of the same
// objects find the same things. Reports turns a check.Report into one
// Report per namespace; Auditor runs the audit inside `fluxgate serve`,
// on a worker of its own at a bounded rate, so that admission never waits
// for it.
package audit
