package server

import (
	"context"
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/test/upstream/sources"
)

// kustomizeController is the field manager Flux's kustomize-controller
// applies with.
const kustomizeController = "kustomize-controller"

// fluxReconcileOrder is the order in which kustomize-controller applies
// the kinds of one stage (fluxcd/pkg/ssa sort.go, ReconcileOrder): these
// first, in this order, then every other kind by name, then the webhook
// configurations.
var fluxReconcileOrder = []string{
	"CustomResourceDefinition", "Namespace", "ClusterRole", "ClusterClass", "RuntimeClass", "PriorityClass",
	"StorageClass", "VolumeSnapshotClass", "IngressClass", "GatewayClass", "ClusterRoleBinding", "ResourceQuota",
	"ServiceAccount", "Role", "RoleBinding", "ConfigMap", "Secret", "Service", "LimitRange",
	"Deployment", "StatefulSet", "CronJob", "PodDisruptionBudget",
}

var fluxReconcileLast = []string{"MutatingWebhookConfiguration", "ValidatingWebhookConfiguration"}

func reconcileRank(kind string) int {
	if i := slices.Index(fluxReconcileOrder, kind); i >= 0 {
		return i - len(fluxReconcileOrder)
	}
	if i := slices.Index(fluxReconcileLast, kind); i >= 0 {
		return 1 + i
	}
	return 0
}

// fluxStages splits objects into kustomize-controller's apply stages
// (fluxcd/pkg/ssa ApplyAllStaged): CRDs, Namespaces and ClusterRoles; then
// the *Class kinds; then everything else. Each stage is sorted in Flux's
// reconcile order (kind, then namespace and name).
func fluxStages(objs []*unstructured.Unstructured) [][]*unstructured.Unstructured {
	var defs, classes, rest []*unstructured.Unstructured
	for _, o := range objs {
		switch k := o.GetKind(); {
		case k == "CustomResourceDefinition" || k == "Namespace" || k == "ClusterRole":
			defs = append(defs, o)
		case strings.HasSuffix(k, "Class"):
			classes = append(classes, o)
		default:
			rest = append(rest, o)
		}
	}
	var stages [][]*unstructured.Unstructured
	for _, s := range [][]*unstructured.Unstructured{defs, classes, rest} {
		if len(s) == 0 {
			continue
		}
		slices.SortStableFunc(s, func(a, b *unstructured.Unstructured) int {
			if ra, rb := reconcileRank(a.GetKind()), reconcileRank(b.GetKind()); ra != rb {
				return ra - rb
			}
			return strings.Compare(a.GetKind()+"/"+a.GetNamespace()+"/"+a.GetName(), b.GetKind()+"/"+b.GetNamespace()+"/"+b.GetName())
		})
		stages = append(stages, s)
	}
	return stages
}

// fluxInstall reads Flux's install as `flux install` writes it (the source
// "flux" of the upstream corpus, downloaded by `make upstream-manifests`),
// with the labels kustomize-controller puts on every object it applies for
// the flux-system Kustomization.
func fluxInstall(t *testing.T) []*unstructured.Unstructured {
	t.Helper()
	list, dir, err := sources.Downloaded()
	if err != nil {
		t.Fatal(err)
	}
	src, ok := list.Source("flux")
	if !ok {
		t.Fatalf("no source flux in %s", sources.File)
	}
	var out []*unstructured.Unstructured
	for _, r := range src.Read {
		objs, err := manifest.LoadPaths([]string{filepath.Join(dir, src.Name, filepath.FromSlash(r.Path))}, nil)
		if err != nil {
			t.Fatalf("read Flux's install: %v", err)
		}
		for _, o := range objs {
			u := &unstructured.Unstructured{Object: o.Data}
			labels := u.GetLabels()
			if labels == nil {
				labels = map[string]string{}
			}
			labels["kustomize.toolkit.fluxcd.io/name"] = "flux-system"
			labels["kustomize.toolkit.fluxcd.io/namespace"] = "flux-system"
			u.SetLabels(labels)
			out = append(out, u)
		}
	}
	return out
}

