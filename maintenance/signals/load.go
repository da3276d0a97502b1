package signals

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/discovery"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/apiutil"
)

// The optional kinds Load reads as unstructured objects, so that fluxgate
// needs neither project's Go types. A controller watching them uses the
// same GVKs.
var (
	// PlanGVK is system-upgrade-controller's Plan.
	PlanGVK = schema.GroupVersionKind{Group: "upgrade.cattle.io", Version: "v1", Kind: "Plan"}
	// NodeMaintenanceGVK is medik8s node-maintenance-operator's
	// NodeMaintenance.
	NodeMaintenanceGVK = schema.GroupVersionKind{Group: "nodemaintenance.medik8s.io", Version: "v1beta1", Kind: "NodeMaintenance"}
)

// Load reads the Snapshot that Detect needs for cfg through r, normally the
// manager's cache, and stamps it with now. It reads only what enabled
// detectors use:
//
//   - Nodes (all of them; the selector is applied by Detect) when the
//     node, control-plane, kured or manual signal is enabled;
//   - kube-system pods labelled component=kube-apiserver when the
//     control-plane signal is enabled;
//   - kured's DaemonSet when the kured signal is enabled;
//   - Plans and NodeMaintenances, in all namespaces, when their signals
//     are enabled.
//
// A kind whose CRD is not installed, or a kured DaemonSet that does not
// exist, is absent (nil in the Snapshot), not an error; IsAbsent says which
// errors mean that. Any other error is returned, wrapped with what was
// being read, and the Snapshot is then incomplete: callers should keep the
// guard's current state rather than resume on an error.
//
// With a cache-backed reader the first read of each kind starts an
// informer and waits for it to sync, bounded only by ctx: give ctx a
// deadline, as a missing RBAC permission otherwise blocks until it ends.
func Load(ctx context.Context, r client.Reader, cfg Config, now time.Time) (Snapshot, error) {
	s := Snapshot{Now: now}

	if cfg.needsNodes() {
		var nodes corev1.NodeList
		if err := r.List(ctx, &nodes); err != nil {
			return s, fmt.Errorf("list nodes: %w", err)
		}
		s.Nodes = nodes.Items
	}

	if cfg.ControlPlane.Enabled {
		var pods corev1.PodList
		if err := r.List(ctx, &pods, client.InNamespace(APIServerNamespace),
			client.MatchingLabels{APIServerComponentLabel: APIServerComponent}); err != nil {
			return s, fmt.Errorf("list %s pods in %s: %w", APIServerComponent, APIServerNamespace, err)
		}
		s.APIServerPods = pods.Items
	}

	if cfg.Kured.Enabled {
		namespace, name := cfg.Kured.kuredKey()
		ds := &appsv1.DaemonSet{}
		switch err := r.Get(ctx, client.ObjectKey{Namespace: namespace, Name: name}, ds); {
		case err == nil:
			s.KuredDaemonSet = ds
		case !IsAbsent(err):
			return s, fmt.Errorf("get kured DaemonSet %s/%s: %w", namespace, name, err)
		}
	}

	if cfg.SystemUpgrade.Enabled {
		items, err := listOptional(ctx, r, PlanGVK)
		if err != nil {
			return s, err
		}
		s.Plans = items
	}

	if cfg.NodeMaintenance.Enabled {
		items, err := listOptional(ctx, r, NodeMaintenanceGVK)
		if err != nil {
			return s, err
		}
		s.NodeMaintenances = items
	}

	return s, nil
}

// listOptional lists every object of gvk as unstructured: nil when the
// kind does not exist, a non-nil (possibly empty) slice when it does.
func listOptional(ctx context.Context, r client.Reader, gvk schema.GroupVersionKind) ([]unstructured.Unstructured, error) {
	list := &unstructured.UnstructuredList{}
	list.SetGroupVersionKind(gvk.GroupVersion().WithKind(gvk.Kind + "List"))
	if err := r.List(ctx, list); err != nil {
		if IsAbsent(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("list %s %s: %w", gvk.GroupVersion(), gvk.Kind, err)
	}
	items := list.Items
	if items == nil {
		items = []unstructured.Unstructured{}
	}
	return items, nil
}

// IsAbsent says whether err means that the kind or object asked for does
// not exist, in any of the forms controller-runtime and client-go report
// it: a NotFound API error; a meta.NoKindMatchError or NoResourceMatchError
// (from a RESTMapper, including controller-runtime's lazy mapper wrapping
// them in *apiutil.ErrResourceDiscoveryFailed when the API group is not
// served); client-go's *discovery.ErrGroupDiscoveryFailed or
// controller-runtime's *apiutil.ErrResourceDiscoveryFailed when every
// failed group version failed with NotFound; or, last, an error whose text
// says "no matches for" (a NoMatch error flattened with %v). Other
// discovery failures, such as an aggregated API that is unavailable, are
// real errors.
func IsAbsent(err error) bool {
	if err == nil {
		return false
	}
	// Discovery failures decide by their per-group-version errors, so that
	// one NotFound among real failures does not hide them.
	var rdf *apiutil.ErrResourceDiscoveryFailed
	if errors.As(err, &rdf) {
		return allAbsent(*rdf)
	}
	if groups, ok := discovery.GroupDiscoveryFailedErrorGroups(err); ok {
		return allAbsent(groups)
	}
	if apierrors.IsNotFound(err) || meta.IsNoMatchError(err) {
		return true
	}
	return strings.Contains(err.Error(), "no matches for ")
}

// allAbsent says whether every per-group-version error is NotFound or
// NoMatch (and there is at least one).
func allAbsent(groups map[schema.GroupVersion]error) bool {
	if len(groups) == 0 {
		return false
	}
	for _, err := range groups {
		if !apierrors.IsNotFound(err) && !meta.IsNoMatchError(err) {
			return false
		}
	}
	return true
}
