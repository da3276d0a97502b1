package v1alpha1_test

import (
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"

	helmv2 "github.com/fluxcd/helm-controller/api/v2"
	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	sourcev1 "github.com/fluxcd/source-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/api/v1alpha1"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// startAPIServer starts kube-apiserver and etcd (envtest) with fluxgate's
// CRDs and Flux's, and returns a client that knows all their types.
func startAPIServer(t *testing.T) client.Client {
	t.Helper()
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	fluxCRDs, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{
		BinaryAssetsDirectory: assets,
		CRDDirectoryPaths:     []string{filepath.Join(repoRoot, "config/crd/bases"), fluxCRDs},
		ErrorIfCRDPathMissing: true,
	}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() {
		if err := env.Stop(); err != nil {
			t.Errorf("stop envtest: %v", err)
		}
	})
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{
		clientgoscheme.AddToScheme, v1alpha1.AddToScheme,
		kustomizev1.AddToScheme, helmv2.AddToScheme, sourcev1.AddToScheme,
	} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return c
}

// TestCRDsInAPIServer installs config/crd/bases and the Flux CRDs into a
// real API server and checks that guards are defaulted and validated as
// documented and that Flux objects round-trip through the typed clients.
func TestCRDsInAPIServer(t *testing.T) {
	c := startAPIServer(t)
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()

	t.Run("sample is defaulted", func(t *testing.T) { testSampleDefaults(ctx, t, c) })
	t.Run("typed empty spec is defaulted", func(t *testing.T) { testTypedDefaults(ctx, t, c) })
	t.Run("invalid spec rejected", func(t *testing.T) { testInvalidSpec(ctx, t, c) })
	t.Run("one kubeConfig reference", func(t *testing.T) { testKubeConfigRefs(ctx, t, c) })
	t.Run("status validated", func(t *testing.T) { testStatus(ctx, t, c) })
	t.Run("flux objects", func(t *testing.T) { testFluxObjects(ctx, t, c) })
}

// wantDefaults is the spec `spec: {}` must become; it is also checked
// against the Go defaults of this package.
func wantDefaults() v1alpha1.MaintenanceGuardSpec {
	yes, no := true, false
	dur := func(d time.Duration) *metav1.Duration { return &metav1.Duration{Duration: d} }
	return v1alpha1.MaintenanceGuardSpec{
		Targets: v1alpha1.Targets{
			Kustomizations: v1alpha1.TargetSelection{Enabled: &yes},
			HelmReleases:   v1alpha1.TargetSelection{Enabled: &yes},
		},
		Signals: v1alpha1.Signals{
			Nodes: v1alpha1.NodeSignal{
				Enabled:      &yes,
				Taints:       []string{"node.kubernetes.io/unschedulable"},
				IgnoreTaints: []string{"ToBeDeletedByClusterAutoscaler"},
			},
			ControlPlane: v1alpha1.ControlPlaneSignal{Enabled: &yes},
			Kured:        v1alpha1.KuredSignal{Namespace: "kube-system", DaemonSet: "kured"},
			Manual:       v1alpha1.ManualSignal{Enabled: &yes},
		},
		Debounce:            dur(30 * time.Second),
		Settle:              dur(5 * time.Minute),
		MaxPause:            dur(4 * time.Hour),
		ResumeAfterMaxPause: no,
	}
}

func checkDefaults(t *testing.T, got v1alpha1.MaintenanceGuardSpec) {
	t.Helper()
	gotJSON, _ := yaml.Marshal(got)
	wantJSON, _ := yaml.Marshal(wantDefaults())
	if string(gotJSON) != string(wantJSON) {
		t.Errorf("defaulted spec:\n%s\nwant:\n%s", gotJSON, wantJSON)
	}
	// The Go accessors must agree with the CRD's defaults.
	var empty v1alpha1.MaintenanceGuardSpec
	ns, ds := empty.Signals.Kured.DaemonSetKey()
	if empty.DebounceDuration() != got.Debounce.Duration || empty.SettleDuration() != got.Settle.Duration ||
		empty.MaxPauseDuration() != got.MaxPause.Duration || ns != got.Signals.Kured.Namespace ||
		ds != got.Signals.Kured.DaemonSet ||
		!equal(empty.Signals.Nodes.TaintKeys(), got.Signals.Nodes.Taints) ||
		!equal(empty.Signals.Nodes.IgnoreTaintKeys(), got.Signals.Nodes.IgnoreTaints) ||
		!empty.Targets.Kustomizations.IsEnabled() || !empty.Signals.Nodes.IsEnabled() ||
		!empty.Signals.ControlPlane.IsEnabled() || !empty.Signals.Manual.IsEnabled() {
		t.Error("the Go defaults (defaults.go) differ from the CRD's")
	}
}

func equal(a, b []string) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i] != b[i] {
			return false
		}
	}
	return true
}

