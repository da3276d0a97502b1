package recorder

import (
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// Builders of the objects synthetic streams are made of.

var t0 = time.Date(2030, 1, 1, 0, 0, 0, 0, time.UTC)

// at is t0 plus some seconds.
func at(seconds float64) time.Time {
	return t0.Add(time.Duration(seconds * float64(time.Second)))
}

func node(name string, cordoned, ready bool) *corev1.Node {
	status := corev1.ConditionFalse
	if ready {
		status = corev1.ConditionTrue
	}
	return &corev1.Node{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec:       corev1.NodeSpec{Unschedulable: cordoned},
		Status:     corev1.NodeStatus{Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: status}}},
	}
}

func deploy(name string, desired, ready int32) *appsv1.Deployment {
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: &desired,
			Template: corev1.PodTemplateSpec{ObjectMeta: metav1.ObjectMeta{Labels: map[string]string{"app": name}}},
		},
		Status: appsv1.DeploymentStatus{ReadyReplicas: ready},
	}
}

// pdb selects the pods of app; exactly one of minAvailable and
// maxUnavailable is given ("" for the other).
func pdb(app, minAvailable, maxUnavailable string) *policyv1.PodDisruptionBudget {
	p := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: app + "-pdb"},
		Spec: policyv1.PodDisruptionBudgetSpec{
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": app}},
		},
	}
	if minAvailable != "" {
		v := intstr.Parse(minAvailable)
		p.Spec.MinAvailable = &v
	}
	if maxUnavailable != "" {
		v := intstr.Parse(maxUnavailable)
		p.Spec.MaxUnavailable = &v
	}
	return p
}

func ks(name string, suspend bool, revision string) *kustomizev1.Kustomization {
	return &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: "flux-system", Name: name},
		Spec:       kustomizev1.KustomizationSpec{Suspend: suspend},
		Status:     kustomizev1.KustomizationStatus{LastAppliedRevision: revision},
	}
}

// obs is one observation of a synthetic stream.
type obs struct {
	at     float64 // seconds after t0
	obj    any
	delete bool
}

// replay feeds a stream to a new Recorder.
func replay(opts Options, stream []obs) *Recorder {
	r := New(opts)
	for _, o := range stream {
		if o.delete {
			r.ForgetAt(at(o.at), o.obj)
		} else {
			r.ObserveAt(at(o.at), o.obj)
		}
	}
	return r
}