func fluxDescribe(u *unstructured.Unstructured) string {
	if ns := u.GetNamespace(); ns != "" {
		return fmt.Sprintf("%s/%s/%s", u.GetKind(), ns, u.GetName())
	}
	return u.GetKind() + "/" + u.GetName()
}

// applyAsKustomizeController applies objs as kustomize-controller applies
// a Kustomization: stage by stage, every object of a stage first
// server-side dry-run applied and, only when all of them pass, applied for
// real, with field manager kustomize-controller and forced ownership; then
// the whole again, as the next reconcile's drift check does. CRDs are only
// dry-run (see TestFluxInstallAdmitted). It fails the test on the first
// stage that is not admitted.
func applyAsKustomizeController(t *testing.T, c client.Client, objs []*unstructured.Unstructured) {
	t.Helper()
	ctx := context.Background()
	apply := func(o *unstructured.Unstructured, dryRun bool) error {
		opts := []client.ApplyOption{client.ForceOwnership, client.FieldOwner(kustomizeController)}
		if dryRun {
			opts = append(opts, client.DryRunAll)
		}
		return c.Apply(ctx, client.ApplyConfigurationFromUnstructured(o.DeepCopy()), opts...)
	}
	for _, pass := range []string{"install", "reconcile"} {
		for i, stage := range fluxStages(objs) {
			var denied []error
			for _, o := range stage {
				if err := apply(o, true); err != nil {
					denied = append(denied, fmt.Errorf("%s dry-run failed: %w", fluxDescribe(o), err))
				}
			}
			if err := errors.Join(denied...); err != nil {
				t.Fatalf("%s, stage %d: not admitted, so kustomize-controller would apply nothing of this stage:\n%v", pass, i+1, err)
			}
			for _, o := range stage {
				if o.GetKind() == "CustomResourceDefinition" {
					continue
				}
				if err := apply(o, false); err != nil {
					t.Fatalf("%s, stage %d: %s apply failed: %v", pass, i+1, fluxDescribe(o), err)
				}
			}
		}
	}
}

// getDeployment reads a Deployment as the API server stored it.
func getDeployment(t *testing.T, ns, name string) *unstructured.Unstructured {
	t.Helper()
	got := &unstructured.Unstructured{}
	got.SetAPIVersion("apps/v1")
	got.SetKind("Deployment")
	if err := k8s.Get(context.Background(), client.ObjectKey{Namespace: ns, Name: name}, got); err != nil {
		if apierrors.IsNotFound(err) {
			t.Fatalf("Deployment %s/%s was not created", ns, name)
		}
		t.Fatal(err)
	}
	return got
}

// inNamespace returns the install as `flux install --namespace=ns` would
// write it, for what fluxgate evaluates: the Namespace and the namespaced
// objects, moved to ns. Cluster-scoped objects (CRDs, ClusterRoles and
// their bindings) are left out: fluxgate's webhooks only see namespaced
// kinds, and the flux-system install applies them.
func inNamespace(objs []*unstructured.Unstructured, ns string) []*unstructured.Unstructured {
	var out []*unstructured.Unstructured
	for _, o := range objs {
		switch {
		case o.GetKind() == "Namespace":
			c := o.DeepCopy()
			c.SetName(ns)
			labels := c.GetLabels()
			delete(labels, "kubernetes.io/metadata.name")
			c.SetLabels(labels)
			out = append(out, c)
		case o.GetNamespace() != "":
			c := o.DeepCopy()
			c.SetNamespace(ns)
			out = append(out, c)
		}
	}
	return out
}

