package cluster_test

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"syscall"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/watch"
	"k8s.io/utils/ptr"

	"github.com/fluxgate/fluxgate/test/e2e/cluster"
)

// TestCluster starts a 3-node cluster, checks that draining a node
// respects a PodDisruptionBudget and reschedules the pods, then that Stop
// leaves no process behind.
func TestCluster(t *testing.T) {
	requireE2E(t)
	ctx, cancel := context.WithTimeout(context.Background(), 100*time.Second)
	defer cancel()

	c, err := cluster.Start(ctx, cluster.Options{Nodes: 3, Dir: t.TempDir(), Log: cluster.TestLog(t)})
	if err != nil {
		t.Fatalf("start the cluster: %v", err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			for _, p := range c.Processes() {
				t.Logf("last lines of %s:\n%s", p.LogPath(), p.Tail(20))
			}
		}
		c.Stop()
	})

	t.Run("drain respects the PDB", func(t *testing.T) { testDrain(ctx, t, c) })
	t.Run("node goes not ready and back", func(t *testing.T) { testNodeReady(ctx, t, c) })
	t.Run("kustomize-controller starts", func(t *testing.T) { testKustomizeController(ctx, t, c) })

	procs := c.Processes()
	c.Stop()
	c.Stop() // idempotent
	for _, p := range procs {
		if !p.Exited() {
			t.Errorf("%s (pid %d) still runs after Stop", p.Name(), p.PID())
		}
		if err := syscall.Kill(p.PID(), 0); !errors.Is(err, syscall.ESRCH) {
			t.Errorf("%s (pid %d) still exists after Stop: kill -0: %v", p.Name(), p.PID(), err)
		}
	}
	if len(procs) < 5 {
		t.Errorf("the cluster ran %d processes, want at least 5 (etcd, apiserver, controller-manager, scheduler, kwok)", len(procs))
	}
}

// testDrain runs a 4-replica Deployment under a PDB of minAvailable 3,
// drains the busiest node, and checks that the pods move elsewhere while
// at least 3 stay ready throughout.
func testDrain(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	const ns, app, replicas, minAvailable = "drain", "web", 4, 3
	if err := c.EnsureNamespace(ctx, ns); err != nil {
		t.Fatal(err)
	}
	labels := map[string]string{"app": app}
	deploy := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](replicas),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name:  app,
					Image: "fluxgate-e2e/web:1",
					Resources: corev1.ResourceRequirements{Requests: corev1.ResourceList{
						corev1.ResourceCPU: resource.MustParse("100m"),
					}},
				}}},
			},
		},
	}
	if _, err := c.Client.AppsV1().Deployments(ns).Create(ctx, deploy, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Name: app, Namespace: ns},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MinAvailable: ptr.To(intstr.FromInt32(minAvailable)),
			Selector:     &metav1.LabelSelector{MatchLabels: labels},
		},
	}
	if _, err := c.Client.PolicyV1().PodDisruptionBudgets(ns).Create(ctx, pdb, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	pods := waitReadyPods(ctx, t, c, ns, replicas, "")
	t.Logf("%d pods ready in %s", replicas, time.Since(start).Round(10*time.Millisecond))

	perNode := map[string]int{}
	for _, p := range pods {
		perNode[p.Spec.NodeName]++
	}
	node := ""
	for _, n := range c.Nodes {
		if node == "" || perNode[n] > perNode[node] {
			node = n
		}
	}
	t.Logf("pods per node: %v; draining %s", perNode, node)

	stopWatch := watchMinReady(ctx, t, c, ns)
	start = time.Now()
	drainCtx, cancel := context.WithTimeout(ctx, 45*time.Second)
	defer cancel()
	if err := c.Drain(drainCtx, node); err != nil {
		t.Fatal(err)
	}
	t.Logf("drained %s in %s", node, time.Since(start).Round(10*time.Millisecond))
	after := waitReadyPods(ctx, t, c, ns, replicas, node)
	low := stopWatch()
	if low < minAvailable {
		t.Errorf("ready pods went down to %d during the drain, below the PDB's minAvailable %d", low, minAvailable)
	}
	t.Logf("lowest ready count during the drain: %d (minAvailable %d)", low, minAvailable)
	for _, p := range after {
		if p.Spec.NodeName == node {
			t.Errorf("pod %s is still on the drained node %s", p.Name, node)
		}
	}
	n, err := c.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !n.Spec.Unschedulable {
		t.Errorf("the drained node %s is not cordoned", node)
	}
	if err := c.Uncordon(ctx, node); err != nil {
		t.Fatal(err)
	}
}

