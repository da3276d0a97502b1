package signals

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

var planGR = schema.GroupResource{Group: PlanGVK.Group, Resource: "plans"}

// newScheme is client-go's scheme, plus the optional kinds registered as
// unstructured when crds is true.
func newScheme(t *testing.T, crds bool) *runtime.Scheme {
	t.Helper()
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		t.Fatal(err)
	}
	if crds {
		for _, gvk := range []schema.GroupVersionKind{PlanGVK, NodeMaintenanceGVK} {
			s.AddKnownTypeWithName(gvk, &unstructured.Unstructured{})
			s.AddKnownTypeWithName(gvk.GroupVersion().WithKind(gvk.Kind+"List"), &unstructured.UnstructuredList{})
		}
	}
	return s
}

// missingCRDs makes List of the optional kinds fail with err, as a reader
// does when their CRDs are not installed.
func missingCRDs(err func(gvk schema.GroupVersionKind) error) interceptor.Funcs {
	return interceptor.Funcs{
		List: func(ctx context.Context, c client.WithWatch, list client.ObjectList, opts ...client.ListOption) error {
			if u, ok := list.(*unstructured.UnstructuredList); ok {
				gvk := u.GroupVersionKind()
				gvk.Kind = gvk.Kind[:len(gvk.Kind)-len("List")]
				if gvk == PlanGVK || gvk == NodeMaintenanceGVK {
					return err(gvk)
				}
			}
			return c.List(ctx, list, opts...)
		},
	}
}

// recorder notes every read that reaches it.
type recorder struct {
	client.Reader
	reads []string
}

func (r *recorder) Get(ctx context.Context, key client.ObjectKey, obj client.Object, opts ...client.GetOption) error {
	r.reads = append(r.reads, fmt.Sprintf("get %T %s", obj, key))
	return r.Reader.Get(ctx, key, obj, opts...)
}

func (r *recorder) List(ctx context.Context, list client.ObjectList, opts ...client.ListOption) error {
	what := fmt.Sprintf("%T", list)
	if u, ok := list.(*unstructured.UnstructuredList); ok {
		what = u.GetKind()
	}
	o := &client.ListOptions{}
	o.ApplyOptions(opts)
	if o.Namespace != "" {
		what += " in " + o.Namespace
	}
	if o.LabelSelector != nil {
		what += " " + o.LabelSelector.String()
	}
	r.reads = append(r.reads, "list "+what)
	return r.Reader.List(ctx, list, opts...)
}

func TestLoadReadsOnlyWhatIsEnabled(t *testing.T) {
	const (
		nodes = "list *v1.NodeList"
		pods  = "list *v1.PodList in kube-system component=kube-apiserver"
		kured = "get *v1.DaemonSet kube-system/kured"
		plans = "list PlanList"
		nms   = "list NodeMaintenanceList"
	)
	tests := []struct {
		name string
		cfg  Config
		want []string
	}{
		{"nothing enabled", Config{}, nil},
		{"windows only", Config{Windows: []Window{{Name: "w", Schedule: "@daily", Duration: time.Hour}}}, nil},
		{"nodes", Config{Nodes: NodesConfig{Enabled: true}}, []string{nodes}},
		{"control plane", Config{ControlPlane: ControlPlaneConfig{Enabled: true}}, []string{nodes, pods}},
		{"kured", Config{Kured: KuredConfig{Enabled: true}}, []string{nodes, kured}},
		{"kured elsewhere", Config{Kured: KuredConfig{Enabled: true, Namespace: "kured", DaemonSet: "kured-ds"}}, []string{nodes, "get *v1.DaemonSet kured/kured-ds"}},
		{"system upgrade", Config{SystemUpgrade: SystemUpgradeConfig{Enabled: true}}, []string{plans}},
		{"node maintenance", Config{NodeMaintenance: NodeMaintenanceConfig{Enabled: true}}, []string{nms}},
		{"manual", Config{Manual: ManualConfig{Enabled: true}}, []string{nodes}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := &recorder{Reader: fake.NewClientBuilder().WithScheme(newScheme(t, true)).Build()}
			now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
			snap, err := Load(context.Background(), r, tt.cfg, now)
			if err != nil {
				t.Fatal(err)
			}
			assertEqual(t, "reads", r.reads, tt.want)
			if !snap.Now.Equal(now) {
				t.Errorf("Now = %s", snap.Now)
			}
		})
	}
}

