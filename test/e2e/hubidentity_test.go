package e2e_test

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"

	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/test/e2e/cluster"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// The workload-identity hub scenario's names, in hubNamespace (where
// fluxgate may read ConfigMaps and ServiceAccounts and request tokens:
// maintenanceGuard.kubeConfigConfigMapNamespaces in main_test.go).
const (
	identityGuard     = "e2e-hub-identity"
	identityArtifact  = "hub-identity"
	identityConfigMap = "workload-identity"
	identityDeployer  = "workload-deployer"
	identityAudience  = "e2e-workload"
	identityAppNS     = "e2e-hub-identity-app"
	identityKS        = "workload-identity"
)

// TestHubPausesOneClusterByWorkloadIdentity is TestHubPausesOneCluster
// with Flux's workload identity instead of a kubeconfig Secret: the
// workload cluster authenticates the hub's ServiceAccount tokens (a JWT
// authenticator for the hub's issuer, audience e2e-workload), and one
// ConfigMap (provider generic, the workload API's address and CA, the
// audience, serviceAccountName) serves both the hub's kustomize-controller
// (spec.kubeConfig.configMapRef, with Flux's ObjectLevelWorkloadIdentity
// gate) and the guard (spec.cluster.kubeConfig.configMapRef). Flux
// applies the app through it; draining a node of the workload cluster
// pauses the Kustomization, a revision pushed meanwhile waits, and after
// the uncordon it rolls out.
func TestHubPausesOneClusterByWorkloadIdentity(t *testing.T) {
	e := requireEnv(t)
	ctx := context.Background()

	issuer, err := testenv.PublishHubIssuer(e.Cluster.RESTConfig())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(issuer.Close)
	authn, err := issuer.AuthenticationConfig(identityAudience)
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(t.TempDir(), "workload")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	authnFile := filepath.Join(dir, "authentication.json")
	if err := os.WriteFile(authnFile, authn, 0o600); err != nil {
		t.Fatal(err)
	}
	workload, err := cluster.Start(ctx, cluster.Options{
		Nodes: 2, Dir: dir, Log: cluster.TestLog(t),
		// Its own issuer may not be the hub's, which both clusters'
		// defaults share.
		APIServerFlags: []string{"--authentication-config=" + authnFile, "--service-account-issuer=https://workload.e2e.local"},
	})
	if err != nil {
		t.Fatalf("start the workload cluster: %v", err)
	}
	t.Cleanup(workload.Stop)
	t.Cleanup(func() {
		if err := cleanupHubIdentity(context.Background(), e); err != nil {
			t.Errorf("cleanup: %v", err)
		}
	})

	// The hub's ServiceAccount, which Flux and the guard both use: an
	// administrator of the workload cluster, by the user name its tokens
	// carry.
	if err := e.Client.Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: identityDeployer}}); err != nil {
		t.Fatal(err)
	}
	if _, err := workload.Client.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "hub-deployer"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "cluster-admin"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Namespace: hubNamespace, Name: identityDeployer}},
	}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	wcfg := workload.RESTConfig()
	if err := e.Client.Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: identityConfigMap},
		Data: map[string]string{
			"provider": "generic", "address": wcfg.Host, "ca.crt": string(wcfg.CAData),
			"audiences": identityAudience, "serviceAccountName": identityDeployer,
		},
	}); err != nil {
		t.Fatal(err)
	}

	source := types.NamespacedName{Namespace: hubNamespace, Name: identityArtifact}
	app := types.NamespacedName{Namespace: hubNamespace, Name: identityKS}
	deployment := types.NamespacedName{Namespace: identityAppNS, Name: workloadApp}
	ks := scenario.KustomizationFrom(app.Namespace, app.Name, "./hub-identity", source)
	ks.Object["spec"].(map[string]any)["kubeConfig"] = map[string]any{"configMapRef": map[string]any{"name": identityConfigMap}}
	if err := e.Client.Create(ctx, ks); err != nil {
		t.Fatal(err)
	}
	publish := publisher(ctx, e, source, "hub-identity", func(version string) map[string]string {
		return map[string]string{
			"hub-identity/namespace.yaml": fmt.Sprintf("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: %s\n", identityAppNS),
			"hub-identity/web.yaml":       scenario.AppManifest(identityAppNS, scenario.App{Name: workloadApp, Replicas: 2}, version),
		}
	})

	// Flux reaches the workload cluster through the ConfigMap.
	rev1 := publish(t, "1.0.0")
	if err := e.WaitKustomizations(ctx, []types.NamespacedName{app}, 2*time.Minute, applied(rev1)); err != nil {
		t.Fatalf("revision 1 not applied through the ConfigMap: %v", err)
	}
	if err := waitWorkloadRollout(ctx, workload, deployment, "1.0.0"); err != nil {
		t.Fatalf("the workload cluster: %v", err)
	}

	// So does the guard.
	startHubGuard(ctx, t, e, identityGuard, map[string]any{
		"configMapRef": map[string]any{"namespace": hubNamespace, "name": identityConfigMap},
	})
	node := drainUntilPaused(ctx, t, e, workload, identityGuard, app)

	// A revision pushed during the maintenance waits for its end.
	rev2 := publish(t, "1.1.0")
	time.Sleep(5 * time.Second)
	checkHeld(ctx, t, e, workload, app, rev1, deployment, "1.0.0")

	uncordonUntilApplied(ctx, t, e, workload, node, app, rev2, deployment, "1.1.0")
	if err := guardReachable(ctx, e, identityGuard); err != nil {
		t.Error(err)
	}
}

// cleanupHubIdentity removes what the scenario put in hubNamespace (see
// cleanupHubScenario): its Kustomization, its source, the ConfigMap and
// the ServiceAccount.
func cleanupHubIdentity(ctx context.Context, e *scenario.Env) error {
	return cleanupHubScenario(ctx, e, []string{identityKS}, identityArtifact,
		&corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: identityConfigMap}},
		&corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: hubNamespace, Name: identityDeployer}})
}