// waitReadyPods waits until the namespace has exactly want ready pods, none
// of them terminating nor on avoid, and returns them.
func waitReadyPods(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string, want int, avoid string) []corev1.Pod {
	t.Helper()
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	var last string
	for {
		list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			var ready []corev1.Pod
			all := len(list.Items)
			for _, p := range list.Items {
				if podReady(&p) && p.Spec.NodeName != avoid {
					ready = append(ready, p)
				}
			}
			if len(ready) == want && all == want {
				return ready
			}
			last = fmt.Sprintf("%d pods, %d of them ready and not on %q", all, len(ready), avoid)
		}
		select {
		case <-ctx.Done():
			t.Fatalf("wait for %d ready pods in %s: %v; last seen: %s", want, ns, ctx.Err(), last)
		case <-time.After(100 * time.Millisecond):
		}
	}
}

// watchMinReady watches the pods of ns from now on and records the lowest
// number of ready, non-terminating pods; stop ends the watch and returns it.
func watchMinReady(ctx context.Context, t *testing.T, c *cluster.Cluster, ns string) (stop func() int) {
	t.Helper()
	list, err := c.Client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	ready := map[string]bool{}
	for _, p := range list.Items {
		ready[p.Name] = podReady(&p)
	}
	count := func() int {
		n := 0
		for _, r := range ready {
			if r {
				n++
			}
		}
		return n
	}
	low := count()
	w, err := c.Client.CoreV1().Pods(ns).Watch(ctx, metav1.ListOptions{ResourceVersion: list.ResourceVersion})
	if err != nil {
		t.Fatal(err)
	}
	var mu sync.Mutex
	done := make(chan struct{})
	go func() {
		defer close(done)
		for ev := range w.ResultChan() {
			p, ok := ev.Object.(*corev1.Pod)
			if !ok {
				continue
			}
			mu.Lock()
			if ev.Type == watch.Deleted {
				delete(ready, p.Name)
			} else {
				ready[p.Name] = podReady(p)
			}
			if n := count(); n < low {
				low = n
			}
			mu.Unlock()
		}
	}()
	return func() int {
		w.Stop()
		<-done
		mu.Lock()
		defer mu.Unlock()
		return low
	}
}

// podReady reports whether the pod is Ready and not terminating.
func podReady(p *corev1.Pod) bool {
	if p.DeletionTimestamp != nil {
		return false
	}
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// testNodeReady takes a node down and up again, as around a reboot.
func testNodeReady(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	node := c.Nodes[len(c.Nodes)-1]
	ctx, cancel := context.WithTimeout(ctx, 20*time.Second)
	defer cancel()
	start := time.Now()
	if err := c.SetNodeReady(ctx, node, false); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s NotReady after %s", node, time.Since(start).Round(10*time.Millisecond))
	n, err := c.Client.CoreV1().Nodes().Get(ctx, node, metav1.GetOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if cluster.NodeReady(n) {
		t.Errorf("%s is Ready after SetNodeReady(false)", node)
	}
	start = time.Now()
	if err := c.SetNodeReady(ctx, node, true); err != nil {
		t.Fatal(err)
	}
	t.Logf("%s Ready and untainted again after %s", node, time.Since(start).Round(10*time.Millisecond))
}

// testKustomizeController starts Flux's kustomize-controller next to the
// cluster and checks that it is ready and keeps running.
func testKustomizeController(ctx context.Context, t *testing.T, c *cluster.Cluster) {
	start := time.Now()
	p, err := c.KustomizeController(ctx, cluster.KustomizeControllerOptions{})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("kustomize-controller ready in %s", time.Since(start).Round(10*time.Millisecond))
	select {
	case <-p.Done():
		t.Fatalf("kustomize-controller exited: %v\n%s", p.Err(), p.Tail(20))
	case <-time.After(time.Second):
	}
}