// TestFluxInstallAdmitted applies Flux's own install through the API
// server and fluxgate's webhooks as kustomize-controller applies the
// flux-system Kustomization (applyAsKustomizeController): a single denial
// would leave Flux unable to reconcile, or upgrade, itself.
//
// In flux-system the webhook configurations do not even send the objects
// to fluxgate, and fluxgate exempts that namespace (fluxNamespace) too; so
// the same install is applied again into another namespace, where every
// policy evaluates it, to show that Flux's manifests are admitted on their
// merits (with warnings) and mutated as any other workload.
//
// The CustomResourceDefinitions are only dry-run: the suite installed
// Flux's CRDs at the versions the other tests use (FLUX_CRDS), and
// applying the install's older versions over them would change the schema
// under those tests.
func TestFluxInstallAdmitted(t *testing.T) {
	objs := fluxInstall(t)
	var known []*unstructured.Unstructured
	for _, o := range objs {
		if _, err := k8s.RESTMapper().RESTMapping(o.GroupVersionKind().GroupKind(), o.GroupVersionKind().Version); err != nil {
			if meta.IsNoMatchError(err) {
				t.Logf("skipped, kind unknown to the API server: %s (%s)", fluxDescribe(o), o.GetAPIVersion())
				continue
			}
			t.Fatalf("%s: %v", fluxDescribe(o), err)
		}
		known = append(known, o)
	}
	var workloads []string
	for _, o := range known {
		if o.GetKind() == "Deployment" {
			workloads = append(workloads, o.GetName())
		}
	}
	slices.Sort(workloads)
	if want := []string{"helm-controller", "kustomize-controller", "notification-controller", "source-controller"}; !slices.Equal(workloads, want) {
		t.Fatalf("Flux's install has Deployments %v, want %v", workloads, want)
	}
	scheme, err := NewScheme()
	if err != nil {
		t.Fatal(err)
	}

	tests := []struct {
		name string
		// namespace to install into; flux-system is the install as written.
		namespace func(t *testing.T) string
		// evaluated: fluxgate's policies judge the objects (warnings,
		// mutations) rather than skipping the namespace.
		evaluated bool
	}{
		{name: "flux-system", namespace: func(*testing.T) string { return "flux-system" }},
		{name: "evaluated namespace", namespace: newNamespace, evaluated: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ns := tt.namespace(t)
			install := known
			if ns != "flux-system" {
				install = inNamespace(known, ns)
			}
			c, warnings := warningClient(t, client.Options{Scheme: scheme, Mapper: k8s.RESTMapper()})
			applyAsKustomizeController(t, c, install)
			for _, w := range warnings.all() {
				t.Logf("admission warning: %s", w)
			}
			for _, name := range workloads {
				got := getDeployment(t, ns, name)
				var managers []string
				for _, mf := range got.GetManagedFields() {
					managers = append(managers, mf.Manager)
				}
				if !slices.Contains(managers, kustomizeController) {
					t.Errorf("Deployment %s/%s is not managed by %s: managers %v", ns, name, kustomizeController, managers)
				}
			}
			if typ, _, _ := unstructured.NestedString(getDeployment(t, ns, "source-controller").Object, "spec", "strategy", "type"); typ != "Recreate" {
				t.Errorf("source-controller's strategy is %q in the cluster, want Flux's Recreate unchanged", typ)
			}
			// kustomize-controller's manifest sets no strategy: the API
			// server defaults maxUnavailable to 25%, which fluxgate's
			// mutation replaces by 0 where it evaluates.
			unavailable, _, _ := unstructured.NestedFieldNoCopy(getDeployment(t, ns, "kustomize-controller").Object, "spec", "strategy", "rollingUpdate", "maxUnavailable")
			mutated := fmt.Sprint(unavailable) == "0"
			if mutated != tt.evaluated {
				t.Errorf("kustomize-controller's maxUnavailable is %v in %s; mutated by fluxgate: %v, want %v", unavailable, ns, mutated, tt.evaluated)
			}
			warned := slices.ContainsFunc(warnings.all(), func(w string) bool { return strings.Contains(w, "source-controller") })
			if warned != tt.evaluated {
				t.Errorf("a fluxgate warning about source-controller: %v, want %v (warnings: %q)", warned, tt.evaluated, warnings.all())
			}
		})
	}
}
