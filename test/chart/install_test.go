package chart

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	autoscalingv1 "k8s.io/api/autoscaling/v1"
	coordinationv1 "k8s.io/api/coordination/v1"
	corev1 "k8s.io/api/core/v1"
	eventsv1 "k8s.io/api/events/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/audit"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/policy"
	"github.com/fluxgate/fluxgate/server"
	"github.com/fluxgate/fluxgate/test/e2e/install"
)

// installValues turn on everything the process can be asked to do, so
// that every permission the chart grants gets exercised. Flux runs in
// another namespace than flux-system, so the chart also passes fluxgate a
// configuration (--config from its ConfigMap).
var installValues = map[string]any{
	"fluxNamespace": "gitops",
	"maintenanceGuard": map[string]any{"create": true, "kubeConfigConfigMapNamespaces": []any{identityNamespace}, "spec": map[string]any{
		"debounce": "0s", "settle": "1s",
		"signals": map[string]any{
			"nodes":                   map[string]any{"enabled": true},
			"controlPlane":            map[string]any{"enabled": true},
			"kured":                   map[string]any{"enabled": true},
			"systemUpgradeController": map[string]any{"enabled": true},
			"nodeMaintenance":         map[string]any{"enabled": true},
		},
	}},
	"policyConfigMaps": map[string]any{
		"team": map[string]any{"team.rego": "package fluxgate.team\n"},
	},
	"audit": map[string]any{"reports": map[string]any{"installCRD": true}},
}

