package controllers

import (
	"context"
	"fmt"
	"sort"
	"strings"
	"sync/atomic"

	"github.com/go-logr/logr"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/tools/events"
	"k8s.io/utils/ptr"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/builder"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/controller"
	"sigs.k8s.io/controller-runtime/pkg/event"
	"sigs.k8s.io/controller-runtime/pkg/handler"
	"sigs.k8s.io/controller-runtime/pkg/predicate"
	"sigs.k8s.io/controller-runtime/pkg/reconcile"
	"sigs.k8s.io/controller-runtime/pkg/source"

	"github.com/fluxgate/fluxgate/policy"
)

// PolicyLabel marks a ConfigMap in fluxgate's namespace whose .rego keys
// are policies (or libraries) to load beside the built-in ones.
const PolicyLabel = "fluxgate.dev/policy"

// Event reasons the PolicyReconciler records on policy ConfigMaps.
const (
	ReasonPolicyRejected = "PolicyRejected"
	ReasonPolicyLoaded   = "PolicyLoaded"
)

// configMapFilePrefix names ConfigMap keys in policy file names, so that a
// problem's file says which ConfigMap and key to fix.
const configMapFilePrefix = "configmap/"

// PolicyLoadObserver is told about every load attempt; the webhook's
// metrics implement it.
type PolicyLoadObserver interface {
	PolicyLoaded(generation int64, policies int)
	PolicyLoadFailed()
}

// PolicyReconciler rebuilds the policy set from the built-in modules, the
// policy directories and every labelled ConfigMap whenever one of those
// ConfigMaps changes. A set that does not compile is rejected with a
// Warning Event on the ConfigMap at fault and the previous set keeps
// serving.
type PolicyReconciler struct {
	Client    client.Reader
	Namespace string
	Active    *policy.Active
	// Base holds the modules that do not come from ConfigMaps.
	Base     []policy.Module
	Config   *policy.Config
	Events   events.EventRecorder
	Observer PolicyLoadObserver
	Log      logr.Logger

	synced atomic.Bool
	lastCM map[string]string // ConfigMap name -> resourceVersion of the last successful load
}

// the single work item: every change rebuilds the whole set, serially.
var reloadRequest = reconcile.Request{NamespacedName: types.NamespacedName{Name: "policies"}}

// SetupWithManager registers the reconciler. It runs on every replica,
// leader or not: each one serves admission requests with its own set.
func (r *PolicyReconciler) SetupWithManager(mgr ctrl.Manager) error {
	labelled := predicate.NewPredicateFuncs(func(o client.Object) bool {
		return o.GetNamespace() == r.Namespace && o.GetLabels()[PolicyLabel] == "true"
	})
	toReload := handler.EnqueueRequestsFromMapFunc(func(context.Context, client.Object) []reconcile.Request {
		return []reconcile.Request{reloadRequest}
	})
	// One load at start, also when no policy ConfigMap exists yet.
	start := make(chan event.GenericEvent, 1)
	start <- event.GenericEvent{Object: &corev1.ConfigMap{}}
	err := ctrl.NewControllerManagedBy(mgr).
		Named("policy-configmaps").
		WatchesRawSource(source.Channel(start, toReload)).
		Watches(&corev1.ConfigMap{}, toReload, builder.WithPredicates(labelled)).
		WithOptions(controller.Options{NeedLeaderElection: ptr.To(false), MaxConcurrentReconciles: 1}).
		Complete(r)
	if err != nil {
		return fmt.Errorf("set up policy ConfigMap controller: %w", err)
	}
	return nil
}

// Synced reports whether the ConfigMaps have been read at least once, so
// that the webhook never answers with the built-in set alone while custom
// policies are still to come.
func (r *PolicyReconciler) Synced() bool { return r.synced.Load() }

