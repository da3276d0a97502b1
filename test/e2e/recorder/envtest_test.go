package recorder

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	kustomizev1 "github.com/fluxcd/kustomize-controller/api/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// startAPIServer starts envtest with the Flux CRDs.
func startAPIServer(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := testenv.FluxCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{crds}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, kustomizev1.AddToScheme} {
		if err := add(scheme); err != nil {
			t.Fatal(err)
		}
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	return cfg, c
}

// TestWatchesSeeRealUpdates changes a node, a Deployment's status, a PDB
// and a Kustomization through a real API server (nothing else acts on
// them: envtest runs no controllers) and checks the recorder's timeline
// and summary.
func TestWatchesSeeRealUpdates(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	cfg, c := startAPIServer(t)
	ctx, cancel := context.WithCancel(context.Background())
	t.Cleanup(cancel)
	for _, ns := range []string{"apps", "flux-system", "elsewhere"} {
		if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
			t.Fatal(err)
		}
	}
	n := node("n1", false, true)
	web := deploy("web", 4, 0)
	web.Spec.Selector = &metav1.LabelSelector{MatchLabels: map[string]string{"app": "web"}}
	web.Spec.Template.Spec.Containers = []corev1.Container{{Name: "web", Image: "web:1"}}
	apps := ks("apps", false, "")
	apps.Spec.Interval = metav1.Duration{Duration: time.Minute}
	apps.Spec.SourceRef = kustomizev1.CrossNamespaceSourceReference{Kind: "ExternalArtifact", Name: "fleet"}
	ignored := ks("ignored", false, "")
	ignored.Namespace = "elsewhere"
	ignored.Spec = apps.Spec
	for _, obj := range []client.Object{n, web, pdb("web", "3", ""), apps, ignored} {
		if err := c.Create(ctx, obj); err != nil {
			t.Fatalf("create %T: %v", obj, err)
		}
	}
	// Status in a create is dropped: write it through the subresource.
	n.Status.Conditions = []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue}}
	if err := c.Status().Update(ctx, n); err != nil {
		t.Fatal(err)
	}

	rec := New(Options{Namespaces: []string{"apps", "flux-system"}})
	if err := rec.Start(ctx, cfg); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if t.Failed() {
			var b strings.Builder
			_ = rec.Print(&b)
			t.Log("timeline:\n" + b.String())
		}
	})

	steps := []struct {
		name   string
		change func() error
		want   string // the event the change must make
	}{
		{"deployment ready", func() error { web.Status.Replicas, web.Status.ReadyReplicas = 4, 4; return c.Status().Update(ctx, web) }, "deployment apps/web ready 4/4"},
		{"cordon", func() error { n.Spec.Unschedulable = true; return c.Update(ctx, n) }, "node n1 cordoned"},
		{"suspend", func() error { apps.Spec.Suspend = true; return c.Update(ctx, apps) }, "kustomization flux-system/apps suspended"},
		{"dip", func() error { web.Status.ReadyReplicas = 2; return c.Status().Update(ctx, web) }, "deployment apps/web ready 2/4"},
		{"recover", func() error { web.Status.Replicas, web.Status.ReadyReplicas = 4, 4; return c.Status().Update(ctx, web) }, "deployment apps/web ready 4/4"},
		{"node NotReady", func() error {
			n.Status.Conditions[0].Status = corev1.ConditionFalse
			return c.Status().Update(ctx, n)
		}, "node n1 NotReady"},
		{"uncordon", func() error { n.Spec.Unschedulable = false; return c.Update(ctx, n) }, "node n1 uncordoned"},
		{"resume", func() error { apps.Spec.Suspend = false; return c.Update(ctx, apps) }, "kustomization flux-system/apps resumed"},
		{"apply", func() error {
			apps.Status.LastAppliedRevision = "main@sha1:2"
			return c.Status().Update(ctx, apps)
		}, "kustomization flux-system/apps applied main@sha1:2"},
		{"out of scope", func() error { ignored.Spec.Suspend = true; return c.Update(ctx, ignored) }, ""},
	}
	var want []string
	for _, s := range steps {
		if err := s.change(); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.want == "" {
			continue
		}
		want = append(want, s.want)
		// Wait for the watch to deliver it, so that the next change is
		// recorded after it. The same description can come twice (ready
		// 4/4 before and after the dip): wait for as many as asked for.
		times := count(want, s.want)
		err := wait.PollUntilContextTimeout(ctx, 10*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
			return count(describe(rec.Timeline()), s.want) >= times, nil
		})
		if err != nil {
			t.Fatalf("%s: no %q in the timeline:\n%q", s.name, s.want, describe(rec.Timeline()))
		}
	}

	var changes []string
	seen := []Kind{NodeSeen, DeploymentSeen, PDBSeen, KustomizationSeen}
	for _, e := range rec.Timeline() {
		if !slices.Contains(seen, e.Kind) {
			changes = append(changes, e.Describe())
		}
	}
	if !slices.Equal(changes, want) {
		t.Errorf("changes recorded:\n%q\nwant:\n%q", changes, want)
	}
	summary := rec.Summary()
	if len(summary) != 1 || summary[0].MinReady != 2 || summary[0].Floor != 3 || len(summary[0].Breaches) != 1 {
		t.Errorf("summary %+v", summary)
	}
	first, _ := rec.First(NodeCordoned)
	if d, ok := rec.TimeToAllSuspended(first.At); !ok || d < 0 {
		t.Errorf("time to all suspended: %v, %v", d, ok)
	}
	last, _ := rec.Last(NodeUncordoned)
	if _, ok := rec.TimeToAllApplied(last.At, "main@sha1:2"); !ok {
		t.Error("main@sha1:2 never applied after the uncordon")
	}
	if _, found := rec.Current().Kustomizations["elsewhere/ignored"]; found {
		t.Error("a Kustomization outside the namespaces was recorded")
	}
	if got := rec.AppliedBetween(first.At, last.At); len(got) != 0 {
		t.Errorf("applied during the window: %+v", got)
	}
}

func describe(events []Event) []string {
	var out []string
	for _, e := range events {
		out = append(out, e.Describe())
	}
	return out
}

// count returns how many times s occurs in list.
func count(list []string, s string) int {
	n := 0
	for _, e := range list {
		if e == s {
			n++
		}
	}
	return n
}