// The chart, installed with Helm's SDK into a real API server, runs
// `fluxgate serve` as a separate process under the chart's ServiceAccount
// (impersonated) and with nothing but the chart's RBAC, behind the
// rendered webhook configurations. The API server calls it: a Deployment
// is mutated and a bad PDB denied. The guard pauses a Kustomization during
// a cordon and resumes it after; guards of a workload cluster reached by
// workload identity (a kubeConfig ConfigMap) do the same there. `helm uninstall` in the middle of a pause
// resumes everything through the chart's pre-delete hook and leaves no
// webhook configuration behind. The API server's audit log then shows that
// no request was forbidden and that every verb the chart grants, to
// fluxgate and to its hook, was used.
func TestInstallServeUninstall(t *testing.T) {
	fluxCRDs, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	auditPolicy, auditLog := auditFiles(t)
	env := &envtest.Environment{
		BinaryAssetsDirectory: envtestAssets(t),
		// The chart's own CRD is installed by Helm, from crds/.
		CRDDirectoryPaths:     []string{fluxCRDs, "../../maintenance/signals/testdata/crds"},
		ErrorIfCRDPathMissing: true,
	}
	env.ControlPlane.GetAPIServer().Configure().
		Set("audit-policy-file", auditPolicy).
		Set("audit-log-path", auditLog)
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	scheme, err := server.NewScheme()
	if err != nil {
		t.Fatal(err)
	}
	admin, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	adminUser, err := env.AddUser(envtest.User{Name: "helm-admin", Groups: []string{"system:masters"}}, nil)
	if err != nil {
		t.Fatal(err)
	}
	adminKubeconfig, err := adminUser.KubeConfig()
	if err != nil {
		t.Fatal(err)
	}
	kubeconfigPath := filepath.Join(t.TempDir(), "admin.kubeconfig")
	if err := os.WriteFile(kubeconfigPath, adminKubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()

	// `helm install`, then `fluxgate serve` with the installed Deployment's
	// arguments. The API server here cannot reach a Service, so the
	// installed webhook configurations are pointed at the process on
	// 127.0.0.1, the one edit a real cluster does not need; rules,
	// selectors, conditions and failure policies stay as rendered.
	// The chart's Roles for kubeConfig ConfigMaps go into this namespace.
	createNamespace(t, admin, identityNamespace)
	fg, err := install.Install(ctx, install.Options{
		Kubeconfig: kubeconfigPath, Binary: fluxgateBinary(t), ChartDir: chartDir,
		Release: releaseName, Namespace: namespace, Values: installValues, Dir: t.TempDir(),
		Start: func(_ string, cmd *exec.Cmd) (install.Process, error) { return startProcess(t, cmd) },
	})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fg.Stop)
	eventually(t, fg, "leader election Lease", func(ctx context.Context) error {
		var l coordinationv1.Lease
		if err := admin.Get(ctx, client.ObjectKey{Namespace: namespace, Name: server.LeaderElectionID}, &l); err != nil {
			return err
		}
		if l.Spec.HolderIdentity == nil {
			return errors.New("no holder")
		}
		return nil
	})

	t.Run("a Deployment without a strategy is mutated through the API server", func(t *testing.T) {
		createNamespace(t, admin, "apps")
		d := appDeployment("apps", "web")
		d.Spec.Strategy = appsv1.DeploymentStrategy{}
		if err := admin.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		ru := d.Spec.Strategy.RollingUpdate
		if ru == nil || ru.MaxUnavailable.String() != "0" || ru.MaxSurge.String() != "25%" {
			t.Fatalf("strategy %+v, want the zero-downtime default", d.Spec.Strategy)
		}
	})
	t.Run("a PDB that blocks every drain is denied through the API server", func(t *testing.T) {
		pdb := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MaxUnavailable: ptr.To(intstr.FromInt32(0)),
				Selector:       &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}},
			},
		}
		err := admin.Create(ctx, pdb)
		if !apierrors.IsForbidden(err) && !apierrors.IsInvalid(err) || !strings.Contains(fmt.Sprint(err), "pdb-drain-safe") {
			t.Fatalf("create PDB maxUnavailable 0: %v, want a pdb-drain-safe denial", err)
		}
	})
	// `kubectl scale` goes through the rendered scale rules. The same denied
	// scale twice is one Event whose series the recorder patches (the
	// chart's patch on events.k8s.io): Events of different requests are
	// kept apart, so only a repeat folds.
	t.Run("a scale that blocks drains is denied, and its repeat counted on one Event", func(t *testing.T) {
		d := appDeployment("apps", "api")
		d.Spec.Replicas = ptr.To[int32](3)
		budget := &policyv1.PodDisruptionBudget{
			ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "api"},
			Spec: policyv1.PodDisruptionBudgetSpec{
				MinAvailable:               ptr.To(intstr.FromInt32(2)),
				Selector:                   d.Spec.Selector,
				UnhealthyPodEvictionPolicy: ptr.To(policyv1.AlwaysAllow),
			},
		}
		for _, obj := range []client.Object{d, budget} {
			if err := admin.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		scale := func(opts ...client.SubResourceUpdateOption) error {
			body := &autoscalingv1.Scale{ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "api"}, Spec: autoscalingv1.ScaleSpec{Replicas: 2}}
			return admin.SubResource("scale").Update(ctx, d, append(opts, client.WithSubResourceBody(body))...)
		}
		eventually(t, fg, "the Deployment and its budget in fluxgate's cache", func(context.Context) error {
			if err := scale(client.DryRunAll); err == nil {
				return errors.New("scale-down admitted")
			}
			return nil
		})
		for range 2 {
			if err := scale(); !apierrors.IsForbidden(err) || !strings.Contains(fmt.Sprint(err), "pdb-drain-safe") {
				t.Fatalf("scale 3 -> 2 under minAvailable 2: %v, want a pdb-drain-safe denial", err)
			}
		}
		eventually(t, fg, "one PolicyDenied Event counting both", func(ctx context.Context) error {
			var events eventsv1.EventList
			if err := admin.List(ctx, &events, client.InNamespace("apps")); err != nil {
				return err
			}
			for _, e := range events.Items {
				if e.Reason == "PolicyDenied" && e.Regarding.Name == "api" && e.Series != nil && e.Series.Count >= 2 {
					return nil
				}
			}
			return errors.New("no PolicyDenied Event on Deployment apps/api with a series")
		})
	})
	// The audit's Reports: created for a namespace with workloads, updated
	// when they change, deleted when they are gone (every verb the chart
	// grants on reports.openreports.io).
	t.Run("the audit reports what runs and forgets what is gone", func(t *testing.T) {
		createNamespace(t, admin, "audited")
		d := appDeployment("audited", "solo")
		if err := admin.Create(ctx, d); err != nil {
			t.Fatal(err)
		}
		report := func(ctx context.Context) (*reportsv1alpha1.Report, error) {
			r := &reportsv1alpha1.Report{}
			return r, admin.Get(ctx, client.ObjectKey{Namespace: "audited", Name: audit.ReportName}, r)
		}
		eventually(t, fg, "a Report for namespace audited", func(ctx context.Context) error {
			r, err := report(ctx)
			if err != nil {
				return err
			}
			if r.Summary.Pass == 0 {
				return fmt.Errorf("summary %+v", r.Summary)
			}
			return nil
		})
		before, _ := report(ctx)
		// An exemption turns replicas-ha's warning into a skip.
		d.Annotations = map[string]string{policy.ExemptAnnotation: "replicas-ha", policy.ExemptReasonAnnotation: "a batch worker"}
		if err := admin.Update(ctx, d); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "the Report updated", func(ctx context.Context) error {
			r, err := report(ctx)
			if err != nil {
				return err
			}
			if r.ResourceVersion == before.ResourceVersion {
				return errors.New("unchanged")
			}
			return nil
		})
		if err := admin.Delete(ctx, d); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "the Report deleted", func(ctx context.Context) error {
			if _, err := report(ctx); !apierrors.IsNotFound(err) {
				return fmt.Errorf("still there: %v", err)
			}
			return nil
		})
	})
	// Flux elsewhere (fluxNamespace: gitops): the webhooks never see that
	// namespace, and the process, configured through the chart, exempts
	// it; flux-system is then a namespace like any other, judged at
	// admission and audited (the audit reads the configuration only).
	t.Run("Flux's namespace is the one fluxNamespace names", func(t *testing.T) {
		// Denied anywhere fluxgate judges: several replicas gain nothing
		// from Recreate but downtime.
		recreate := func(ns string) *appsv1.Deployment {
			d := appDeployment(ns, "source-controller")
			d.Spec.Replicas = ptr.To[int32](2)
			d.Spec.Strategy = appsv1.DeploymentStrategy{Type: appsv1.RecreateDeploymentStrategyType}
			return d
		}
		createNamespace(t, admin, "gitops")
		createNamespace(t, admin, "flux-system")
		if err := admin.Create(ctx, recreate("gitops")); err != nil {
			t.Fatalf("a Recreate Deployment in gitops, Flux's namespace: %v, want admitted", err)
		}
		if err := admin.Create(ctx, recreate("flux-system")); !apierrors.IsForbidden(err) || !strings.Contains(fmt.Sprint(err), "rollout-strategy") {
			t.Fatalf("a Recreate Deployment in flux-system, not Flux's namespace here: %v, want a rollout-strategy denial", err)
		}
		if err := admin.Create(ctx, appDeployment("flux-system", "solo")); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "a Report for namespace flux-system", func(ctx context.Context) error {
			return admin.Get(ctx, client.ObjectKey{Namespace: "flux-system", Name: audit.ReportName}, &reportsv1alpha1.Report{})
		})
		err := admin.Get(ctx, client.ObjectKey{Namespace: "gitops", Name: audit.ReportName}, &reportsv1alpha1.Report{})
		if !apierrors.IsNotFound(err) {
			t.Errorf("a Report for namespace gitops, Flux's namespace: %v, want none", err)
		}
	})
	// Nothing is rendered into the Secret's data or the caBundle: Helm's
	// three-way merge must leave what fluxgate wrote there alone.
	t.Run("helm upgrade keeps the issued certificate and the injected CA bundle", func(t *testing.T) {
		before := issued(t, admin)
		upgraded := maps.Clone(installValues)
		upgraded["commonLabels"] = map[string]any{"upgraded": "yes"}
		if err := fg.Upgrade(ctx, upgraded); err != nil {
			t.Fatal(err)
		}
		after := issued(t, admin)
		if len(after.caBundles) != 2 || !maps.EqualFunc(before.data, after.data, bytes.Equal) {
			t.Fatalf("the upgrade changed the certificate Secret's data or dropped a webhook")
		}
		for i := range after.caBundles {
			if !bytes.Equal(after.caBundles[i], before.caBundles[i]) || len(after.caBundles[i]) == 0 {
				t.Errorf("webhook %d: caBundle %q after the upgrade, %q before", i, after.caBundles[i], before.caBundles[i])
			}
		}
		d := appDeployment("apps", "after-upgrade")
		d.Spec.Strategy = appsv1.DeploymentStrategy{}
		if err := admin.Create(ctx, d); err != nil || d.Spec.Strategy.RollingUpdate == nil {
			t.Fatalf("a Deployment after the upgrade: %v, strategy %+v", err, d.Spec.Strategy)
		}
	})
	t.Run("the guard pauses a Kustomization during a cordon and resumes it after", func(t *testing.T) {
		ks, hr := kustomization("apps", "web"), helmRelease("apps", "web")
		for _, obj := range []client.Object{ks, hr} {
			if err := admin.Create(ctx, obj); err != nil {
				t.Fatal(err)
			}
		}
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-1"}, Spec: corev1.NodeSpec{Unschedulable: true}}
		if err := admin.Create(ctx, node); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "Kustomization suspended", suspendedIs(admin, ks, true))
		eventually(t, fg, "HelmRelease suspended", suspendedIs(admin, hr, true))
		node.Spec.Unschedulable = false
		if err := admin.Update(ctx, node); err != nil {
			t.Fatal(err)
		}
		eventually(t, fg, "Kustomization resumed", suspendedIs(admin, ks, false))
		eventually(t, fg, "HelmRelease resumed", suspendedIs(admin, hr, false))
		// One Event on the guard per transition, naming the objects.
		eventually(t, fg, "Events recorded", func(ctx context.Context) error {
			var events eventsv1.EventList
			if err := admin.List(ctx, &events); err != nil {
				return err
			}
			reasons := map[string]bool{}
			for _, e := range events.Items {
				if e.Regarding.Kind == "MaintenanceGuard" && strings.Contains(e.Note, "Kustomization apps/web") {
					reasons[e.Reason] = true
				}
			}
			if !reasons["MaintenancePaused"] || !reasons["MaintenanceResumed"] {
				return fmt.Errorf("Events on the guard naming Kustomization apps/web: %v", reasons)
			}
			return nil
		})
	})
	t.Run("guards of a workload cluster reached by workload identity pause what applies there", func(t *testing.T) {
		testWorkloadIdentity(ctx, t, admin, cfg, fg)
	})

	// helm uninstall in the middle of a pause (docs/install.md): Helm would
	// delete the RBAC before the guard, so the chart's pre-delete hook
	// deletes the guards first, while fluxgate still runs with its RBAC,
	// and waits for their finalizer to resume what they hold. The harness
	// runs the hook Job's command as a local process under the hook's
	// ServiceAccount (the test API server has no kubelet).
	var hookEnded time.Time
	t.Run("helm uninstall in the middle of a pause resumes every object and leaves no fluxgate annotation", func(t *testing.T) {
		node := &corev1.Node{}
		if err := admin.Get(ctx, client.ObjectKey{Name: "node-1"}, node); err != nil {
			t.Fatal(err)
		}
		node.Spec.Unschedulable = true
		if err := admin.Update(ctx, node); err != nil {
			t.Fatal(err)
		}
		flux := []*unstructured.Unstructured{kustomization("apps", "web"), helmRelease("apps", "web")}
		for _, obj := range flux {
			eventually(t, fg, obj.GetKind()+" suspended again", suspendedIs(admin, obj, true))
		}
		if err := fg.Uninstall(); err != nil {
			t.Fatalf("%v\nfluxgate logs:\n%s", err, fg.Tail(60))
		}
		runs := fg.HookRuns()
		if len(runs) != 1 || runs[0].Job != "fluxgate-uninstall" || runs[0].Err != nil {
			t.Fatalf("hook Jobs run: %+v, want fluxgate-uninstall, succeeded", runs)
		}
		hookEnded = runs[0].Ended
		t.Logf("fluxgate %s:\n%s", strings.Join(runs[0].Args, " "), runs[0].Output)
		if !strings.Contains(runs[0].Output, "Every MaintenanceGuard is gone") {
			t.Errorf("hook output:\n%s", runs[0].Output)
		}
		for _, obj := range flux {
			if err := suspendedIs(admin, obj, false)(ctx); err != nil {
				t.Errorf("%s %s after helm uninstall: %v", obj.GetKind(), obj.GetName(), err)
			}
			for k := range obj.GetAnnotations() {
				if strings.HasPrefix(k, "fluxgate.dev/") || k == "kustomize.toolkit.fluxcd.io/reconcile" {
					t.Errorf("%s %s after helm uninstall: annotation %s left", obj.GetKind(), obj.GetName(), k)
				}
			}
		}
		guard := &unstructured.Unstructured{}
		guard.SetAPIVersion("fluxgate.dev/v1alpha1")
		guard.SetKind("MaintenanceGuard")
		if err := admin.Get(ctx, client.ObjectKey{Name: "default"}, guard); !apierrors.IsNotFound(err) {
			t.Errorf("MaintenanceGuard default after helm uninstall: %v, finalizers %v", err, guard.GetFinalizers())
		}
	})

	t.Run("helm uninstall leaves no webhook configuration behind", func(t *testing.T) {
		selector := client.MatchingLabels{"app.kubernetes.io/instance": releaseName}
		var m admissionregistrationv1.MutatingWebhookConfigurationList
		var v admissionregistrationv1.ValidatingWebhookConfigurationList
		if err := admin.List(ctx, &m, selector); err != nil {
			t.Fatal(err)
		}
		if err := admin.List(ctx, &v, selector); err != nil {
			t.Fatal(err)
		}
		if len(m.Items)+len(v.Items) != 0 {
			t.Fatalf("uninstall left %d mutating and %d validating webhook configurations", len(m.Items), len(v.Items))
		}
		// A write nobody will answer for any more goes through.
		if err := admin.Create(ctx, appDeployment("apps", "after-uninstall")); err != nil {
			t.Errorf("a Deployment after uninstall: %v", err)
		}
	})
	fg.Stop()

	objs, hooks := splitHooks(render(t, installValues))
	// Once the pre-delete hook is done, Helm deletes the RBAC while the
	// process still runs.
	if hookEnded.IsZero() {
		t.Fatal("the pre-delete hook did not run")
	}
	events := readAudit(t, auditLog, "system:serviceaccount:"+namespace+":fluxgate", hookEnded)
	if len(events) == 0 {
		t.Fatal("the audit log holds no request from the ServiceAccount")
	}
	if denied := forbidden(events); len(denied) > 0 {
		t.Errorf("the chart's RBAC refused %d requests:\n%s", len(denied), strings.Join(slices.Compact(denied), "\n"))
	}
	seen := used(events)
	for _, p := range granted(t, objs) {
		if !seen[p] {
			t.Errorf("the chart grants %s, which fluxgate never used", p)
		}
	}
	// The hook's own ServiceAccount: everything its ClusterRole grants is
	// used, nothing refused.
	hookEvents := readAudit(t, auditLog, "system:serviceaccount:"+namespace+":fluxgate-uninstall", time.Now())
	if denied := forbidden(hookEvents); len(denied) > 0 {
		t.Errorf("the hook's RBAC refused %d requests:\n%s", len(denied), strings.Join(slices.Compact(denied), "\n"))
	}
	hookSeen := used(hookEvents)
	for _, p := range granted(t, hooks) {
		if !hookSeen[p] {
			t.Errorf("the chart grants the pre-delete hook %s, which it never used", p)
		}
	}
}