// allSources enables every signal that Load reads for.
var allSources = Config{
	Nodes:           NodesConfig{Enabled: true},
	ControlPlane:    ControlPlaneConfig{Enabled: true},
	Kured:           KuredConfig{Enabled: true},
	SystemUpgrade:   SystemUpgradeConfig{Enabled: true},
	NodeMaintenance: NodeMaintenanceConfig{Enabled: true},
	Manual:          ManualConfig{Enabled: true},
}

func TestLoadWithoutOptionalCRDs(t *testing.T) {
	notServed := func(gvk schema.GroupVersionKind) error {
		return apierrors.NewNotFound(schema.GroupResource{Group: gvk.Group}, "")
	}
	tests := map[string]func(gvk schema.GroupVersionKind) error{
		"NoKindMatchError": func(gvk schema.GroupVersionKind) error {
			return &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}}
		},
		"NoResourceMatchError": func(gvk schema.GroupVersionKind) error {
			return &meta.NoResourceMatchError{PartialResource: gvk.GroupVersion().WithResource("")}
		},
		"wrapped NoKindMatchError": func(gvk schema.GroupVersionKind) error {
			return fmt.Errorf("getting informer: %w", &meta.NoKindMatchError{GroupKind: gvk.GroupKind()})
		},
		// controller-runtime's lazy RESTMapper, with aggregated discovery,
		// for a group the server does not serve.
		"ErrResourceDiscoveryFailed with NoResourceMatch": func(gvk schema.GroupVersionKind) error {
			return &apiutil.ErrResourceDiscoveryFailed{gvk.GroupVersion(): &meta.NoResourceMatchError{PartialResource: gvk.GroupVersion().WithResource("")}}
		},
		"ErrResourceDiscoveryFailed with NotFound": func(gvk schema.GroupVersionKind) error {
			return fmt.Errorf("failed to get API group resources: %w", &apiutil.ErrResourceDiscoveryFailed{gvk.GroupVersion(): notServed(gvk)})
		},
		"ErrGroupDiscoveryFailed with NotFound": func(gvk schema.GroupVersionKind) error {
			return &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{gvk.GroupVersion(): notServed(gvk)}}
		},
		"NotFound": notServed,
		"flattened no matches for kind": func(gvk schema.GroupVersionKind) error {
			return fmt.Errorf("list: %v", &meta.NoKindMatchError{GroupKind: gvk.GroupKind(), SearchedVersions: []string{gvk.Version}})
		},
	}
	for name, absent := range tests {
		t.Run(name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(newScheme(t, false)).
				WithObjects(&corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}}).
				WithInterceptorFuncs(missingCRDs(absent)).Build()
			snap, err := Load(context.Background(), c, allSources, time.Now())
			if err != nil {
				t.Fatalf("Load: %v", err)
			}
			if snap.Plans != nil || snap.NodeMaintenances != nil || snap.KuredDaemonSet != nil {
				t.Errorf("want absent optional sources, got %+v", snap)
			}
			if len(snap.Nodes) != 1 {
				t.Errorf("nodes: %+v", snap.Nodes)
			}
			if active, problems := Detect(allSources, snap); len(active) > 0 || len(problems) > 0 {
				t.Errorf("Detect: %+v %q", active, problems)
			}
		})
	}
}

