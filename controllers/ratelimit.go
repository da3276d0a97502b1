package controllers

// The client-side rate limit of fluxgate serve's connection to the API
// server, the same whether it runs in the cluster or with --kubeconfig
// (flags --kube-api-qps and --kube-api-burst).
//
// It is sized for the maintenance guard, the only part of fluxgate that
// writes in bulk: a transition writes each paused or resumed object once,
// and the burst lets 2,000 of them (the guard's performance target) go
// out without waiting on the limiter, at the concurrency of the guard's
// worker pool; the bucket refills within 4 s. Everything else reads from
// the cache, so in steady state fluxgate sends a few requests a minute
// and the limit only stops a runaway loop. API Priority and Fairness on
// the server still applies to all of it. client-go's own default (5 QPS,
// burst 10) would stretch a pause of 2,000 objects to over six minutes.
const (
	DefaultKubeAPIQPS   = 500
	DefaultKubeAPIBurst = 2000
)
