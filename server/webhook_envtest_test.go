package server

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/rest"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// denied asserts that err is the API server relaying a fluxgate denial
// whose message contains every want.
func denied(t *testing.T, err error, want ...string) {
	t.Helper()
	if err == nil {
		t.Fatalf("request was admitted, want a denial containing %q", want)
	}
	if !apierrors.IsForbidden(err) || !strings.Contains(err.Error(), `admission webhook "validate.fluxgate.dev" denied the request`) {
		t.Fatalf("error is not a fluxgate denial: %v", err)
	}
	for _, w := range want {
		if !strings.Contains(err.Error(), w) {
			t.Errorf("denial lacks %q:\n%v", w, err)
		}
	}
}

func TestDeploymentWithoutStrategyIsMutated(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	dep := deployment(ns, "web", 3)
	dep.Spec.Strategy = appsv1.DeploymentStrategy{}
	if err := k8s.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	ru := dep.Spec.Strategy.RollingUpdate
	if dep.Spec.Strategy.Type != appsv1.RollingUpdateDeploymentStrategyType || ru == nil ||
		ru.MaxSurge.String() != "25%" || ru.MaxUnavailable.String() != "0" {
		t.Fatalf("strategy = %+v, want RollingUpdate with maxSurge 25%% and maxUnavailable 0", dep.Spec.Strategy)
	}
}

func TestValidationDenials(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// A missing readiness probe is denied where a Service sends the pods
	// traffic (and only warned elsewhere).
	for _, app := range []string{"probe", "many"} {
		if err := k8s.Create(ctx, service(ns, app)); err != nil {
			t.Fatal(err)
		}
	}
	tests := []struct {
		name string
		obj  client.Object
		want []string
	}{
		{
			name: "maxUnavailable 2",
			obj: func() client.Object {
				d := deployment(ns, "surge", 4)
				d.Spec.Strategy.RollingUpdate.MaxUnavailable = ptr.To(intstr.FromInt32(2))
				return d
			}(),
			want: []string{"rollout-strategy: Deployment " + ns + "/surge: spec.strategy.rollingUpdate.maxUnavailable is 2"},
		},
		{
			name: "no readiness probe",
			obj: func() client.Object {
				d := deployment(ns, "probe", 1)
				d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
				return d
			}(),
			want: []string{"readiness-probe: Deployment " + ns + `/probe: container "web"`, "has no readinessProbe"},
		},
		{
			name: "PDB maxUnavailable 0",
			obj:  pdb(ns, "zero", nil, ptr.To(intstr.FromInt32(0))),
			want: []string{"pdb-drain-safe: PodDisruptionBudget " + ns + "/zero", "spec.maxUnavailable"},
		},
		{
			name: "PDB minAvailable 100%",
			obj:  pdb(ns, "hundred", ptr.To(intstr.FromString("100%")), nil),
			want: []string{"pdb-drain-safe: PodDisruptionBudget " + ns + "/hundred", "100%"},
		},
		{
			name: "every deny of every policy, one per line",
			obj: func() client.Object {
				d := deployment(ns, "many", 2)
				d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
				d.Spec.Template.Spec.Containers[0].ReadinessProbe = nil
				return d
			}(),
			want: []string{"readiness-probe: Deployment " + ns + "/many", "\nrollout-strategy: Deployment " + ns + "/many: spec.strategy.type is Recreate"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// The Services reach fluxgate's cache asynchronously; a dry run
			// shows when they have.
			eventually(t, 30*time.Second, func() error {
				if err := k8s.Create(ctx, tt.obj.DeepCopyObject().(client.Object), client.DryRunAll); err == nil {
					return errors.New("admitted: related objects not in fluxgate's cache yet")
				}
				return nil
			})
			denied(t, k8s.Create(ctx, tt.obj), tt.want...)
			dry := tt.obj.DeepCopyObject().(client.Object)
			denied(t, k8s.Create(ctx, dry, client.DryRunAll), tt.want...)
		})
	}
}

