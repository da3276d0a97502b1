package cluster

import (
	"context"
	"encoding/json"
	"fmt"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/wait"
)

// createNodes creates the fake nodes node-1 … node-N, handed to kwok by
// annotation and not tainted, and waits until they are schedulable.
func (c *Cluster) createNodes(ctx context.Context) error {
	for i := 1; i <= c.opts.Nodes; i++ {
		name := fmt.Sprintf("node-%d", i)
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{KwokNodeAnnotation: KwokNodeValue},
				Labels: map[string]string{
					corev1.LabelHostname:   name,
					corev1.LabelOSStable:   "linux",
					corev1.LabelArchStable: "amd64",
					"type":                 "kwok",
				},
			},
			Status: corev1.NodeStatus{
				Allocatable: c.opts.NodeAllocatable,
				Capacity:    c.opts.NodeAllocatable,
			},
		}
		if _, err := c.Client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			return fmt.Errorf("create node %s: %w", name, err)
		}
		c.Nodes = append(c.Nodes, name)
	}
	kwok := c.Process("kwok")
	return c.waitProcess(ctx, kwok, fmt.Sprintf("%d nodes", len(c.Nodes)), func(ctx context.Context) error {
		for _, name := range c.Nodes {
			if err := c.nodeSchedulable(ctx, name); err != nil {
				return err
			}
		}
		return nil
	})
}

// nodeSchedulable returns nil if the node is Ready and carries no
// NoSchedule or NoExecute taint (the node lifecycle controller's
// not-ready and unreachable taints are gone).
func (c *Cluster) nodeSchedulable(ctx context.Context, name string) error {
	node, err := c.Client.CoreV1().Nodes().Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return err
	}
	if !NodeReady(node) {
		return fmt.Errorf("node %s is not Ready", name)
	}
	for _, t := range node.Spec.Taints {
		if t.Effect != corev1.TaintEffectPreferNoSchedule && t.Key != corev1.TaintNodeUnschedulable {
			return fmt.Errorf("node %s is tainted %s:%s", name, t.Key, t.Effect)
		}
	}
	return nil
}

// NodeReady reports whether the node's Ready condition is True.
func NodeReady(node *corev1.Node) bool {
	for _, cond := range node.Status.Conditions {
		if cond.Type == corev1.NodeReady {
			return cond.Status == corev1.ConditionTrue
		}
	}
	return false
}

// Cordon marks the node unschedulable.
func (c *Cluster) Cordon(ctx context.Context, node string) error {
	return c.setUnschedulable(ctx, node, true)
}

// Uncordon marks the node schedulable again.
func (c *Cluster) Uncordon(ctx context.Context, node string) error {
	return c.setUnschedulable(ctx, node, false)
}

// setUnschedulable patches the node's spec.unschedulable.
func (c *Cluster) setUnschedulable(ctx context.Context, node string, unschedulable bool) error {
	patch, _ := json.Marshal(map[string]any{"spec": map[string]any{"unschedulable": unschedulable}})
	if _, err := c.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set node %s unschedulable=%t: %w", node, unschedulable, err)
	}
	return nil
}

// SetNodeReady simulates a node going down (ready false) or coming back
// (ready true), as around a reboot, and waits until the node's Ready
// condition says so (about 1 s), and for true until its taints are gone.
// kwok does the reporting, through its node-not-ready stage, selected by
// the [NotReadyLabel] label; the node keeps its lease, as a kubelet that
// reports an unhealthy node would. While the node is down, the node
// lifecycle controller taints it node.kubernetes.io/not-ready NoSchedule
// at once and NoExecute a few seconds later (pods without a matching
// toleration are evicted when theirs, 300 s by default, runs out). The
// pods on the node keep their Ready condition: kwok does not mark them
// not ready, and the controller only does for nodes whose status is
// Unknown. It does not cordon or drain the node.
func (c *Cluster) SetNodeReady(ctx context.Context, node string, ready bool) error {
	var value any = "true"
	if ready {
		value = nil
	}
	patch, _ := json.Marshal(map[string]any{"metadata": map[string]any{"labels": map[string]any{NotReadyLabel: value}}})
	if _, err := c.Client.CoreV1().Nodes().Patch(ctx, node, types.StrategicMergePatchType, patch, metav1.PatchOptions{}); err != nil {
		return fmt.Errorf("set node %s ready=%t: %w", node, ready, err)
	}
	return c.WaitNodeReady(ctx, node, ready)
}

// WaitNodeReady waits until the node's Ready condition is ready (and, for
// true, its not-ready taints are gone), or ctx ends.
func (c *Cluster) WaitNodeReady(ctx context.Context, node string, ready bool) error {
	var last error
	err := wait.PollUntilContextCancel(ctx, pollInterval, true, func(ctx context.Context) (bool, error) {
		if ready {
			last = c.nodeSchedulable(ctx, node)
			return last == nil, nil
		}
		n, err := c.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
		if err != nil {
			last = err
			return false, nil
		}
		last = fmt.Errorf("node %s is still Ready", node)
		return !NodeReady(n), nil
	})
	if err != nil {
		return fmt.Errorf("wait for node %s ready=%t: %w (last: %v)", node, ready, err, last)
	}
	return nil
}