// Reconcile reloads the policy set. It never asks for a retry after a
// compile error: only a change to the ConfigMaps can fix it, and that
// change triggers the next reconcile.
func (r *PolicyReconciler) Reconcile(ctx context.Context, _ reconcile.Request) (reconcile.Result, error) {
	var list corev1.ConfigMapList
	if err := r.Client.List(ctx, &list, client.InNamespace(r.Namespace), client.MatchingLabels{PolicyLabel: "true"}); err != nil {
		return reconcile.Result{}, fmt.Errorf("list policy ConfigMaps: %w", err)
	}
	sort.Slice(list.Items, func(i, j int) bool { return list.Items[i].Name < list.Items[j].Name })
	mods := append([]policy.Module(nil), r.Base...)
	for _, cm := range list.Items {
		mods = append(mods, modulesOf(&cm)...)
	}
	log := r.Log.WithValues("configMaps", len(list.Items))
	eng, err := r.Active.Reload(ctx, mods, r.Config)
	if err != nil {
		r.rejected(log, list.Items, err)
		r.synced.Store(true)
		return reconcile.Result{}, nil
	}
	if r.Observer != nil {
		r.Observer.PolicyLoaded(r.Active.Generation(), len(eng.Set().Policies()))
	}
	seen := make(map[string]string, len(list.Items))
	for i := range list.Items {
		cm := &list.Items[i]
		seen[cm.Name] = cm.ResourceVersion
		if r.lastCM[cm.Name] != cm.ResourceVersion && r.Events != nil {
			r.Events.Eventf(cm, nil, corev1.EventTypeNormal, ReasonPolicyLoaded, "Load",
				"policy set generation %d active with %d policies", r.Active.Generation(), len(eng.Set().Policies()))
		}
	}
	r.lastCM = seen
	r.synced.Store(true)
	log.Info("policy set loaded", "generation", r.Active.Generation(), "policies", len(eng.Set().Policies()))
	if slow := eng.Interpreted(); len(slow) > 0 {
		log.Info("OPA's planner refused some queries: they are evaluated by OPA's interpreter, several times slower", "generation", r.Active.Generation(), "reasons", slow)
	}
	return reconcile.Result{}, nil
}

// rejected reports a set that failed to build: a log line, a metric and a
// Warning Event naming file, line and message on each ConfigMap at fault
// (on every policy ConfigMap when the fault is not in one of them, such as
// a configuration naming a policy that no longer exists).
func (r *PolicyReconciler) rejected(log logr.Logger, cms []corev1.ConfigMap, err error) {
	log.Error(err, "policy set rejected; the previous set keeps serving", "generation", r.Active.Generation())
	if r.Observer != nil {
		r.Observer.PolicyLoadFailed()
	}
	if r.Events == nil {
		return
	}
	byCM := map[string][]string{}
	if ce, ok := policy.AsCompileError(err); ok {
		for _, p := range ce.Problems {
			if name, ok := configMapOf(p.File, r.Namespace); ok {
				byCM[name] = append(byCM[name], p.String())
			}
		}
	}
	for i := range cms {
		cm := &cms[i]
		msgs := byCM[cm.Name]
		if len(byCM) == 0 {
			msgs = []string{err.Error()}
		}
		if len(msgs) == 0 {
			continue
		}
		note := truncate(fmt.Sprintf("policy set rejected, generation %d keeps serving: %s", r.Active.Generation(), strings.Join(msgs, "; ")), 1000)
		r.Events.Eventf(cm, nil, corev1.EventTypeWarning, ReasonPolicyRejected, "Load", "%s", note)
	}
}

// modulesOf returns the .rego keys of a ConfigMap as modules named
// configmap/<namespace>/<name>/<key>.
func modulesOf(cm *corev1.ConfigMap) []policy.Module {
	keys := make([]string, 0, len(cm.Data))
	for k := range cm.Data {
		if strings.HasSuffix(k, ".rego") {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	mods := make([]policy.Module, 0, len(keys))
	for _, k := range keys {
		mods = append(mods, policy.Module{File: configMapFilePrefix + cm.Namespace + "/" + cm.Name + "/" + k, Text: cm.Data[k]})
	}
	return mods
}

func configMapOf(file, namespace string) (string, bool) {
	rest, ok := strings.CutPrefix(file, configMapFilePrefix+namespace+"/")
	if !ok {
		return "", false
	}
	name, _, ok := strings.Cut(rest, "/")
	return name, ok
}

func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	return s[:n-3] + "..."
}