// certState is what fluxgate wrote: the certificate Secret's data and the
// caBundle of every webhook.
type certState struct {
	data      map[string][]byte
	caBundles [][]byte
}

func issued(t *testing.T, c client.Client) certState {
	t.Helper()
	ctx := context.Background()
	secret := &corev1.Secret{}
	if err := c.Get(ctx, client.ObjectKey{Namespace: namespace, Name: "fluxgate-webhook-tls"}, secret); err != nil {
		t.Fatal(err)
	}
	st := certState{data: secret.Data}
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: releaseName}, m); err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Webhooks {
		st.caBundles = append(st.caBundles, w.ClientConfig.CABundle)
	}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := c.Get(ctx, client.ObjectKey{Name: releaseName}, v); err != nil {
		t.Fatal(err)
	}
	for _, w := range v.Webhooks {
		st.caBundles = append(st.caBundles, w.ClientConfig.CABundle)
	}
	return st
}

func createNamespace(t *testing.T, c client.Client, name string) {
	t.Helper()
	if err := c.Create(context.Background(), &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: name}}); err != nil {
		t.Fatal(err)
	}
}

// appDeployment passes every built-in policy apart from the strategy.
func appDeployment(ns, name string) *appsv1.Deployment {
	labels := map[string]string{"app": name}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To[int32](1),
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Strategy: appsv1.DeploymentStrategy{Type: appsv1.RollingUpdateDeploymentStrategyType, RollingUpdate: &appsv1.RollingUpdateDeployment{
				MaxSurge: ptr.To(intstr.FromString("25%")), MaxUnavailable: ptr.To(intstr.FromInt32(0)),
			}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{Containers: []corev1.Container{{
					Name: "web", Image: "nginx:1.27",
					ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{
						HTTPGet: &corev1.HTTPGetAction{Path: "/", Port: intstr.FromInt32(80)},
					}},
				}}},
			},
		},
	}
}

func kustomization(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "kustomize.toolkit.fluxcd.io/v1", "kind": "Kustomization",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"interval": "10m", "prune": true, "path": "./",
			"sourceRef": map[string]any{"kind": "GitRepository", "name": name},
		},
	}}
}

func helmRelease(ns, name string) *unstructured.Unstructured {
	return &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "helm.toolkit.fluxcd.io/v2", "kind": "HelmRelease",
		"metadata": map[string]any{"name": name, "namespace": ns},
		"spec": map[string]any{
			"interval": "10m",
			"chartRef": map[string]any{"kind": "OCIRepository", "name": name},
		},
	}}
}

// suspendedIs checks a Kustomization's spec.suspend.
func suspendedIs(c client.Client, ks *unstructured.Unstructured, want bool) func(context.Context) error {
	return func(ctx context.Context) error {
		if err := c.Get(ctx, client.ObjectKeyFromObject(ks), ks); err != nil {
			return err
		}
		if got, _, _ := unstructured.NestedBool(ks.Object, "spec", "suspend"); got != want {
			return fmt.Errorf("spec.suspend %v, annotations %v", got, ks.GetAnnotations())
		}
		return nil
	}
}
