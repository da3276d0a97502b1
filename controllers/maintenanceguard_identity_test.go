package controllers

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/maintenance/pause"
	"github.com/fluxgate/fluxgate/maintenance/workloadidentity"
)

// workloadAudience is the audience the workload cluster of these tests
// accepts in ServiceAccount tokens.
const workloadAudience = "fluxgate-test-workload"

// startWorkloadTrustingHub starts a workload cluster that authenticates
// the hub's ServiceAccount tokens for workloadAudience and lets readers
// read what the guard reads (testenv.StartWorkloadTrustingHub).
func startWorkloadTrustingHub(t *testing.T, readers ...types.NamespacedName) (*envtest.Environment, client.Client) {
	t.Helper()
	w, err := testenv.StartWorkloadTrustingHub(restCfg, workloadAudience, readers...)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(w.Stop)
	return w.Env, w.Client
}

// startGuardAs is startGuard with the guard's own ServiceAccount set, as
// it is in a pod.
func startGuardAs(t *testing.T, clk *clock, sa types.NamespacedName) {
	t.Helper()
	mgr, err := ctrl.NewManager(rest.CopyConfig(restCfg), ctrl.Options{
		Scheme:                 scheme,
		Metrics:                metricsserver.Options{BindAddress: "0"},
		HealthProbeBindAddress: "0",
		Controller:             ctrlConfigSkipNameValidation(),
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		t.Fatal(err)
	}
	r := &MaintenanceGuardReconciler{Client: mgr.GetClient(), Events: mgr.GetEventRecorder("fluxgate"), Now: clk.Now,
		Log: ctrl.Log.WithName("guard"), ServiceAccount: sa}
	if err := r.SetupWithManager(mgr); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- mgr.Start(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("manager: %v", err)
		}
	})
}

// byConfigMap makes u apply to the cluster of the kubeConfig ConfigMap
// name, as Flux's spec.kubeConfig.configMapRef does.
func byConfigMap(t *testing.T, u *unstructured.Unstructured, name string) {
	t.Helper()
	cur := get(t, u)
	base := cur.DeepCopy()
	if err := unstructured.SetNestedField(cur.Object, map[string]any{"configMapRef": map[string]any{"name": name}}, "spec", "kubeConfig"); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Patch(context.Background(), cur, client.MergeFrom(base)); err != nil {
		t.Fatal(err)
	}
}

func identityGuard(ns, configMap, label string) v1alpha1.MaintenanceGuardSpec {
	return v1alpha1.MaintenanceGuardSpec{
		Targets: onlyNamespace(ns), Signals: nodeSignal(label), Debounce: dur(0), Settle: dur(0),
		Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: ns, Name: configMap}}},
	}
}