func TestScaleDownThatBlocksDrainsIsDenied(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	dep := deployment(ns, "api", 3)
	if err := k8s.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Create(ctx, pdb(ns, "api", ptr.To(intstr.FromInt32(2)), nil)); err != nil {
		t.Fatal(err)
	}
	scaled := dep.DeepCopy()
	scaled.Spec.Replicas = ptr.To[int32](2)
	// The budget reaches fluxgate's cache asynchronously; a dry run shows
	// when it has without changing anything.
	eventually(t, 30*time.Second, func() error {
		err := k8s.Update(ctx, scaled.DeepCopy(), client.DryRunAll)
		if err == nil {
			return errors.New("scale-down admitted: PDB not in fluxgate's cache yet")
		}
		return nil
	})
	denied(t, k8s.Update(ctx, scaled), "pdb-drain-safe: Deployment "+ns+"/api", "PodDisruptionBudget "+ns+"/api")
}

func TestDryRunIsEvaluatedAndLeavesNothingBehind(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	dry := deployment(ns, "dry", 1) // one replica: replicas-ha warns
	dry.Spec.Strategy = appsv1.DeploymentStrategy{}
	if err := k8s.Create(ctx, dry, client.DryRunAll); err != nil {
		t.Fatal(err)
	}
	if ru := dry.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.String() != "0" {
		t.Fatalf("dry run was not mutated like a real request: %+v", dry.Spec.Strategy)
	}
	if err := k8s.Get(ctx, client.ObjectKeyFromObject(dry), &appsv1.Deployment{}); !apierrors.IsNotFound(err) {
		t.Fatalf("dry run left an object behind: %v", err)
	}
	// A real request after the dry run: once its Event is there, the dry
	// run would have had time to record one too.
	if err := k8s.Create(ctx, deployment(ns, "real", 1)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if len(events(t, ns, "PolicyWarning")) == 0 {
			return errors.New("no PolicyWarning event for the real request")
		}
		return nil
	})
	for _, e := range events(t, ns, "PolicyWarning") {
		if strings.Contains(e.Message, "/dry") {
			t.Fatalf("dry run recorded an Event: %s", e.Message)
		}
	}
}

func TestWarningBecomesAnEvent(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	c, warnings := warningClient(t, client.Options{Scheme: k8s.Scheme()})
	dep := deployment(ns, "single", 1)
	if err := c.Create(ctx, dep); err != nil {
		t.Fatal(err)
	}
	if !warnings.contains("replicas-ha: Deployment " + ns + "/single") {
		t.Errorf("admission warnings = %q, want the replicas-ha warning", warnings.all())
	}
	// The Event of the CREATE regards the new Deployment itself: the API
	// server gave it its UID before fluxgate saw it.
	eventually(t, 30*time.Second, func() error {
		for _, e := range events(t, ns, "PolicyWarning") {
			if e.Type == corev1.EventTypeWarning && e.InvolvedObject.Kind == "Deployment" && e.InvolvedObject.Name == "single" &&
				e.InvolvedObject.UID == dep.UID && strings.Contains(e.Message, "replicas-ha: Deployment "+ns+"/single") {
				return nil
			}
		}
		return fmt.Errorf("no PolicyWarning event on Deployment %s/single (uid %s): %+v", ns, dep.UID, events(t, ns, "PolicyWarning"))
	})
	// An update records its own Event on the version it replaced.
	created := dep.ResourceVersion
	dep.Spec.Template.Spec.Containers[0].Image = "ghcr.io/example/web:1.0.1"
	if err := k8s.Update(ctx, dep); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		for _, e := range events(t, ns, "PolicyWarning") {
			if e.InvolvedObject.Kind == "Deployment" && e.InvolvedObject.Name == "single" && e.InvolvedObject.ResourceVersion == created {
				return nil
			}
		}
		return fmt.Errorf("no PolicyWarning event on the Deployment at resourceVersion %s", created)
	})
}

