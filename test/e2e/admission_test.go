package e2e_test

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"

	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// The admission scenario's names: its own namespace, holding its
// Kustomization and its own ExternalArtifact, so publishing its revisions
// moves no other scenario's objects.
const (
	admissionNS   = "e2e-admission"
	admissionPath = "admission/app"
)

// admissionFiles renders the scenario's folder: the Deployment web (with
// its PDB) whose rollout budget is maxUnavailable, a ConfigMap, and, when
// plain is set, a Deployment "plain" without any spec.strategy.
func admissionFiles(t *testing.T, maxUnavailable int, plain bool) map[string]string {
	t.Helper()
	web := scenario.AppManifest(admissionNS, scenario.App{Name: "web", Replicas: 4}, "1.0.0")
	// Only the Deployment says "maxUnavailable: 0"; its PDB allows 1.
	web = strings.Replace(web, "maxUnavailable: 0", fmt.Sprintf("maxUnavailable: %d", maxUnavailable), 1)
	files := map[string]string{
		admissionPath + "/web.yaml": web,
		admissionPath + "/settings.yaml": "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: settings\n  namespace: " +
			admissionNS + "\ndata:\n  greeting: hello\n",
	}
	if plain {
		const strategy = "  strategy:\n    type: RollingUpdate\n    rollingUpdate:\n      maxSurge: 25%\n      maxUnavailable: 0\n"
		m := scenario.AppManifest(admissionNS, scenario.App{Name: "plain", Replicas: 2}, "1.0.0")
		if !strings.Contains(m, strategy) {
			t.Fatal("the fleet's manifest no longer has the strategy block this scenario removes")
		}
		files[admissionPath+"/plain.yaml"] = strings.Replace(m, strategy, "", 1)
	}
	return files
}

// TestAdmissionThroughFlux proves that fluxgate's webhook is what Flux
// meets when it applies Git: a denied Deployment fails its Kustomization
// with the policy's message and nothing of the stage is applied; a fix in
// Git recovers; and a mutated Deployment does not make Flux see drift on
// every reconcile (no apply loop between Flux and the mutating webhook).
func TestAdmissionThroughFlux(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()
	source := types.NamespacedName{Namespace: admissionNS, Name: "admission"}
	key := types.NamespacedName{Namespace: admissionNS, Name: "admission"}

	if err := e.CreateNamespace(ctx, admissionNS, nil); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		// The Kustomization's finalizer prunes what it applied, then the
		// namespace goes; nothing here pauses, so no guard and no node.
		if err := e.DeleteNamespace(context.Background(), admissionNS, 2*time.Minute); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	publish := func(t *testing.T, files map[string]string, msg string) string {
		t.Helper()
		// An overlay keeps the other scenarios' folders in the shared repo.
		rev, err := e.Repo.CommitOverlay(files, msg)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := e.Source.Publish(ctx, e.Client, source.Namespace, source.Name, rev); err != nil {
			t.Fatalf("publish %s: %v", rev, err)
		}
		return rev
	}

	// Stage 1: a Deployment breaking rollout-strategy next to a ConfigMap.
	bad := publish(t, admissionFiles(t, 2, false), "admission: maxUnavailable 2")
	if err := e.Client.Create(ctx, scenario.KustomizationFrom(admissionNS, key.Name, "./"+admissionPath, source)); err != nil {
		t.Fatal(err)
	}
	var denied scenario.KustomizationState
	if err := scenario.Poll(ctx, time.Minute, func(ctx context.Context) error {
		st, err := e.GetKustomization(ctx, key)
		if err != nil {
			return err
		}
		denied = st
		if st.Ready != "False" || !strings.Contains(st.Message, "rollout-strategy") {
			return fmt.Errorf("want Ready=False with rollout-strategy's message, got %+v", st)
		}
		return nil
	}); err != nil {
		t.Fatal(err)
	}
	t.Logf("Flux reports the denial of %s as: %s", bad, denied.Message)
	if denied.LastAppliedRevision != "" {
		t.Errorf("lastAppliedRevision = %q after a denied first apply, want none", denied.LastAppliedRevision)
	}
	// kustomize-controller server-side dry-runs every object of a stage
	// (the webhook answers dry-runs exactly as real requests) before it
	// applies any: one denial fails the stage, so the ConfigMap, which no
	// policy judges, is not applied either. Two more full reconciles,
	// forced, change nothing.
	for i := range 2 {
		if _, err := e.RequestReconcile(ctx, key, time.Minute); err != nil {
			t.Fatalf("forced reconcile %d of the denied revision: %v", i+1, err)
		}
	}
	if err := assertAbsent(ctx, e, "web", "settings"); err != nil {
		t.Error(err)
	}

	// Stage 2: the fix in Git recovers without anyone touching the cluster.
	fixed := publish(t, admissionFiles(t, 0, false), "admission: maxUnavailable 0")
	waitApplied(ctx, t, e, key, fixed)
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: admissionNS, Name: "web"}, &appsv1.Deployment{}); err != nil {
		t.Errorf("Deployment web after the fix: %v", err)
	}
	if err := e.Client.Get(ctx, types.NamespacedName{Namespace: admissionNS, Name: "settings"}, &corev1.ConfigMap{}); err != nil {
		t.Errorf("ConfigMap settings after the fix: %v", err)
	}

	// Stage 3: a Deployment without a strategy is mutated to fluxgate's
	// budget; Flux's dry-run goes through the same mutation, so it sees
	// no drift and re-applies nothing on later reconciles.
	withPlain := publish(t, admissionFiles(t, 0, true), "admission: a Deployment without a strategy")
	waitApplied(ctx, t, e, key, withPlain)
	plainKey := types.NamespacedName{Namespace: admissionNS, Name: "plain"}
	plain := waitRolledOut(ctx, t, e, plainKey)
	s := plain.Spec.Strategy
	if s.Type != appsv1.RollingUpdateDeploymentStrategyType || s.RollingUpdate == nil ||
		s.RollingUpdate.MaxSurge == nil || *s.RollingUpdate.MaxSurge != intstr.FromString("25%") ||
		s.RollingUpdate.MaxUnavailable == nil || s.RollingUpdate.MaxUnavailable.IntValue() != 0 {
		t.Fatalf("Deployment plain's strategy = %+v, want RollingUpdate maxSurge 25%% maxUnavailable 0 (mutated)", s)
	}
	web := waitRolledOut(ctx, t, e, types.NamespacedName{Namespace: admissionNS, Name: "web"})
	before := map[string]*appsv1.Deployment{"plain": plain, "web": web}

	for i := range 3 {
		if _, err := e.RequestReconcile(ctx, key, time.Minute); err != nil {
			t.Fatalf("reconcile %d: %v", i+1, err)
		}
		st, err := e.GetKustomization(ctx, key)
		if err != nil {
			t.Fatal(err)
		}
		if st.Ready != "True" || st.LastAppliedRevision != withPlain {
			t.Errorf("reconcile %d: %+v, want Ready=True at %s", i+1, st, withPlain)
		}
		for name, was := range before {
			now := &appsv1.Deployment{}
			if err := e.Client.Get(ctx, types.NamespacedName{Namespace: admissionNS, Name: name}, now); err != nil {
				t.Fatal(err)
			}
			if now.Generation != was.Generation || now.ResourceVersion != was.ResourceVersion {
				t.Errorf("reconcile %d changed Deployment %s: generation %d -> %d, resourceVersion %s -> %s (Flux and the webhook disagree)",
					i+1, name, was.Generation, now.Generation, was.ResourceVersion, now.ResourceVersion)
			}
		}
	}
}