// A guard on the hub reaches a workload cluster through a kubeConfig
// ConfigMap with the generic provider, as Flux does: with a token of the
// ServiceAccount the ConfigMap names, or of its own ServiceAccount when
// it names none, requested from the hub for the ConfigMap's audiences;
// the workload cluster trusts the hub's tokens. A cordon there pauses only
// the hub objects whose spec.kubeConfig.configMapRef names that
// ConfigMap. A ConfigMap whose audience the workload cluster does not
// accept, that names a missing ServiceAccount, a cloud provider or an
// audience of the hub itself is reported in RemoteClusterReachable, and
// neither starts nor ends a pause.
func TestGuardByWorkloadIdentity(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t, nil)
	own := types.NamespacedName{Namespace: ns, Name: "fluxgate"}
	deployer := types.NamespacedName{Namespace: ns, Name: "prod-deployer"}
	for _, sa := range []types.NamespacedName{own, deployer} {
		if err := k8s.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: sa.Name}}); err != nil {
			t.Fatal(err)
		}
	}
	workload, wc := startWorkloadTrustingHub(t, own, deployer)
	wcfg := workload.Config

	configMap := func(name string, data map[string]string) {
		t.Helper()
		base := map[string]string{"provider": "generic", "address": wcfg.Host, "ca.crt": string(wcfg.CAData), "audiences": workloadAudience}
		for k, v := range data {
			if v == "" {
				delete(base, k)
			} else {
				base[k] = v
			}
		}
		if err := k8s.Create(ctx, &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name}, Data: base}); err != nil {
			t.Fatal(err)
		}
	}
	configMap("prod", map[string]string{"serviceAccountName": deployer.Name})
	configMap("prod-own", nil)
	configMap("wrong-audience", map[string]string{"audiences": "not-" + workloadAudience})
	configMap("missing-sa", map[string]string{"serviceAccountName": "missing"})
	configMap("eks", map[string]string{"provider": "aws", "cluster": "arn:aws:eks:eu-west-1:000000000000:cluster/prod"})

	clk := &clock{t: time.Date(2026, 12, 6, 9, 0, 0, 0, time.UTC)}
	startGuardAs(t, clk, own)

	prod := flux(t, pause.Kustomization, ns, "apps-prod", false)
	byConfigMap(t, prod, "prod")
	prodOwn := flux(t, pause.HelmRelease, ns, "infra-prod", false)
	byConfigMap(t, prodOwn, "prod-own")
	wrong := flux(t, pause.Kustomization, ns, "apps-wrong-audience", false)
	byConfigMap(t, wrong, "wrong-audience")
	// Same name, but a Secret: another cluster.
	bySecret := flux(t, pause.Kustomization, ns, "apps-by-secret", false)
	targeting(t, bySecret, "prod")
	hub := flux(t, pause.Kustomization, ns, "apps-hub", false)

	label := uniq("identity")
	g := guard(t, identityGuard(ns, "prod", label))
	gOwn := guard(t, identityGuard(ns, "prod-own", label))
	gWrong := guard(t, identityGuard(ns, "wrong-audience", label))
	node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "workload-node-1", Labels: map[string]string{"test": label}}}
	if err := wc.Create(ctx, node); err != nil {
		t.Fatal(err)
	}
	reachable := func(g *v1alpha1.MaintenanceGuard) *metav1.Condition {
		return apimeta.FindStatusCondition(status(t, g).Conditions, v1alpha1.RemoteClusterReachableCondition)
	}
	waitReachable := func(g *v1alpha1.MaintenanceGuard, want metav1.ConditionStatus, reason string, msgHas ...string) {
		t.Helper()
		eventually(t, func() error {
			kick(t, g)
			c := reachable(g)
			if c == nil || c.Status != want || c.Reason != reason {
				return fmt.Errorf("guard %s: RemoteClusterReachable %+v, want %s %s", g.Name, c, want, reason)
			}
			for _, s := range msgHas {
				if !strings.Contains(c.Message, s) {
					return fmt.Errorf("guard %s: RemoteClusterReachable message %q lacks %q", g.Name, c.Message, s)
				}
			}
			return nil
		})
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	waitPhase(t, gOwn, v1alpha1.PhaseIdle)
	waitReachable(g, metav1.ConditionTrue, v1alpha1.RemoteClusterAnsweredReason)
	waitReachable(gOwn, metav1.ConditionTrue, v1alpha1.RemoteClusterAnsweredReason)
	waitReachable(gWrong, metav1.ConditionFalse, v1alpha1.RemoteClusterUnreachableReason, "refused the ServiceAccount token", "audiences")

	// A node of the workload cluster is cordoned: the objects naming its
	// ConfigMaps pause, and nothing else; the guard the workload cluster
	// does not answer starts no pause.
	node.Spec.Unschedulable = true
	if err := wc.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhasePaused)
	waitPhase(t, gOwn, v1alpha1.PhasePaused)
	kick(t, gWrong)
	time.Sleep(time.Second)
	if st := status(t, gWrong); st.Phase == v1alpha1.PhasePaused || suspended(t, wrong) {
		t.Fatalf("guard with the wrong audience: phase %s, suspended %v; want no pause", st.Phase, suspended(t, wrong))
	}
	if !suspended(t, prod) || !suspended(t, prodOwn) || suspended(t, bySecret) || suspended(t, hub) {
		t.Fatalf("suspended: prod %v, prod-own %v, by-secret %v, hub %v; want the two naming the ConfigMaps",
			suspended(t, prod), suspended(t, prodOwn), suspended(t, bySecret), suspended(t, hub))
	}
	if st := status(t, g); st.PausedCount != 1 || st.Paused[0].Name != prod.GetName() {
		t.Fatalf("guard %s holds %+v, want %s alone", g.Name, st.Paused, prod.GetName())
	}

	// The own-identity guard's ConfigMap changes to an audience the
	// workload cluster refuses: reported, and the pause holds after the
	// uncordon, however long.
	cur := &corev1.ConfigMap{}
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-own"}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Data["audiences"] = "not-" + workloadAudience
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitReachable(gOwn, metav1.ConditionFalse, v1alpha1.RemoteClusterUnreachableReason, "refused the ServiceAccount token")
	node.Spec.Unschedulable = false
	if err := wc.Update(ctx, node); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, g, v1alpha1.PhaseIdle)
	if suspended(t, prod) {
		t.Fatal("prod not resumed after the uncordon")
	}
	clk.Add(time.Hour)
	kick(t, gOwn)
	time.Sleep(time.Second)
	if st := status(t, gOwn); st.Phase != v1alpha1.PhasePaused || !suspended(t, prodOwn) {
		t.Fatalf("with its token refused: phase %s, infra-prod suspended %v; want the pause kept", st.Phase, suspended(t, prodOwn))
	}
	// Fixed: the guard sees the uncordon and resumes.
	if err := k8s.Get(ctx, client.ObjectKey{Namespace: ns, Name: "prod-own"}, cur); err != nil {
		t.Fatal(err)
	}
	cur.Data["audiences"] = workloadAudience
	if err := k8s.Update(ctx, cur); err != nil {
		t.Fatal(err)
	}
	waitPhase(t, gOwn, v1alpha1.PhaseIdle)
	if suspended(t, prodOwn) {
		t.Fatal("infra-prod not resumed once the workload cluster answered again")
	}

	// What the hub refuses, or the guard does not implement, is named.
	waitReachable(guard(t, identityGuard(ns, "missing-sa", label)), metav1.ConditionFalse, v1alpha1.CredentialsUnavailableReason, ns+"/missing", "not found")
	waitReachable(guard(t, identityGuard(ns, "eks", label)), metav1.ConditionFalse, v1alpha1.ProviderNotSupportedReason, `provider "aws"`)
	waitReachable(guard(t, identityGuard(ns, "no-such-configmap", label)), metav1.ConditionFalse, v1alpha1.RemoteClusterUnreachableReason, "no-such-configmap", "not found")
	// An audience the hub accepts would make the token valid against the
	// hub: refused before any token is requested with it.
	hubAud := hubAudience(t, own)
	configMap("hub-audience", map[string]string{"audiences": hubAud})
	waitReachable(guard(t, identityGuard(ns, "hub-audience", label)), metav1.ConditionFalse, v1alpha1.InvalidKubeConfigReason, hubAud, "valid against the hub")
}

