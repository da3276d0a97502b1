package drainplan_test

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/client-go/kubernetes"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/drainplan"
	"github.com/fluxgate/fluxgate/internal/testenv"
)

// envPod is a pod of the envtest cluster: its labels, owner kind ("" for
// none), node, phase, readiness and an emptyDir.
type envPod struct {
	name, app, owner, node string
	phase                  corev1.PodPhase
	ready, emptyDir        bool
	extra                  map[string]string
}

// envPDB is a budget and the status the test writes for it, as the
// disruption controller would (envtest runs no controllers).
type envPDB struct {
	name                                string
	selector                            map[string]string
	allowed, current, desired, expected int32
	alwaysAllow, stale                  bool
}

// TestPlanPredictsEvictionAPI creates pods and budgets with every status
// the Eviction API distinguishes in a real kube-apiserver (envtest), plans
// a drain of their node, then asks the Eviction API (dry run: nothing is
// evicted, the budgets are checked all the same) about every pod kubectl
// would send to it, and compares refusals and their codes with the plan.
func TestPlanPredictsEvictionAPI(t *testing.T) {
	if testing.Short() {
		t.Skip("starts an API server")
	}
	assets, err := testenv.Assets()
	if err != nil {
		t.Fatal(err)
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		t.Fatalf("start envtest: %v", err)
	}
	t.Cleanup(func() { _ = env.Stop() })
	scheme := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(scheme); err != nil {
		t.Fatal(err)
	}
	c, err := client.New(cfg, client.Options{Scheme: scheme})
	if err != nil {
		t.Fatal(err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const ns = "shop"

	pods := []envPod{
		{name: "web-1", app: "web", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true},
		{name: "web-2", app: "web", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true},
		{name: "web-3", app: "web", owner: "ReplicaSet", node: "n2", phase: corev1.PodRunning},
		{name: "web-pending", app: "web", owner: "ReplicaSet", node: "n1", phase: corev1.PodPending},
		{name: "api-1", app: "api", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning},
		{name: "api-2", app: "api", owner: "ReplicaSet", node: "n2", phase: corev1.PodRunning, ready: true},
		{name: "batch-1", app: "batch", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning},
		{name: "dual-1", app: "dual", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true, extra: map[string]string{"tier": "front"}},
		{name: "stale-1", app: "stale", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true},
		{name: "free-1", app: "free", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true, emptyDir: true},
		{name: "cart-1", app: "cart", owner: "ReplicaSet", node: "n1", phase: corev1.PodRunning, ready: true},
		{name: "cart-2", app: "cart", owner: "ReplicaSet", node: "n2", phase: corev1.PodRunning, ready: true},
		{name: "debug", app: "debug", node: "n1", phase: corev1.PodRunning, ready: true},
		{name: "agent-n1", app: "agent", owner: "DaemonSet", node: "n1", phase: corev1.PodRunning, ready: true},
	}
	pdbs := []envPDB{
		// Allows no disruption: web-1 and web-2 refused, web-3 named not ready.
		{name: "web", selector: map[string]string{"app": "web"}, allowed: 0, current: 2, desired: 2, expected: 3},
		// api-1 is not ready and the budget healthy: it goes.
		{name: "api", selector: map[string]string{"app": "api"}, allowed: 0, current: 1, desired: 1, expected: 2},
		// batch-1 is not ready, the budget below its desired count, but AlwaysAllow.
		{name: "batch", selector: map[string]string{"app": "batch"}, allowed: 0, current: 0, desired: 1, expected: 1, alwaysAllow: true},
		// dual-1 is under two budgets.
		{name: "dual", selector: map[string]string{"app": "dual"}, allowed: 1, current: 1, desired: 0, expected: 1},
		{name: "front", selector: map[string]string{"tier": "front"}, allowed: 1, current: 1, desired: 0, expected: 1},
		// Its generation is not yet observed.
		{name: "stale", selector: map[string]string{"app": "stale"}, allowed: 1, current: 1, desired: 0, expected: 1, stale: true},
		// One disruption, one pod of the node: it goes.
		{name: "cart", selector: map[string]string{"app": "cart"}, allowed: 1, current: 2, desired: 1, expected: 2},
	}
	for _, n := range []string{"n1", "n2"} {
		if err := c.Create(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: n}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := c.Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: ns}}); err != nil {
		t.Fatal(err)
	}
	for _, p := range pods {
		if err := createPod(ctx, c, ns, p); err != nil {
			t.Fatal(err)
		}
	}
	for _, b := range pdbs {
		if err := createPDB(ctx, c, ns, b); err != nil {
			t.Fatal(err)
		}
	}

	rep, err := drainplan.Plan(ctx, c, []string{"n1"}, drainplan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	n1 := rep.Nodes[0]
	if n1.Drainable || rep.Drainable() {
		t.Errorf("n1 drainable; want it blocked")
	}
	predicted := map[string]int32{}
	var sentToAPI []string
	for _, p := range n1.Pods {
		if p.Drain == drainplan.DrainEvict || p.Drain == drainplan.DrainRefuse {
			sentToAPI = append(sentToAPI, p.Name)
		}
		if p.Eviction == drainplan.EvictionRefused {
			predicted[p.Name] = p.Code
		}
	}
	wantPredicted := map[string]int32{"web-1": 429, "web-2": 429, "dual-1": 500, "stale-1": 429}
	if fmt.Sprint(predicted) != fmt.Sprint(wantPredicted) {
		t.Errorf("plan refuses %v, want %v", predicted, wantPredicted)
	}
	refused := map[string]int32{}
	for _, name := range sentToAPI {
		// As Evictions().Evict, without client-go's retries of a 429
		// with Retry-After (10 s for a budget not yet observed).
		err := cs.CoreV1().RESTClient().Post().Namespace(ns).Resource("pods").Name(name).SubResource("eviction").
			MaxRetries(0).Body(&policyv1.Eviction{
			ObjectMeta:    metav1.ObjectMeta{Namespace: ns, Name: name},
			DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}},
		}).Do(ctx).Error()
		var status apierrors.APIStatus
		switch {
		case err == nil:
		case errors.As(err, &status):
			refused[name] = status.Status().Code
		default:
			t.Fatalf("evict %s: %v", name, err)
		}
	}
	if fmt.Sprint(refused) != fmt.Sprint(predicted) {
		t.Errorf("the Eviction API refused %v; the plan predicted %v", refused, predicted)
	}

	// What the plan says of the blockers.
	var reasons []string
	for _, b := range n1.Blockers {
		reasons = append(reasons, fmt.Sprintf("%s %v", b.Reason, b.Pods))
		if b.Reason == drainplan.ReasonBudgetAllowsNoDisruption {
			got := *b.Budget
			if got.Name != "web" || got.CurrentHealthy != 2 || got.DesiredHealthy != 2 || got.ExpectedPods != 3 ||
				!slices.Equal(got.NotReady, []string{"shop/web-3", "shop/web-pending"}) {
				t.Errorf("budget %+v, want web with 2 healthy of 2 desired, 3 expected, web-3 and web-pending not ready", got)
			}
		}
	}
	wantReasons := []string{
		"NoController [shop/debug]", "MultipleBudgets [shop/dual-1]",
		"BudgetNotObserved [shop/stale-1]", "BudgetAllowsNoDisruption [shop/web-1 shop/web-2]",
	}
	if !slices.Equal(reasons, wantReasons) {
		t.Errorf("blockers %q, want %q", reasons, wantReasons)
	}
	if len(n1.Warnings) != 1 {
		t.Errorf("warnings %q, want one for free-1's emptyDir", n1.Warnings)
	}

	// Every node, by name; n2 holds web-3 (not ready, the budget not
	// healthy: refused), api-2 (the budget allows nothing) and cart-2.
	all, err := drainplan.Plan(ctx, c, nil, drainplan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, n := range all.Nodes {
		names = append(names, fmt.Sprintf("%s %v", n.Name, n.Drainable))
	}
	if !slices.Equal(names, []string{"n1 false", "n2 false"}) {
		t.Errorf("nodes %v", names)
	}
	if _, err := drainplan.Plan(ctx, c, []string{"n3"}, drainplan.Options{}); err == nil {
		t.Error("a node that does not exist is no error")
	}
}

