// Package relatedkinds lists the kinds whose objects policies read as
// related objects (policy.RelatedKinds) as typed Kubernetes lists, for
// what reads them from the API: the webhook's informer cache and the
// audit. One table, so that a kind added to the policies' input is read
// by both.
package relatedkinds

import (
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv2 "k8s.io/api/autoscaling/v2"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Kind is one kind of related object.
type Kind struct {
	schema.GroupVersionKind
	// New returns an empty object of the kind, as informers are started
	// with.
	New func() client.Object
	// NewList returns an empty list of the kind.
	NewList func() client.ObjectList
	// Items returns the addresses of the items of a list NewList made.
	Items func(client.ObjectList) []client.Object
}

// All are the kinds of related objects: workloads first, then what
// relates to them, the order in which an audit reports them.
var All = []Kind{
	kind(appsv1.SchemeGroupVersion.WithKind("Deployment"), func(l *appsv1.DeploymentList) []appsv1.Deployment { return l.Items }),
	kind(appsv1.SchemeGroupVersion.WithKind("StatefulSet"), func(l *appsv1.StatefulSetList) []appsv1.StatefulSet { return l.Items }),
	kind(appsv1.SchemeGroupVersion.WithKind("DaemonSet"), func(l *appsv1.DaemonSetList) []appsv1.DaemonSet { return l.Items }),
	kind(policyv1.SchemeGroupVersion.WithKind("PodDisruptionBudget"), func(l *policyv1.PodDisruptionBudgetList) []policyv1.PodDisruptionBudget { return l.Items }),
	kind(autoscalingv2.SchemeGroupVersion.WithKind("HorizontalPodAutoscaler"), func(l *autoscalingv2.HorizontalPodAutoscalerList) []autoscalingv2.HorizontalPodAutoscaler {
		return l.Items
	}),
	kind(corev1.SchemeGroupVersion.WithKind("Service"), func(l *corev1.ServiceList) []corev1.Service { return l.Items }),
	kind(corev1.SchemeGroupVersion.WithKind("PersistentVolumeClaim"), func(l *corev1.PersistentVolumeClaimList) []corev1.PersistentVolumeClaim { return l.Items }),
}

// kind describes the kind gvk, whose list type is *L with items of type
// T.
func kind[L any, PL interface {
	*L
	client.ObjectList
}, T any, PT interface {
	*T
	client.Object
}](gvk schema.GroupVersionKind, items func(PL) []T) Kind {
	return Kind{
		GroupVersionKind: gvk,
		New:              func() client.Object { return PT(new(T)) },
		NewList:          func() client.ObjectList { return PL(new(L)) },
		Items: func(l client.ObjectList) []client.Object {
			its := items(l.(PL))
			out := make([]client.Object, len(its))
			for i := range its {
				out[i] = PT(&its[i])
			}
			return out
		},
	}
}