// Every finding of every workload is listed, however many workloads of one
// namespace warn (client-go's events recorder folds Events with the same
// reason, regarding and related objects into one series, whose first note
// is the only one stored).
func TestEventsForEveryWorkload(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	unexplained := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Annotations = map[string]string{"fluxgate.dev/exempt": "rollout-strategy"}
		return d
	}
	recreate := func(d *appsv1.Deployment) *appsv1.Deployment {
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		return d
	}
	tests := []struct {
		dep    *appsv1.Deployment
		denied bool
		reason string
		want   []string // in the note of one Event about the Deployment
	}{
		{dep: deployment(ns, "single", 1), reason: "PolicyWarning",
			want: []string{"replicas-ha: Deployment " + ns + "/single"}},
		{dep: deployment(ns, "uncovered", 3), reason: "PolicyWarning",
			want: []string{"pdb-coverage: Deployment " + ns + "/uncovered"}},
		{dep: unexplained(deployment(ns, "unexplained", 1)), reason: "PolicyWarning",
			want: []string{"fluxgate: annotation fluxgate.dev/exempt is ignored", "replicas-ha: Deployment " + ns + "/unexplained"}},
		{dep: recreate(deployment(ns, "recreate", 3)), denied: true, reason: "PolicyDenied",
			want: []string{"pdb-drain-safe: Deployment " + ns + "/recreate: PodDisruptionBudget " + ns + "/recreate", "rollout-strategy: Deployment " + ns + "/recreate"}},
	}
	// The budget that makes "recreate" block drains reaches fluxgate's
	// cache asynchronously; a dry run shows when it has.
	if err := k8s.Create(ctx, pdb(ns, "recreate", ptr.To(intstr.FromInt32(3)), nil)); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		err := k8s.Create(ctx, recreate(deployment(ns, "recreate", 3)), client.DryRunAll)
		if err == nil || !strings.Contains(err.Error(), "pdb-drain-safe") {
			return fmt.Errorf("budget not in fluxgate's cache yet: %v", err)
		}
		return nil
	})
	for _, tt := range tests {
		err := k8s.Create(ctx, tt.dep)
		if tt.denied {
			denied(t, err, tt.want...)
		} else if err != nil {
			t.Fatalf("create %s: %v", tt.dep.Name, err)
		}
	}
	for _, tt := range tests {
		eventually(t, 30*time.Second, func() error {
			var seen []string
			for _, e := range events(t, ns, tt.reason) {
				if e.InvolvedObject.Kind != "Deployment" || e.InvolvedObject.Name != tt.dep.Name {
					continue
				}
				seen = append(seen, e.Message)
				if tt.dep.UID != "" && e.InvolvedObject.UID != tt.dep.UID {
					continue
				}
				all := true
				for _, w := range tt.want {
					all = all && strings.Contains(e.Message, w)
				}
				if all {
					return nil
				}
			}
			return fmt.Errorf("no %s Event on Deployment %s/%s listing %q; its Events: %q", tt.reason, ns, tt.dep.Name, tt.want, seen)
		})
	}
}

// statefulSet returns a StatefulSet that every built-in policy accepts.
func statefulSet(ns, name string, replicas int32) *appsv1.StatefulSet {
	d := deployment(ns, name, replicas)
	return &appsv1.StatefulSet{
		TypeMeta:   metav1.TypeMeta{APIVersion: "apps/v1", Kind: "StatefulSet"},
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: ns},
		Spec: appsv1.StatefulSetSpec{
			Replicas:    d.Spec.Replicas,
			ServiceName: name,
			Selector:    d.Spec.Selector,
			Template:    d.Spec.Template,
		},
	}
}

