package cluster

import (
	"context"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
)

// The annotation that hands a node to kwok: kwok manages (heartbeats, runs
// the pods of) the nodes that carry it, and only those.
const (
	KwokNodeAnnotation = "kwok.x-k8s.io/node"
	KwokNodeValue      = "fake"
)

// NotReadyLabel, set to "true" on a node, makes kwok report the node
// NotReady (kwok's node-not-ready stage); removing it makes kwok report
// it Ready again. See [Cluster.SetNodeReady].
const NotReadyLabel = "node-not-ready.stage.kwok.x-k8s.io"

// startKwok starts kwok with the stage files of BinDir/kwok-stages,
// managing the nodes annotated kwok.x-k8s.io/node=fake, and waits until it
// is healthy.
func (c *Cluster) startKwok(ctx context.Context) error {
	stages, err := filepath.Glob(filepath.Join(c.BinDir, StagesDir, "*.yaml"))
	if err != nil || len(stages) == 0 {
		return fmt.Errorf("start kwok: %w: no stage files in %s", ErrNoBinaries, filepath.Join(c.BinDir, StagesDir))
	}
	port, err := freePort()
	if err != nil {
		return err
	}
	p, err := c.StartProcess("kwok", exec.Command(filepath.Join(c.BinDir, "kwok"),
		"--kubeconfig="+c.kubeconfigs["kwok"],
		"--config="+strings.Join(stages, ","),
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector="+KwokNodeAnnotation+"="+KwokNodeValue,
		"--server-address="+fmt.Sprintf("127.0.0.1:%d", port),
		"--node-ip=127.0.0.1",
		// Renew each node's Lease as a kubelet does; without it the node
		// lifecycle controller finds every node's heartbeat stale after
		// its grace period (40 s) and marks all pods not ready.
		"--node-lease-duration-seconds=40",
	))
	if err != nil {
		return err
	}
	return c.waitProcess(ctx, p, "kwok", httpOK(fmt.Sprintf("http://127.0.0.1:%d/healthz", port), ""))
}
