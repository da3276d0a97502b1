package audit

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	reportsv1alpha1 "github.com/openreports/reports-api/apis/openreports.io/v1alpha1"
	"golang.org/x/time/rate"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apiextensionsv1 "k8s.io/apiextensions-apiserver/pkg/apis/apiextensions/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/apimachinery/pkg/util/wait"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

func builtinEngine(t *testing.T) *policy.Engine {
	t.Helper()
	mods, err := policy.BuiltinModules()
	if err != nil {
		t.Fatal(err)
	}
	set, err := policy.Compile(context.Background(), mods)
	if err != nil {
		t.Fatal(err)
	}
	eng, err := policy.NewEngine(set, nil)
	if err != nil {
		t.Fatal(err)
	}
	return eng
}

// startCluster starts a real API server with the OpenReports CRD.
func startCluster(t *testing.T) (*rest.Config, client.Client) {
	t.Helper()
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	crds, err := testenv.IntegrationCRDs()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets, CRDDirectoryPaths: []string{filepath.Join(crds, "openreports.io_reports.yaml")}, ErrorIfCRDPathMissing: true}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	return cfg, newClient(t, cfg)
}

func newClient(t *testing.T, cfg *rest.Config) client.Client {
	t.Helper()
	scheme := runtime.NewScheme()
	for _, add := range []func(*runtime.Scheme) error{clientgoscheme.AddToScheme, reportsv1alpha1.Install, apiextensionsv1.AddToScheme} {
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

// apply creates objs in namespace ns.
func apply(t *testing.T, c client.Client, ns string, objs []manifest.Object) []manifest.Object {
	t.Helper()
	ctx := context.Background()
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	var out []manifest.Object
	for _, o := range objs {
		u := &unstructured.Unstructured{Object: runtime.DeepCopyJSON(o.Data)}
		u.SetNamespace(ns)
		if err := c.Create(ctx, u.DeepCopy()); err != nil {
			t.Fatalf("create %s %s: %v", u.GetKind(), u.GetName(), err)
		}
		out = append(out, manifest.Object{Data: u.Object, File: o.File, Line: o.Line})
	}
	return out
}

func findings(rep *check.Report) []string {
	var out []string
	for _, r := range rep.Results {
		out = append(out, fmt.Sprintf("%s %s %s %s/%s: %s", r.Action, r.Policy, r.Kind, r.Namespace, r.Name, r.Message))
	}
	slices.Sort(out)
	return out
}

func load(t *testing.T, path string) []manifest.Object {
	t.Helper()
	objs, err := manifest.LoadPaths([]string{path}, nil)
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

// An audit of objects that ran before fluxgate finds exactly what
// `fluxgate check` finds on the manifests they were applied from, and its
// Reports follow the cluster as it changes.
func TestAuditMatchesCheckAndPublishesReports(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	cfg, c := startCluster(t)
	ctx := context.Background()
	eng := builtinEngine(t)

	shop := apply(t, c, "shop", load(t, "testdata/shop.yaml"))
	upstream, err := testenv.Upstream()
	if err != nil {
		t.Fatal(err)
	}
	podinfo := apply(t, c, "podinfo", load(t, filepath.Join(upstream, "podinfo", "kustomize")))
	// Objects of a namespace fluxgate never evaluates are not reported.
	apply(t, c, "flux-system", load(t, "testdata/shop.yaml")[:1])

	objs, err := Collect(ctx, c, "")
	if err != nil {
		t.Fatal(err)
	}
	audited, err := check.Run(ctx, eng, Manifests(objs))
	if err != nil {
		t.Fatal(err)
	}
	want, err := check.Run(ctx, eng, shop)
	if err != nil {
		t.Fatal(err)
	}
	var shopFindings []string
	for _, f := range findings(audited) {
		if strings.Contains(f, " shop/") {
			shopFindings = append(shopFindings, f)
		}
	}
	if got, want := strings.Join(shopFindings, "\n"), strings.Join(findings(want), "\n"); got != want {
		t.Errorf("audit of shop:\n%s\nfluxgate check of testdata/shop.yaml:\n%s", got, want)
	}
	if !want.Denied() {
		t.Fatal("testdata/shop.yaml must be denied: the test needs failures to report")
	}
	// podinfo as published passes; the API server's defaults (maxSurge
	// 25% where podinfo leaves it out) only remove the mutations the
	// check reports.
	podinfoCheck, err := check.Run(ctx, eng, podinfo)
	if err != nil {
		t.Fatal(err)
	}
	for _, f := range findings(audited) {
		if strings.Contains(f, " podinfo/") && !strings.HasPrefix(f, "mutate ") && !slices.Contains(findings(podinfoCheck), f) {
			t.Errorf("audit finding not in fluxgate check of podinfo: %s", f)
		}
	}

	reports := Reports(eng, objs, audited, time.Now())
	if _, ok := reports["flux-system"]; ok {
		t.Error("a Report for flux-system, which fluxgate never evaluates")
	}
	stats, err := Publish(ctx, c, "", reports)
	if err != nil {
		t.Fatal(err)
	}
	if stats.Created != 2 {
		t.Fatalf("publish: %+v, want 2 Reports created (shop, podinfo)", stats)
	}
	var r reportsv1alpha1.Report
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: ReportName}, &r); err != nil {
		t.Fatal(err)
	}
	if r.Source != ReportSource || r.Summary.Fail == 0 || r.Summary.Pass == 0 || r.Summary.Fail != want.Summary.Deny {
		t.Errorf("shop Report summary %+v source %q, want %d failures and some passes", r.Summary, r.Source, want.Summary.Deny)
	}
	failing := map[string]bool{}
	for _, res := range r.Results {
		if res.Result == ResultFail {
			failing[res.Subjects[0].Kind+"/"+res.Subjects[0].Name] = true
			if res.Subjects[0].UID == "" || res.Severity != "high" {
				t.Errorf("result %+v: want the subject's uid and severity high", res)
			}
		}
	}
	if !failing["PodDisruptionBudget/cart"] || !failing["Deployment/cart"] {
		t.Errorf("failing subjects %v, want the cart budget (no disruption allowed) and the cart Deployment", failing)
	}

	// A second audit of an unchanged cluster writes nothing.
	stats, err = Publish(ctx, c, "", Reports(eng, objs, audited, time.Now().Add(time.Hour)))
	if err != nil || stats.Unchanged != 2 || stats.Created+stats.Updated+stats.Deleted != 0 {
		t.Fatalf("publish again: %+v, %v; want both unchanged", stats, err)
	}

	// The Auditor re-audits a namespace when told it changed: fixing the
	// budget removes its failure from the Report.
	auditor := &Auditor{Client: c, Reader: c, Engine: func() *policy.Engine { return eng }, Rate: 1000}
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	go func() { done <- auditor.Start(runCtx); close(done) }()
	t.Cleanup(func() { stop(); <-done })
	var pdb policyv1.PodDisruptionBudget
	if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: "cart"}, &pdb); err != nil {
		t.Fatal(err)
	}
	one := intstr.FromInt32(1)
	pdb.Spec.MaxUnavailable = &one
	if err := c.Update(ctx, &pdb); err != nil {
		t.Fatal(err)
	}
	auditor.Changed("shop")
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		if err := c.Get(ctx, client.ObjectKey{Namespace: "shop", Name: ReportName}, &r); err != nil {
			return false, err
		}
		for _, res := range r.Results {
			if res.Result == ResultFail && res.Subjects[0].Kind == "PodDisruptionBudget" {
				return false, nil
			}
		}
		return true, nil
	})
	if err != nil {
		t.Fatalf("the budget's failure stayed in the Report: %v", err)
	}

	// Deleting every audited object of a namespace deletes its Report.
	for _, o := range podinfo {
		u := &unstructured.Unstructured{Object: o.Data}
		if err := c.Delete(ctx, u); client.IgnoreNotFound(err) != nil {
			t.Fatal(err)
		}
	}
	auditor.Changed("podinfo")
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(ctx context.Context) (bool, error) {
		err := c.Get(ctx, client.ObjectKey{Namespace: "podinfo", Name: ReportName}, &reportsv1alpha1.Report{})
		return client.IgnoreNotFound(err) == nil && err != nil, nil
	})
	if err != nil {
		t.Fatalf("podinfo's Report outlived its objects: %v", err)
	}
	stop()
	<-done

	// A second audit of an unchanged cluster evaluates nothing again.
	quiet := &Auditor{Client: c, Reader: c, Engine: func() *policy.Engine { return eng }, limiter: rate.NewLimiter(rate.Inf, 1)}
	if err := quiet.auditScope(ctx, eng, ""); err != nil {
		t.Fatal(err)
	}
	first := quiet.Evaluated()
	if err := quiet.auditScope(ctx, eng, ""); err != nil {
		t.Fatal(err)
	}
	if first == 0 || quiet.Evaluated() != first {
		t.Errorf("evaluated %d objects in the first audit and %d in the second, want none again", first, quiet.Evaluated()-first)
	}

	// Without the CRD, Publish says how to get it.
	crd := &apiextensionsv1.CustomResourceDefinition{ObjectMeta: metav1.ObjectMeta{Name: "reports.openreports.io"}}
	if err := c.Delete(ctx, crd); err != nil {
		t.Fatal(err)
	}
	err = wait.PollUntilContextTimeout(ctx, 200*time.Millisecond, 30*time.Second, true, func(context.Context) (bool, error) {
		_, err := Publish(ctx, newClient(t, cfg), "", reports)
		return errors.Is(err, ErrNoReportsAPI), nil
	})
	if err != nil {
		t.Fatalf("Publish without the CRD did not return ErrNoReportsAPI: %v", err)
	}
}