// `kubectl scale` writes the scale subresource, which the validating
// webhook judges like a change of spec.replicas: a scale that makes a
// budget block drains is denied naming it, a harmless one is admitted, and
// the HorizontalPodAutoscaler controller's scales are not sent at all.
func TestScaleSubresource(t *testing.T) {
	ctx := context.Background()
	replicas := func(obj client.Object) int32 {
		t.Helper()
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(obj), obj); err != nil {
			t.Fatal(err)
		}
		switch o := obj.(type) {
		case *appsv1.Deployment:
			return *o.Spec.Replicas
		case *appsv1.StatefulSet:
			return *o.Spec.Replicas
		}
		t.Fatalf("%T has no replicas", obj)
		return 0
	}
	scale := func(obj client.Object, n int32, opts ...client.SubResourceUpdateOption) error {
		return scaleWith(ctx, k8s, obj, n, opts...)
	}
	for _, tt := range []struct {
		kind     string
		workload func(ns, name string) client.Object
	}{
		{"Deployment", func(ns, name string) client.Object { return deployment(ns, name, 3) }},
		{"StatefulSet", func(ns, name string) client.Object { return statefulSet(ns, name, 3) }},
	} {
		t.Run(tt.kind, func(t *testing.T) {
			ns := newNamespace(t)
			api := tt.workload(ns, "api")
			web := tt.workload(ns, "web")
			for _, obj := range []client.Object{
				api, pdb(ns, "api", ptr.To(intstr.FromInt32(2)), nil),
				web, pdb(ns, "web", nil, ptr.To(intstr.FromInt32(1))),
			} {
				if err := k8s.Create(ctx, obj); err != nil {
					t.Fatal(err)
				}
			}
			// The workload and its budget reach fluxgate's cache
			// asynchronously; a dry run shows when they have.
			eventually(t, 30*time.Second, func() error {
				if err := scale(api, 2, client.DryRunAll); err == nil {
					return errors.New("scale-down admitted: workload or budget not in fluxgate's cache yet")
				}
				return nil
			})

			denied(t, scale(api, 2), "pdb-drain-safe: "+tt.kind+" "+ns+"/api: PodDisruptionBudget "+ns+"/api (spec.minAvailable: 2) allows no disruption")
			if n := replicas(api); n != 3 {
				t.Errorf("denied scale changed replicas to %d", n)
			}
			eventually(t, 30*time.Second, func() error {
				for _, e := range events(t, ns, "PolicyDenied") {
					if e.InvolvedObject.Kind == tt.kind && e.InvolvedObject.Name == "api" && strings.Contains(e.Message, "pdb-drain-safe: ") {
						return nil
					}
				}
				return fmt.Errorf("no PolicyDenied event on %s %s/api", tt.kind, ns)
			})

			if err := scale(web, 2); err != nil {
				t.Fatalf("harmless scale: %v", err)
			}
			if n := replicas(web); n != 2 {
				t.Errorf("admitted scale left replicas at %d", n)
			}

			// The HPA controller's scales are not sent to fluxgate: an
			// autoscaled workload's budget is judged by the HPA's minimum.
			if n := replicas(api); n != 3 {
				t.Fatalf("replicas %d before the autoscaler's scale", n)
			}
			if err := scaleAs(ctx, hpaController, api, 2); err != nil {
				t.Fatalf("the HPA controller's scale was judged: %v", err)
			}
			if n := replicas(api); n != 2 {
				t.Errorf("the HPA controller's scale left replicas at %d", n)
			}
		})
	}
}

// hpaController is the user the HorizontalPodAutoscaler controller of
// kube-controller-manager scales as (--use-service-account-credentials).
const hpaController = "system:serviceaccount:kube-system:horizontal-pod-autoscaler"

// scaleAs scales obj to n replicas as user, who is made cluster-admin.
func scaleAs(ctx context.Context, user string, obj client.Object, n int32) error {
	binding := &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "fluxgate-test-hpa"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "User", APIGroup: "rbac.authorization.k8s.io", Name: user}},
	}
	if err := k8s.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
		return err
	}
	cfg := rest.CopyConfig(restCfg)
	cfg.Impersonate = rest.ImpersonationConfig{UserName: user}
	as, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
	if err != nil {
		return err
	}
	return scaleWith(ctx, as, obj, n)
}

// scaleWith writes obj's scale subresource through c, as `kubectl scale`
// does.
func scaleWith(ctx context.Context, c client.Client, obj client.Object, n int32, opts ...client.SubResourceUpdateOption) error {
	body := &autoscalingv1.Scale{
		ObjectMeta: metav1.ObjectMeta{Name: obj.GetName(), Namespace: obj.GetNamespace()},
		Spec:       autoscalingv1.ScaleSpec{Replicas: n},
	}
	return c.SubResource("scale").Update(ctx, obj, append(opts, client.WithSubResourceBody(body))...)
}