// assertAbsent fails unless neither the Deployment nor the ConfigMap of
// the scenario exists.
func assertAbsent(ctx context.Context, e *scenario.Env, deployment, configMap string) error {
	for _, c := range []struct {
		what string
		get  func() error
	}{
		{"Deployment " + deployment, func() error {
			return e.Client.Get(ctx, types.NamespacedName{Namespace: admissionNS, Name: deployment}, &appsv1.Deployment{})
		}},
		{"ConfigMap " + configMap, func() error {
			return e.Client.Get(ctx, types.NamespacedName{Namespace: admissionNS, Name: configMap}, &corev1.ConfigMap{})
		}},
	} {
		if err := c.get(); !apierrors.IsNotFound(err) {
			return fmt.Errorf("%s was applied although its stage was denied (get: %v)", c.what, err)
		}
	}
	return nil
}

// waitApplied waits until the Kustomization is Ready at rev.
func waitApplied(ctx context.Context, t *testing.T, e *scenario.Env, key types.NamespacedName, rev string) {
	t.Helper()
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{key}, time.Minute, func(st scenario.KustomizationState) bool {
		return st.Ready == "True" && st.LastAppliedRevision == rev
	}); err != nil {
		t.Fatalf("Kustomization %s not applied at %s: %v", key, rev, err)
	}
}

// waitRolledOut waits until the Deployment's controller has caught up with
// its spec and every replica is available, so that its status, and so its
// resourceVersion, stops moving.
func waitRolledOut(ctx context.Context, t *testing.T, e *scenario.Env, key types.NamespacedName) *appsv1.Deployment {
	t.Helper()
	d := &appsv1.Deployment{}
	if err := scenario.Poll(ctx, time.Minute, func(ctx context.Context) error {
		if err := e.Client.Get(ctx, key, d); err != nil {
			return fmt.Errorf("read Deployment %s: %w", key, err)
		}
		st, want := d.Status, *d.Spec.Replicas
		if st.ObservedGeneration != d.Generation || st.UpdatedReplicas != want || st.AvailableReplicas != want ||
			st.ReadyReplicas != want || st.Replicas != want {
			return fmt.Errorf("Deployment %s not rolled out: %+v", key, st)
		}
		return nil
	}); err != nil {
		t.Fatalf("%v\npods:\n%s", err, describePods(ctx, e, key.Namespace))
	}
	return d
}

// describePods lists the pods of a namespace, one line each, for a
// failure message.
func describePods(ctx context.Context, e *scenario.Env, namespace string) string {
	pods := &corev1.PodList{}
	if err := e.Client.List(ctx, pods, client.InNamespace(namespace)); err != nil {
		return err.Error()
	}
	var b strings.Builder
	for _, p := range pods.Items {
		fmt.Fprintf(&b, "  %s node=%q phase=%s conditions=%v\n", p.Name, p.Spec.NodeName, p.Status.Phase, p.Status.Conditions)
	}
	return b.String()
}