func testSampleDefaults(ctx context.Context, t *testing.T, c client.Client) {
	data, err := os.ReadFile(filepath.Join(repoRoot, "config/samples/maintenanceguard.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	var sample v1alpha1.MaintenanceGuard
	if err := yaml.UnmarshalStrict(data, &sample); err != nil {
		t.Fatalf("config/samples/maintenanceguard.yaml: %v", err)
	}
	if err := c.Create(ctx, &sample); err != nil {
		t.Fatalf("create sample: %v", err)
	}
	var got v1alpha1.MaintenanceGuard
	if err := c.Get(ctx, client.ObjectKey{Name: "default"}, &got); err != nil {
		t.Fatal(err)
	}
	checkDefaults(t, got.Spec)
}

func testTypedDefaults(ctx context.Context, t *testing.T, c client.Client) {
	mg := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "typed"}}
	if err := c.Create(ctx, mg); err != nil {
		t.Fatal(err)
	}
	checkDefaults(t, mg.Spec)

	mg = &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "window"}}
	mg.Spec.Signals.FreezeWindows = []v1alpha1.FreezeWindow{{
		Name: "weekend", Schedule: "0 18 * * FRI", Duration: metav1.Duration{Duration: 62 * time.Hour},
	}}
	if err := c.Create(ctx, mg); err != nil {
		t.Fatal(err)
	}
	if zone := mg.Spec.Signals.FreezeWindows[0].TimeZone; zone != v1alpha1.DefaultTimeZone {
		t.Errorf("window timeZone defaulted to %q, want %q", zone, v1alpha1.DefaultTimeZone)
	}
}

func testInvalidSpec(ctx context.Context, t *testing.T, c client.Client) {
	window := func(schedule, duration, zone string) v1alpha1.FreezeWindow {
		d, err := time.ParseDuration(duration)
		if err != nil {
			t.Fatal(err)
		}
		return v1alpha1.FreezeWindow{Name: "w", Schedule: schedule, Duration: metav1.Duration{Duration: d}, TimeZone: zone}
	}
	for name, mutate := range map[string]func(*v1alpha1.MaintenanceGuardSpec){
		"negative debounce": func(s *v1alpha1.MaintenanceGuardSpec) { s.Debounce = &metav1.Duration{Duration: -30 * time.Second} },
		"negative settle":   func(s *v1alpha1.MaintenanceGuardSpec) { s.Settle = &metav1.Duration{Duration: -time.Minute} },
		"negative maxPause": func(s *v1alpha1.MaintenanceGuardSpec) { s.MaxPause = &metav1.Duration{Duration: -time.Hour} },
		"empty exclude name": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Targets.Kustomizations.Exclude = []v1alpha1.NamespacedName{{Namespace: "apps"}}
		},
		"three-field schedule": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Signals.FreezeWindows = []v1alpha1.FreezeWindow{window("0 18 *", "1h", "")}
		},
		"zero window duration": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Signals.FreezeWindows = []v1alpha1.FreezeWindow{window("0 18 * * FRI", "0s", "")}
		},
		"Local time zone": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Signals.FreezeWindows = []v1alpha1.FreezeWindow{window("@daily", "1h", "Local")}
		},
		"kubeConfig naming both a Secret and a ConfigMap": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Cluster = &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{
				SecretRef:    &v1alpha1.SecretKeyReference{Namespace: "fleet", Name: "prod-kubeconfig"},
				ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: "fleet", Name: "prod"},
			}}
		},
		"kubeConfig naming neither": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Cluster = &v1alpha1.ClusterReference{}
		},
		"configMapRef without a namespace": func(s *v1alpha1.MaintenanceGuardSpec) {
			s.Cluster = &v1alpha1.ClusterReference{KubeConfig: v1alpha1.KubeConfigReference{ConfigMapRef: &v1alpha1.ConfigMapReference{Name: "prod"}}}
		},
	} {
		mg := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "invalid"}}
		mutate(&mg.Spec)
		if err := c.Create(ctx, mg); !apierrors.IsInvalid(err) {
			t.Errorf("%s: create returned %v, want Invalid", name, err)
			_ = c.Delete(ctx, mg)
		} else {
			t.Logf("%s: %v", name, err)
		}
	}
}

// A guard naming a kubeConfig ConfigMap, or a Secret, alone is valid.
func testKubeConfigRefs(ctx context.Context, t *testing.T, c client.Client) {
	for name, kc := range map[string]v1alpha1.KubeConfigReference{
		"configmap": {ConfigMapRef: &v1alpha1.ConfigMapReference{Namespace: "fleet", Name: "prod"}},
		"secret":    {SecretRef: &v1alpha1.SecretKeyReference{Namespace: "fleet", Name: "prod-kubeconfig"}},
	} {
		mg := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "remote-" + name}}
		mg.Spec.Cluster = &v1alpha1.ClusterReference{KubeConfig: kc}
		if err := c.Create(ctx, mg); err != nil {
			t.Errorf("%s: %v", name, err)
		}
	}
}