func createPod(ctx context.Context, c client.Client, ns string, p envPod) error {
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: p.name, Labels: map[string]string{"app": p.app}},
		Spec:       corev1.PodSpec{NodeName: p.node, Containers: []corev1.Container{{Name: "app", Image: "app"}}},
	}
	for k, v := range p.extra {
		pod.Labels[k] = v
	}
	if p.owner != "" {
		pod.OwnerReferences = []metav1.OwnerReference{{APIVersion: "apps/v1", Kind: p.owner, Name: p.app, UID: types.UID("uid-" + p.app), Controller: ptr.To(true)}}
	}
	if p.emptyDir {
		pod.Spec.Volumes = []corev1.Volume{{Name: "scratch", VolumeSource: corev1.VolumeSource{EmptyDir: &corev1.EmptyDirVolumeSource{}}}}
	}
	if err := c.Create(ctx, pod); err != nil {
		return fmt.Errorf("create pod %s: %w", p.name, err)
	}
	ready := corev1.ConditionFalse
	if p.ready {
		ready = corev1.ConditionTrue
	}
	pod.Status = corev1.PodStatus{Phase: p.phase, Conditions: []corev1.PodCondition{{Type: corev1.PodReady, Status: ready}}}
	if err := c.Status().Update(ctx, pod); err != nil {
		return fmt.Errorf("write the status of pod %s: %w", p.name, err)
	}
	return nil
}

func createPDB(ctx context.Context, c client.Client, ns string, b envPDB) error {
	pdb := &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: b.name},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(1)),
			Selector:       &metav1.LabelSelector{MatchLabels: b.selector},
		},
	}
	if b.alwaysAllow {
		pdb.Spec.UnhealthyPodEvictionPolicy = ptr.To(policyv1.AlwaysAllow)
	}
	if err := c.Create(ctx, pdb); err != nil {
		return fmt.Errorf("create PodDisruptionBudget %s: %w", b.name, err)
	}
	pdb.Status = policyv1.PodDisruptionBudgetStatus{
		ObservedGeneration: pdb.Generation, DisruptionsAllowed: b.allowed,
		CurrentHealthy: b.current, DesiredHealthy: b.desired, ExpectedPods: b.expected,
	}
	if b.stale {
		pdb.Status.ObservedGeneration = pdb.Generation - 1
	}
	if err := c.Status().Update(ctx, pdb); err != nil {
		return fmt.Errorf("write the status of PodDisruptionBudget %s: %w", b.name, err)
	}
	return nil
}