func TestLoadErrors(t *testing.T) {
	unavailable := func(gvk schema.GroupVersionKind) error {
		return &apiutil.ErrResourceDiscoveryFailed{gvk.GroupVersion(): apierrors.NewServiceUnavailable("the server is currently unable to handle the request")}
	}
	c := fake.NewClientBuilder().WithScheme(newScheme(t, false)).WithInterceptorFuncs(missingCRDs(unavailable)).Build()
	_, err := Load(context.Background(), c, Config{SystemUpgrade: SystemUpgradeConfig{Enabled: true}}, time.Now())
	if err == nil || err.Error() != "list upgrade.cattle.io/v1 Plan: unable to retrieve the complete list of server APIs: upgrade.cattle.io/v1: the server is currently unable to handle the request" {
		t.Errorf("discovery failure: %v", err)
	}

	forbidden := apierrors.NewForbidden(schema.GroupResource{Resource: "nodes"}, "", errors.New("RBAC"))
	boom := errors.New("boom")
	tests := []struct {
		name  string
		cfg   Config
		funcs interceptor.Funcs
		want  string
	}{
		{
			name: "nodes",
			cfg:  Config{Nodes: NodesConfig{Enabled: true}},
			funcs: interceptor.Funcs{List: func(context.Context, client.WithWatch, client.ObjectList, ...client.ListOption) error {
				return forbidden
			}},
			want: `list nodes: nodes is forbidden: RBAC`,
		},
		{
			name: "pods",
			cfg:  Config{ControlPlane: ControlPlaneConfig{Enabled: true}},
			funcs: interceptor.Funcs{List: func(ctx context.Context, c client.WithWatch, l client.ObjectList, o ...client.ListOption) error {
				if _, ok := l.(*corev1.PodList); ok {
					return boom
				}
				return c.List(ctx, l, o...)
			}},
			want: `list kube-apiserver pods in kube-system: boom`,
		},
		{
			name: "kured",
			cfg:  Config{Kured: KuredConfig{Enabled: true}},
			funcs: interceptor.Funcs{Get: func(context.Context, client.WithWatch, client.ObjectKey, client.Object, ...client.GetOption) error {
				return boom
			}},
			want: `get kured DaemonSet kube-system/kured: boom`,
		},
		{
			name:  "node maintenances",
			cfg:   Config{NodeMaintenance: NodeMaintenanceConfig{Enabled: true}},
			funcs: missingCRDs(func(schema.GroupVersionKind) error { return boom }),
			want:  `list nodemaintenance.medik8s.io/v1beta1 NodeMaintenance: boom`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := fake.NewClientBuilder().WithScheme(newScheme(t, false)).WithInterceptorFuncs(tt.funcs).Build()
			_, err := Load(context.Background(), c, tt.cfg, time.Now())
			if err == nil || err.Error() != tt.want {
				t.Errorf("got %v, want %s", err, tt.want)
			}
		})
	}
}

func TestIsAbsent(t *testing.T) {
	gv := PlanGVK.GroupVersion()
	notFound := apierrors.NewNotFound(planGR, "")
	tests := []struct {
		name string
		err  error
		want bool
	}{
		{"nil", nil, false},
		{"NotFound", notFound, true},
		{"wrapped NotFound", fmt.Errorf("x: %w", notFound), true},
		{"NoKindMatch", &meta.NoKindMatchError{GroupKind: PlanGVK.GroupKind()}, true},
		{"NoResourceMatch", &meta.NoResourceMatchError{PartialResource: gv.WithResource("plans")}, true},
		{"ErrResourceDiscoveryFailed NotFound", &apiutil.ErrResourceDiscoveryFailed{gv: notFound}, true},
		{"ErrResourceDiscoveryFailed unavailable", &apiutil.ErrResourceDiscoveryFailed{gv: apierrors.NewServiceUnavailable("down")}, false},
		{"ErrResourceDiscoveryFailed mixed", &apiutil.ErrResourceDiscoveryFailed{gv: notFound, {Group: "x", Version: "v1"}: errors.New("timeout")}, false},
		{"ErrResourceDiscoveryFailed empty", &apiutil.ErrResourceDiscoveryFailed{}, false},
		{"ErrGroupDiscoveryFailed NotFound", &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{gv: notFound}}, true},
		{"ErrGroupDiscoveryFailed other", &discovery.ErrGroupDiscoveryFailed{Groups: map[schema.GroupVersion]error{gv: errors.New("timeout")}}, false},
		{"flattened", errors.New(`no matches for kind "Plan" in version "upgrade.cattle.io/v1"`), true},
		{"Forbidden", apierrors.NewForbidden(planGR, "", errors.New("no")), false},
		{"timeout", apierrors.NewTimeoutError("failed waiting for *unstructured.Unstructured Informer to sync", 0), false},
		{"other", errors.New("boom"), false},
	}
	for _, tt := range tests {
		if got := IsAbsent(tt.err); got != tt.want {
			t.Errorf("%s: IsAbsent(%v) = %v, want %v", tt.name, tt.err, got, tt.want)
		}
	}
}