// A namespace with more results than a Report may hold keeps its failures
// and says how many results it left out.
func TestReportsKeepFailuresFirstWithinTheLimit(t *testing.T) {
	eng := builtinEngine(t)
	// Every Deployment gets a result per applicable policy, so a sixth as
	// many Deployments as MaxResults overflow it.
	var objs []Object
	for i := range MaxResults/5 + 1 {
		objs = append(objs, Object{Object: load(t, "testdata/shop.yaml")[3]}) // worker: no findings but warnings
		objs[i].Data = deepCopy(objs[i].Data)
		objs[i].Data["metadata"].(map[string]any)["name"] = fmt.Sprintf("worker-%d", i)
	}
	objs = append(objs, Object{Object: load(t, "testdata/shop.yaml")[2]}) // the blocking budget, last
	rep, err := check.Run(context.Background(), eng, Manifests(objs))
	if err != nil {
		t.Fatal(err)
	}
	r := Reports(eng, objs, rep, time.Now())["shop"]
	if len(r.Results) != MaxResults || r.Annotations[TruncatedAnnotation] == "" {
		t.Fatalf("%d results, annotations %v", len(r.Results), r.Annotations)
	}
	if r.Results[0].Result != ResultFail || r.Summary.Fail == 0 {
		t.Errorf("first result %+v, summary %+v: want the failure kept first", r.Results[0], r.Summary)
	}
	total := r.Summary.Pass + r.Summary.Fail + r.Summary.Warn + r.Summary.Skip
	if total <= MaxResults {
		t.Errorf("summary counts %d results, want every result counted", total)
	}
}

func deepCopy(m map[string]any) map[string]any {
	return runtime.DeepCopyJSON(m)
}
