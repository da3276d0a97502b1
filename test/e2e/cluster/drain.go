package cluster

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/fields"
)

// drainRetry is how long Drain waits before it retries an eviction the
// apiserver refused.
const drainRetry = 500 * time.Millisecond

// Drain cordons the node, then evicts every pod on it except DaemonSet
// pods, mirror pods and finished pods, through the policy/v1 Eviction
// subresource, as `kubectl drain` does: an eviction refused with 429
// TooManyRequests (it would break a PodDisruptionBudget) is retried until
// it passes. It returns once no evictable pod is left on the node, or
// with an error naming the pods left when ctx ends.
func (c *Cluster) Drain(ctx context.Context, node string) error {
	if err := c.Cordon(ctx, node); err != nil {
		return err
	}
	var lastRefusal error
	for {
		pods, err := c.evictablePods(ctx, node)
		if err != nil {
			return fmt.Errorf("drain %s: %w", node, err)
		}
		if len(pods) == 0 {
			return nil
		}
		for _, pod := range pods {
			if pod.DeletionTimestamp != nil {
				continue // evicted, going away
			}
			err := c.Client.PolicyV1().Evictions(pod.Namespace).Evict(ctx, &policyv1.Eviction{
				ObjectMeta: metav1.ObjectMeta{Name: pod.Name, Namespace: pod.Namespace},
			})
			switch {
			case err == nil, apierrors.IsNotFound(err):
			case apierrors.IsTooManyRequests(err):
				lastRefusal = fmt.Errorf("evict %s/%s: %w", pod.Namespace, pod.Name, err)
			default:
				if ctx.Err() != nil {
					break
				}
				return fmt.Errorf("drain %s: evict %s/%s: %w", node, pod.Namespace, pod.Name, err)
			}
		}
		select {
		case <-ctx.Done():
			names := make([]string, 0, len(pods))
			for _, p := range pods {
				names = append(names, p.Namespace+"/"+p.Name)
			}
			sort.Strings(names)
			return fmt.Errorf("drain %s: %w; pods left: %s (last refusal: %v)",
				node, ctx.Err(), strings.Join(names, ", "), lastRefusal)
		case <-time.After(drainRetry):
		}
	}
}

// evictablePods lists the pods on node that a drain evicts.
func (c *Cluster) evictablePods(ctx context.Context, node string) ([]corev1.Pod, error) {
	list, err := c.Client.CoreV1().Pods(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.OneTermEqualSelector("spec.nodeName", node).String(),
	})
	if err != nil {
		return nil, fmt.Errorf("list the pods on %s: %w", node, err)
	}
	var pods []corev1.Pod
	for _, pod := range list.Items {
		if pod.Status.Phase == corev1.PodSucceeded || pod.Status.Phase == corev1.PodFailed {
			continue
		}
		if _, mirror := pod.Annotations[corev1.MirrorPodAnnotationKey]; mirror {
			continue
		}
		if owner := metav1.GetControllerOf(&pod); owner != nil && owner.Kind == "DaemonSet" {
			continue
		}
		pods = append(pods, pod)
	}
	return pods, nil
}