func TestExemptions(t *testing.T) {
	ctx := context.Background()
	bad := func(ns, name string) *appsv1.Deployment {
		d := deployment(ns, name, 2)
		d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
		return d
	}
	t.Run("configured exempt namespace", func(t *testing.T) {
		if err := k8s.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "legacy"}}); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		if err := k8s.Create(ctx, bad("legacy", fmt.Sprintf("old-%d", namespaces.Add(1)))); err != nil {
			t.Fatalf("exempt namespace: %v", err)
		}
	})
	ns := newNamespace(t)
	t.Run("annotation with reason", func(t *testing.T) {
		d := bad(ns, "annotated")
		d.Annotations = map[string]string{"fluxgate.dev/exempt": "rollout-strategy", "fluxgate.dev/exempt-reason": "single writer during migration"}
		if err := k8s.Create(ctx, d); err != nil {
			t.Fatalf("exempted object: %v", err)
		}
		if d.Spec.Strategy.Type != appsv1.RecreateDeploymentStrategyType {
			t.Fatalf("exempted object was mutated: %+v", d.Spec.Strategy)
		}
	})
	t.Run("annotation without reason", func(t *testing.T) {
		d := bad(ns, "unexplained")
		d.Annotations = map[string]string{"fluxgate.dev/exempt": "rollout-strategy"}
		denied(t, k8s.Create(ctx, d), "rollout-strategy: ")
	})
	t.Run("fluxgate's own service account is never denied", func(t *testing.T) {
		binding := &rbacv1.ClusterRoleBinding{
			ObjectMeta: metav1.ObjectMeta{Name: "fluxgate-test-edit"},
			RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
			Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "fluxgate", Namespace: ownNamespace}},
		}
		if err := k8s.Create(ctx, binding); err != nil && !apierrors.IsAlreadyExists(err) {
			t.Fatal(err)
		}
		cfg := rest.CopyConfig(restCfg)
		cfg.Impersonate = rest.ImpersonationConfig{UserName: serviceAccount}
		as, err := client.New(cfg, client.Options{Scheme: k8s.Scheme()})
		if err != nil {
			t.Fatal(err)
		}
		if err := as.Create(ctx, bad(ns, "own")); err != nil {
			t.Fatalf("fluxgate's service account was denied: %v", err)
		}
	})
}

func TestApplyTwiceChangesNothing(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	// The manifest as a Flux repository holds it: no strategy, so the
	// webhook mutates it on every apply, and Flux's server-side apply must
	// still find nothing to change the second time.
	manifest, err := runtime.DefaultUnstructuredConverter.ToUnstructured(deployment(ns, "applied", 3))
	if err != nil {
		t.Fatal(err)
	}
	u := &unstructured.Unstructured{Object: manifest}
	unstructured.RemoveNestedField(u.Object, "spec", "strategy")
	unstructured.RemoveNestedField(u.Object, "status")
	unstructured.RemoveNestedField(u.Object, "metadata", "creationTimestamp")
	unstructured.RemoveNestedField(u.Object, "spec", "template", "metadata", "creationTimestamp")
	apply := func() *appsv1.Deployment {
		t.Helper()
		if err := k8s.Apply(ctx, client.ApplyConfigurationFromUnstructured(u.DeepCopy()), client.FieldOwner("kustomize-controller"), client.ForceOwnership); err != nil {
			t.Fatal(err)
		}
		var got appsv1.Deployment
		if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "applied"}, &got); err != nil {
			t.Fatal(err)
		}
		return &got
	}
	first := apply()
	second := apply()
	if first.ResourceVersion != second.ResourceVersion || second.Generation != 1 {
		t.Fatalf("second apply changed the object: resourceVersion %s -> %s, generation %d",
			first.ResourceVersion, second.ResourceVersion, second.Generation)
	}
	if ru := second.Spec.Strategy.RollingUpdate; ru == nil || ru.MaxUnavailable.String() != "0" || ru.MaxSurge.String() != "25%" {
		t.Fatalf("strategy = %+v", second.Spec.Strategy)
	}
}

