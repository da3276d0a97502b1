// Package pause suspends and resumes Flux objects (Kustomizations and
// HelmReleases) on behalf of maintenance guards, and undoes only what a
// guard did.
//
// All state lives on the objects themselves, so that a restart or a
// leader change in the middle of a pause or a resume finishes the job:
//
//   - fluxgate.dev/paused-by: the guards holding the object, comma-separated;
//   - fluxgate.dev/paused-at, fluxgate.dev/pause-reason: when and why;
//   - kustomize.toolkit.fluxcd.io/reconcile: disabled, set while paused so
//     that a parent Kustomization whose manifest says suspend: false does
//     not reconcile the pause away, and fluxgate.dev/reconcile-disabled
//     recording that the guard set it.
//
// A pause and a resume are each one merge patch per object, written with
// the guard's own field manager under optimistic locking.
package pause
