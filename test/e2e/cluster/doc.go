// Package cluster starts a simulated Kubernetes cluster for end-to-end
// tests: a real control plane (etcd, kube-apiserver,
// kube-controller-manager, kube-scheduler) run as local processes, and
// kwok playing the kubelets of fake nodes, so that Deployments, PodDisruption
// Budgets, evictions and scheduling behave as in a real cluster while no
// container ever runs. Flux's kustomize-controller can be started next to
// it (see [Cluster.KustomizeController]).
//
// The binaries come from `make e2e-assets`, which gathers them in bin/e2e/;
// [Options.BinDir] (default: $FLUXGATE_E2E_BIN, else the repository's
// bin/e2e) names that folder. Certificates, keys and kubeconfigs are
// generated in Go; every process listens on 127.0.0.1 only, on free ports,
// and writes its output to a file under [Cluster.Dir] (logs/<name>.log)
// whose tail is reported when it dies or fails to start.
//
// A typical test:
//
//	c, err := cluster.Start(ctx, cluster.Options{Nodes: 3, Log: cluster.TestLog(t)})
//	if err != nil {
//		t.Fatal(err)
//	}
//	t.Cleanup(c.Stop)
//	// c.Client, c.RESTConfig(), c.Drain(ctx, c.Nodes[0]), ...
//
// [Cluster.Stop] ends every process the cluster started, by PID (SIGTERM,
// then SIGKILL after a grace period); on Linux the processes are also
// killed if the test binary dies first.
//
// The package's own test (cluster_test.go) starts a cluster only with
// FLUXGATE_E2E=1, and then fails at once, naming what is missing, if the
// binaries are not built; without it, it skips:
//
//	make e2e-assets
//	FLUXGATE_E2E=1 go test ./test/e2e/cluster/
package cluster