// hubAudience is an audience of the tokens the hub issues by default.
func hubAudience(t *testing.T, sa types.NamespacedName) string {
	t.Helper()
	var a []string
	eventually(t, func() error {
		var err error
		a, err = tokenAudiences(sa)
		return err
	})
	return a[0]
}

// A guard naming both a kubeconfig Secret and a ConfigMap (possible for
// a guard stored before the CRD had the rule) is an invalid spec.
func TestGuardNamingSecretAndConfigMapIsInvalid(t *testing.T) {
	g := &v1alpha1.MaintenanceGuard{Spec: v1alpha1.MaintenanceGuardSpec{Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{
		SecretRef:    &v1alpha1.SecretKeyReference{Namespace: "fleet", Name: "prod-kubeconfig"},
		ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: "fleet", Name: "prod"},
	}}}}
	if err := validCluster(g); err == nil || !strings.Contains(err.Error(), "exactly one of configMapRef or secretRef") {
		t.Errorf("both: %v", err)
	}
	g.Spec.Cluster.KubeConfig = v1alpha1.KubeConfigReference{}
	if err := validCluster(g); err == nil {
		t.Error("neither: no error")
	}
	g.Spec.Cluster.KubeConfig.ConfigMapRef = &v1alpha1.ConfigMapReference{Namespace: "fleet", Name: "prod"}
	if err := validCluster(g); err != nil {
		t.Errorf("a ConfigMap alone: %v", err)
	}
}

// appliesHere: the configMapRef of a Flux object, in the ConfigMap's
// namespace, names the guard's cluster; a secretRef of the same name does
// not; a local guard skips both.
func TestAppliesHereByConfigMap(t *testing.T) {
	obj := func(ns string, kubeConfig map[string]any) *unstructured.Unstructured {
		u := &unstructured.Unstructured{Object: map[string]any{"spec": map[string]any{}}}
		u.SetNamespace(ns)
		if kubeConfig != nil {
			u.Object["spec"] = map[string]any{"kubeConfig": kubeConfig}
		}
		return u
	}
	byCM := &v1alpha1.MaintenanceGuard{Spec: v1alpha1.MaintenanceGuardSpec{Cluster: &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{
		ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: "fleet", Name: "prod"}}}}}
	local := &v1alpha1.MaintenanceGuard{}
	for _, tc := range []struct {
		name      string
		u         *unstructured.Unstructured
		byCM, loc bool
	}{
		{"configMapRef, same namespace", obj("fleet", map[string]any{"configMapRef": map[string]any{"name": "prod"}}), true, false},
		{"configMapRef, other namespace", obj("apps", map[string]any{"configMapRef": map[string]any{"name": "prod"}}), false, false},
		{"configMapRef, other name", obj("fleet", map[string]any{"configMapRef": map[string]any{"name": "staging"}}), false, false},
		{"secretRef of the same name", obj("fleet", map[string]any{"secretRef": map[string]any{"name": "prod"}}), false, false},
		{"no kubeConfig", obj("fleet", nil), false, true},
	} {
		if got := appliesHere(byCM, tc.u); got != tc.byCM {
			t.Errorf("%s: the ConfigMap's guard %v, want %v", tc.name, got, tc.byCM)
		}
		if got := appliesHere(local, tc.u); got != tc.loc {
			t.Errorf("%s: a local guard %v, want %v", tc.name, got, tc.loc)
		}
	}
}

// tokenAudiences returns the audiences of a token the hub issues for sa
// by default.
func tokenAudiences(sa types.NamespacedName) ([]string, error) {
	token, _, err := workloadidentity.RequestToken(context.Background(), k8s, sa, nil)
	if err != nil {
		return nil, err
	}
	claims, err := workloadidentity.ParseToken(token)
	if err != nil {
		return nil, err
	}
	if len(claims.Audiences) == 0 {
		return nil, fmt.Errorf("a token of %s has no audience", sa)
	}
	return claims.Audiences, nil
}
