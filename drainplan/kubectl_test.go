package drainplan

import (
	"context"
	"io"
	"slices"
	"strings"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/kubernetes/fake"
	"k8s.io/kubectl/pkg/drain"
)

// TestDrainActionsMatchKubectl runs kubectl's own drain filters
// (drain.Helper.GetPodsForDeletion with --ignore-daemonsets
// --delete-emptydir-data) over the pods of a node and compares what they
// evict, leave and refuse with drainAction.
func TestDrainActionsMatchKubectl(t *testing.T) {
	const ns, node = "shop", "n1"
	pods := []corev1.Pod{
		mkPod(ns, "web-1", "web", node),
		mkPod(ns, "web-2", "web", node, notReady),
		mkPod(ns, "pending", "web", node, phase(corev1.PodPending)),
		mkPod(ns, "cache-0", "cache", node, emptyDir),
		mkPod(ns, "cache-done", "cache", node, emptyDir, phase(corev1.PodSucceeded)),
		mkPod(ns, "agent-x", "agent", node, daemonSet),
		mkPod(ns, "agent-done", "agent", node, daemonSet, phase(corev1.PodFailed)),
		mkPod(ns, "agent-scratch", "agent", node, daemonSet, emptyDir),
		mkPod(ns, "etcd-n1", "etcd", node, mirror),
		mkPod(ns, "debug", "debug", node, bare),
		mkPod(ns, "debug-scratch", "debug", node, bare, emptyDir),
		mkPod(ns, "job-done", "job", node, bare, phase(corev1.PodSucceeded)),
		mkPod(ns, "gone", "web", node, terminating),
	}
	objs := []runtime.Object{&appsv1.DaemonSet{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "agent"}}}
	for i := range pods {
		objs = append(objs, &pods[i])
	}
	h := &drain.Helper{
		Ctx: context.Background(), Client: fake.NewClientset(objs...),
		IgnoreAllDaemonSets: true, DeleteEmptyDirData: true,
		Out: io.Discard, ErrOut: io.Discard,
	}
	list, errs := h.GetPodsForDeletion(node)
	var kubectlEvicts []string
	for _, p := range list.Pods() {
		kubectlEvicts = append(kubectlEvicts, p.Name)
	}
	slices.Sort(kubectlEvicts)
	var refusal string
	for _, err := range errs {
		refusal += err.Error() + "\n"
	}

	got := Blockers(node, pods, nil)
	var evicts, refuses []string
	for _, p := range got.Pods {
		switch p.Drain {
		case DrainEvict:
			evicts = append(evicts, p.Name)
		case DrainRefuse:
			refuses = append(refuses, p.Name)
			if !strings.Contains(refusal, p.Key()) || !strings.Contains(refusal, p.DrainReason) {
				t.Errorf("kubectl's refusal %q does not name %s with %q", refusal, p.Key(), p.DrainReason)
			}
		}
	}
	// kubectl's list leaves out the pods that fail a filter: ours with
	// DrainRefuse are among those it does not evict.
	slices.Sort(evicts)
	if !slices.Equal(evicts, kubectlEvicts) {
		t.Errorf("evicted pods:\n ours    %v\n kubectl %v", evicts, kubectlEvicts)
	}
	if (len(refuses) > 0) != (len(errs) > 0) || strings.Count(refusal, "/") != len(refuses) {
		t.Errorf("refused pods: ours %v, kubectl %q", refuses, refusal)
	}
	if !slices.Equal(refuses, []string{"debug", "debug-scratch"}) {
		t.Errorf("refused %v, want the two running bare pods", refuses)
	}
}
