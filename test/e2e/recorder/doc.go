// Package recorder watches a cluster during an end-to-end scenario and
// keeps a timeline of what matters for zero-downtime maintenance: nodes
// cordoned, uncordoned, NotReady and Ready; Flux Kustomizations suspended,
// resumed, and applying a new revision (status.lastAppliedRevision);
// Deployments' ready replicas; PodDisruptionBudgets.
//
// A [Recorder] is fed either by watches ([Recorder.Start], client-go
// informers over a rest.Config) or directly ([Recorder.ObserveAt], for
// synthetic streams in unit tests). From the timeline it answers:
//
//   - per Deployment, the fewest ready replicas seen once it had first
//     been fully ready, the floor its PodDisruptionBudget sets, and every
//     interval below that floor ([Recorder.Summary]);
//   - how long, from an instant (the first cordon, the last uncordon),
//     until every targeted Kustomization was suspended, resumed, or had
//     applied a revision ([Recorder.TimeToAllSuspended],
//     [Recorder.TimeToAllResumed], [Recorder.TimeToAllApplied], and the
//     general [Recorder.TimeUntil]);
//   - which revisions were applied inside a window
//     ([Recorder.AppliedBetween]).
//
// [Recorder.Print] renders the timeline with times relative to the start
// ("+3.2s  node-2 cordoned") and the per-Deployment summary table.
//
// Times are those at which the recorder saw each change (the API server's
// objects carry no time for most of them), so they trail the real changes
// by the watch latency, typically milliseconds.
package recorder