func TestLoadWithOptionalCRDs(t *testing.T) {
	objs := []client.Object{
		ptr(node("cp-1", controlPlane("v1.35.4"))),
		ptr(node("cp-2", controlPlane("v1.36.3"), cordoned)),
		ptr(node("worker-1", annotate(AnnotationManual, "firmware"))),
		kuredDS(`{"nodeID":"worker-1"}`),
		ptrPod(apiServerPod("cp-1", "registry.k8s.io/kube-apiserver:v1.35.4")),
		ptrPod(apiServerPod("cp-2", "registry.k8s.io/kube-apiserver:v1.36.3")),
		// Not kube-apiserver pods: other component, other namespace.
		func() client.Object {
			p := apiServerPod("cp-1", "registry.k8s.io/etcd:3.6.0")
			p.Name, p.Labels["component"] = "etcd-cp-1", "etcd"
			return &p
		}(),
		func() client.Object {
			p := apiServerPod("cp-1", "example/fake:v0")
			p.Namespace = "default"
			return &p
		}(),
	}
	for _, u := range append(fixtures(t, "plans.yaml"), fixtures(t, "nodemaintenances.yaml")...) {
		objs = append(objs, u.DeepCopy())
	}
	c := fake.NewClientBuilder().WithScheme(newScheme(t, true)).WithObjects(objs...).Build()

	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	snap, err := Load(context.Background(), c, allSources, now)
	if err != nil {
		t.Fatal(err)
	}
	assertEqual(t, "nodes", names(snap.Nodes), []string{"cp-1", "cp-2", "worker-1"})
	assertEqual(t, "pods", names(snap.APIServerPods), []string{"kube-apiserver-cp-1", "kube-apiserver-cp-2"})
	if snap.KuredDaemonSet == nil || snap.KuredDaemonSet.Annotations[AnnotationKuredLock] == "" {
		t.Errorf("kured DaemonSet: %+v", snap.KuredDaemonSet)
	}
	assertEqual(t, "plans", names(snap.Plans), []string{"done", "k3s-agent", "k3s-server", "new", "odd"})
	assertEqual(t, "node maintenances", names(snap.NodeMaintenances), []string{"nm-failed", "nm-new", "nm-running", "nm-succeeded"})

	active, problems := Detect(allSources, snap)
	got := map[Type][]string{}
	for _, s := range active {
		got[s.Type] = s.Objects
	}
	assertEqual(t, "signals", got, map[Type][]string{
		NodeCordoned:        {"cp-2"},
		ControlPlaneUpgrade: {"cp-1", "cp-2"},
		KuredReboot:         {"worker-1"},
		SystemUpgrade:       {"cp-1", "cp-2", "worker-1"},
		NodeMaintenance:     {"worker-1", "worker-2"},
		Manual:              {"worker-1"},
	})
	assertEqual(t, "problems", problems, []string{"Plan system-upgrade/odd: status.applying is a map[string]interface {}, not a list; treated as applying"})
}

func TestLoadWithEmptyOptionalCRDs(t *testing.T) {
	c := fake.NewClientBuilder().WithScheme(newScheme(t, true)).Build()
	snap, err := Load(context.Background(), c, allSources, time.Now())
	if err != nil {
		t.Fatal(err)
	}
	// Installed but empty is not absent.
	if snap.Plans == nil || len(snap.Plans) != 0 || snap.NodeMaintenances == nil || len(snap.NodeMaintenances) != 0 {
		t.Errorf("plans %#v, node maintenances %#v", snap.Plans, snap.NodeMaintenances)
	}
	if snap.KuredDaemonSet != nil {
		t.Errorf("kured: %+v", snap.KuredDaemonSet)
	}
}

func ptr(n corev1.Node) *corev1.Node  { return &n }
func ptrPod(p corev1.Pod) *corev1.Pod { return &p }

func names[T any](items []T) []string {
	var out []string
	for i := range items {
		var obj any = &items[i]
		out = append(out, obj.(metav1.Object).GetName())
	}
	sort.Strings(out)
	return out
}
