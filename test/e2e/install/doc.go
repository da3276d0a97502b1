// Package install puts fluxgate into a test cluster the way users do:
// `helm install` of charts/fluxgate with Helm's Go SDK, then `fluxgate
// serve` as a local process with the arguments of the installed
// Deployment, under the chart's ServiceAccount (impersonated), behind the
// installed webhook configurations.
//
// The one edit a real cluster does not need: the test API server cannot
// reach a Service, so the webhook configurations are pointed at the
// process on 127.0.0.1 (and back for `helm upgrade`) and its certificate
// also covers that address. Nor can it run the pods of Helm's hook Jobs:
// the harness runs each hook Job's container as a local process of the
// fluxgate binary under the Job's ServiceAccount, and Helm sees the hook
// succeed or fail with its exit status.
package install