func testStatus(ctx context.Context, t *testing.T, c client.Client) {
	mg := &v1alpha1.MaintenanceGuard{ObjectMeta: metav1.ObjectMeta{Name: "status"}}
	if err := c.Create(ctx, mg); err != nil {
		t.Fatal(err)
	}
	now := metav1.Now()
	mg.Status = v1alpha1.MaintenanceGuardStatus{
		ObservedGeneration: mg.Generation,
		Phase:              v1alpha1.PhasePaused,
		ActiveSignals:      []v1alpha1.ActiveSignal{{Type: v1alpha1.SignalNodeCordoned, Detail: "node a cordoned", Since: now}},
		ActiveSignalNames:  "NodeCordoned",
		PausedCount:        1,
		Paused:             []v1alpha1.PausedObject{{Kind: v1alpha1.KustomizationKind, Namespace: "apps", Name: "web", PausedAt: now}},
		SignalSince:        &now,
		LastPauseTime:      &now,
	}
	mg.SetConditions([]metav1.Condition{{
		Type: v1alpha1.MaintenanceActiveCondition, Status: metav1.ConditionTrue,
		Reason: v1alpha1.SignalsActiveReason, Message: "node a cordoned", LastTransitionTime: now,
	}})
	if err := c.Status().Update(ctx, mg); err != nil {
		t.Fatalf("valid status: %v", err)
	}
	if len(mg.GetConditions()) != 1 || mg.Status.Phase != v1alpha1.PhasePaused {
		t.Errorf("status not stored: %+v", mg.Status)
	}
	for name, mutate := range map[string]func(*v1alpha1.MaintenanceGuardStatus){
		"unknown phase":       func(s *v1alpha1.MaintenanceGuardStatus) { s.Phase = "Sleeping" },
		"unknown signal type": func(s *v1alpha1.MaintenanceGuardStatus) { s.ActiveSignals[0].Type = "Earthquake" },
		"unknown kind":        func(s *v1alpha1.MaintenanceGuardStatus) { s.Paused[0].Kind = "Deployment" },
		"101 paused objects": func(s *v1alpha1.MaintenanceGuardStatus) {
			for len(s.Paused) <= 100 {
				s.Paused = append(s.Paused, s.Paused[0])
			}
		},
	} {
		bad := mg.DeepCopy()
		mutate(&bad.Status)
		if err := c.Status().Update(ctx, bad); !apierrors.IsInvalid(err) {
			t.Errorf("%s: status update returned %v, want Invalid", name, err)
		}
	}
}

func testFluxObjects(ctx context.Context, t *testing.T, c client.Client) {
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "apps"}}); err != nil {
		t.Fatal(err)
	}
	interval := metav1.Duration{Duration: 10 * time.Minute}
	ks := &kustomizev1.Kustomization{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "web"},
		Spec: kustomizev1.KustomizationSpec{
			Interval:  interval,
			Path:      "./deploy",
			Prune:     true,
			SourceRef: kustomizev1.CrossNamespaceSourceReference{Kind: sourcev1.GitRepositoryKind, Name: "web"},
		},
	}
	if err := c.Create(ctx, ks); err != nil {
		t.Fatalf("create Kustomization: %v", err)
	}
	// Pause it the way the guard will: a merge patch of spec.suspend under
	// the guard's own field manager.
	patch := client.MergeFrom(ks.DeepCopy())
	ks.Spec.Suspend = true
	if err := c.Patch(ctx, ks, patch, client.FieldOwner(v1alpha1.FieldManager)); err != nil {
		t.Fatalf("suspend Kustomization: %v", err)
	}
	var gotKs kustomizev1.Kustomization
	if err := c.Get(ctx, client.ObjectKeyFromObject(ks), &gotKs); err != nil {
		t.Fatal(err)
	}
	if !gotKs.Spec.Suspend || gotKs.Spec.Path != "./deploy" || gotKs.Spec.SourceRef.Name != "web" {
		t.Errorf("Kustomization read back as %+v", gotKs.Spec)
	}

	hr := &helmv2.HelmRelease{
		ObjectMeta: metav1.ObjectMeta{Namespace: "apps", Name: "podinfo"},
		Spec: helmv2.HelmReleaseSpec{
			Interval: interval,
			// chart.kind is newer than helm-controller v1.4.0's CRD: it
			// survives only in a CRD generated from the API module the code
			// uses.
			Chart: &helmv2.HelmChartTemplate{
				Kind: sourcev1.OCIRepositoryKind,
				Spec: helmv2.HelmChartTemplateSpec{
					OCIRepositorySpec: sourcev1.OCIRepositorySpec{URL: "oci://ghcr.io/stefanprodan/charts/podinfo"},
				},
			},
		},
	}
	if err := c.Create(ctx, hr); err != nil {
		t.Fatalf("create HelmRelease: %v", err)
	}
	var gotHr helmv2.HelmRelease
	if err := c.Get(ctx, client.ObjectKeyFromObject(hr), &gotHr); err != nil {
		t.Fatal(err)
	}
	if gotHr.Spec.Chart == nil || gotHr.Spec.Chart.Kind != sourcev1.OCIRepositoryKind ||
		gotHr.Spec.Chart.Spec.URL != hr.Spec.Chart.Spec.URL {
		t.Errorf("HelmRelease read back as %+v", gotHr.Spec)
	}
}