func TestPolicyConfigMaps(t *testing.T) {
	ctx := context.Background()
	ns := newNamespace(t)
	before, err := readyz()
	if err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "team-policies", Namespace: ownNamespace, Labels: map[string]string{"fluxgate.dev/policy": "true"}},
		Data: map[string]string{"owner.rego": `# METADATA
# title: Owner label
# custom:
#   id: owner-label
#   kinds: [Deployment]
package acme.owner

deny contains msg if {
	not input.request.object.metadata.labels.owner
	msg := sprintf("Deployment %s has no owner label", [input.request.name
}
`},
	}
	if err := k8s.Create(ctx, cm); err != nil {
		t.Fatal(err)
	}
	// The broken policy is rejected with file, line and message on the
	// ConfigMap, and the previous set keeps answering.
	eventually(t, 30*time.Second, func() error {
		for _, e := range events(t, ownNamespace, "PolicyRejected") {
			if e.InvolvedObject.Name == "team-policies" && strings.Contains(e.Message, "configmap/fluxgate-system/team-policies/owner.rego:11") {
				return nil
			}
		}
		return errors.New("no PolicyRejected event naming owner.rego:11")
	})
	if err := k8s.Create(ctx, deployment(ns, "unowned", 2)); err != nil {
		t.Fatalf("the previous policy set should still admit this: %v", err)
	}
	recreate := deployment(ns, "recreate", 2)
	recreate.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
	denied(t, k8s.Create(ctx, recreate), "rollout-strategy: ")
	if st, err := readyz(); err != nil || !st.Ready || st.PolicySet.Generation != before.PolicySet.Generation {
		t.Fatalf("after a broken ConfigMap: readyz %+v (%v), want ready at generation %d", st, err, before.PolicySet.Generation)
	}

	// Fixed, the policy joins the set and acts at once.
	cm.Data["owner.rego"] = strings.Replace(cm.Data["owner.rego"], "[input.request.name\n", "[input.request.name])\n", 1)
	if err := k8s.Update(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		st, err := readyz()
		if err != nil {
			return err
		}
		for _, id := range st.PolicySet.Policies {
			if id == "owner-label" && st.PolicySet.Generation > before.PolicySet.Generation {
				return nil
			}
		}
		return fmt.Errorf("owner-label not active: %+v", st.PolicySet)
	})
	denied(t, k8s.Create(ctx, deployment(ns, "unowned-too", 2)), "owner-label: Deployment unowned-too has no owner label")
	if err := k8s.Delete(ctx, cm); err != nil {
		t.Fatal(err)
	}
	eventually(t, 30*time.Second, func() error {
		if err := k8s.Create(ctx, deployment(ns, "unowned-again", 2), client.DryRunAll); err != nil {
			return fmt.Errorf("owner-label still active after its ConfigMap was deleted: %w", err)
		}
		return nil
	})
}

// recordingWarnings collects the admission warnings the API server relays.
type recordingWarnings struct {
	mu   sync.Mutex
	msgs []string
}

func (r *recordingWarnings) HandleWarningHeaderWithContext(_ context.Context, _ int, _ string, text string) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.msgs = append(r.msgs, text)
}

func (r *recordingWarnings) all() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return slices.Clone(r.msgs)
}

// warningClient is a client of the test API server whose admission
// warnings are collected in the returned recorder.
func warningClient(t *testing.T, opts client.Options) (client.Client, *recordingWarnings) {
	t.Helper()
	warnings := &recordingWarnings{}
	cfg := rest.CopyConfig(restCfg)
	cfg.WarningHandlerWithContext = warnings
	c, err := client.New(cfg, opts)
	if err != nil {
		t.Fatal(err)
	}
	return c, warnings
}

func (r *recordingWarnings) contains(s string) bool {
	for _, m := range r.all() {
		if strings.Contains(m, s) {
			return true
		}
	}
	return false
}
