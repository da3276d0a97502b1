package e2e_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"

	"github.com/fluxgate/fluxgate/drainplan"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/test/e2e/scenario"
)

// TestDrainPlanPredictsEvictions plans a drain of one node with the budget
// status kube-controller-manager computes, then asks the Eviction API
// about every pod the drain would send it, and compares: the pods the plan
// says are refused, and with which code, are exactly the ones the API
// refuses. The objects live in kube-system, which fluxgate's webhooks never
// see (its policies deny a budget that allows no disruption), and are
// deleted at the end so later scenarios drain every node.
func TestDrainPlanPredictsEvictions(t *testing.T) {
	e := requireEnv(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	const ns = metav1.NamespaceSystem
	node := e.Cluster.Nodes[len(e.Cluster.Nodes)-1]

	// held: 2 replicas and a budget allowing no disruption (429);
	// spare: 1 replica and a budget allowing one (evicted);
	// dual: 1 replica under two budgets (500);
	// bare: a pod without controller (kubectl refuses, the API evicts).
	objs := []client.Object{
		deployment(ns, "drainplan-held", node, 2),
		budget(ns, "drainplan-held", map[string]string{"app": "drainplan-held"}, 0),
		deployment(ns, "drainplan-spare", node, 1),
		budget(ns, "drainplan-spare", map[string]string{"app": "drainplan-spare"}, 1),
		deployment(ns, "drainplan-dual", node, 1),
		budget(ns, "drainplan-dual", map[string]string{"app": "drainplan-dual"}, 1),
		budget(ns, "drainplan-all", map[string]string{"drainplan": "e2e", "dual": "true"}, 1),
		&corev1.Pod{
			ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: "drainplan-bare", Labels: map[string]string{"drainplan": "e2e"}},
			Spec: corev1.PodSpec{
				NodeSelector: map[string]string{corev1.LabelHostname: node},
				Containers:   []corev1.Container{{Name: "app", Image: "app:1"}},
			},
		},
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		for _, o := range objs {
			_ = client.IgnoreNotFound(e.Client.Delete(ctx, o, client.GracePeriodSeconds(0)))
		}
		err := scenario.Poll(ctx, 30*time.Second, func(ctx context.Context) error {
			var pods corev1.PodList
			if err := e.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"drainplan": "e2e"}); err != nil {
				return err
			}
			if len(pods.Items) > 0 {
				return fmt.Errorf("%d drain-plan pods left", len(pods.Items))
			}
			return nil
		})
		if err != nil {
			t.Errorf("clean up: %v", err)
		}
	})
	for _, o := range objs {
		if err := e.Client.Create(ctx, o); err != nil {
			t.Fatalf("create %s: %v", o.GetName(), err)
		}
	}
	// Wait until the pods are ready and kube-controller-manager has
	// written every budget's status for them.
	wantAllowed := map[string]int32{"drainplan-held": 0, "drainplan-spare": 1, "drainplan-dual": 1, "drainplan-all": 1}
	wantHealthy := map[string]int32{"drainplan-held": 2, "drainplan-spare": 1, "drainplan-dual": 1, "drainplan-all": 1}
	err := scenario.Poll(ctx, 60*time.Second, func(ctx context.Context) error {
		var pods corev1.PodList
		if err := e.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"drainplan": "e2e"}); err != nil {
			return err
		}
		ready := 0
		for _, p := range pods.Items {
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.Spec.NodeName == node {
					ready++
				}
			}
		}
		if ready != 5 {
			return fmt.Errorf("%d of 5 drain-plan pods ready on %s", ready, node)
		}
		for name, allowed := range wantAllowed {
			var b policyv1.PodDisruptionBudget
			if err := e.Client.Get(ctx, client.ObjectKey{Namespace: ns, Name: name}, &b); err != nil {
				return err
			}
			st := b.Status
			if st.ObservedGeneration < b.Generation || st.DisruptionsAllowed != allowed || st.CurrentHealthy != wantHealthy[name] {
				return fmt.Errorf("budget %s: status %+v, want %d allowed with %d healthy", name, st, allowed, wantHealthy[name])
			}
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}

	rep, err := drainplan.Plan(ctx, e.Client, []string{node}, drainplan.Options{})
	if err != nil {
		t.Fatal(err)
	}
	plan := rep.Nodes[0]
	predicted := map[string]int32{}
	var sent []drainplan.Pod
	for _, p := range plan.Pods {
		if p.Drain == drainplan.DrainEvict || p.Drain == drainplan.DrainRefuse {
			sent = append(sent, p)
		}
		if p.Eviction == drainplan.EvictionRefused {
			predicted[p.Key()] = p.Code
		}
	}
	t.Logf("plan for %s: drainable %v, %d pods sent to the Eviction API, refusals predicted %v", node, plan.Drainable, len(sent), predicted)

	// The same plan from the command line, as JSON, exits 1.
	cli := runDrainPlan(t, ctx, e.Cluster.Kubeconfig, node)
	if fmt.Sprint(cli) != fmt.Sprint(predicted) {
		t.Errorf("fluxgate drain-plan -o json predicts %v, the library %v", cli, predicted)
	}

	// Evict: the test's own pods for real, one after another; any other
	// pod on the node as a dry run, which checks budgets all the same.
	refused := map[string]int32{}
	for _, p := range sent {
		opts := &metav1.DeleteOptions{}
		if !strings.HasPrefix(p.Name, "drainplan-") {
			opts.DryRun = []string{metav1.DryRunAll}
		}
		err := e.Cluster.Client.PolicyV1().Evictions(p.Namespace).Evict(ctx, &policyv1.Eviction{
			ObjectMeta: metav1.ObjectMeta{Namespace: p.Namespace, Name: p.Name}, DeleteOptions: opts,
		})
		var status apierrors.APIStatus
		switch {
		case err == nil:
		case errors.As(err, &status):
			refused[p.Key()] = status.Status().Code
		default:
			t.Fatalf("evict %s: %v", p.Key(), err)
		}
	}
	if fmt.Sprint(refused) != fmt.Sprint(predicted) {
		t.Errorf("the Eviction API refused %v; drain-plan predicted %v", refused, predicted)
	}
	held := 0
	for key, code := range predicted {
		if strings.HasPrefix(key, ns+"/drainplan-held-") && code == 429 {
			held++
		}
	}
	if held != 2 || len(plan.Blockers) < 3 || plan.Drainable {
		t.Errorf("the plan should hold both drainplan-held pods (429), drainplan-dual (500) and drainplan-bare (no controller): %+v", plan.Blockers)
	}
}

// runDrainPlan runs `fluxgate drain-plan NODE -o json`, which must exit 1
// (the node cannot be drained), and returns the refusals it predicts.
func runDrainPlan(t *testing.T, ctx context.Context, kubeconfig, node string) map[string]int32 {
	t.Helper()
	bin := os.Getenv("FLUXGATE_BIN")
	if bin == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			t.Fatal(err)
		}
		bin = filepath.Join(root, "bin", "fluxgate")
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "drain-plan", node, "--kubeconfig", kubeconfig, "-o", "json")
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	if !errors.As(err, &exit) || exit.ExitCode() != 1 {
		t.Fatalf("fluxgate drain-plan: %v, want exit status 1 (stderr: %s)", err, stderr.String())
	}
	var rep drainplan.Report
	if err := json.Unmarshal(stdout.Bytes(), &rep); err != nil {
		t.Fatalf("fluxgate drain-plan -o json: %v", err)
	}
	out := map[string]int32{}
	for _, p := range rep.Nodes[0].Pods {
		if p.Eviction == drainplan.EvictionRefused {
			out[p.Key()] = p.Code
		}
	}
	return out
}

// deployment runs replicas pods labelled app=<name> and drainplan=e2e on
// node.
func deployment(ns, name, node string, replicas int32) *appsv1.Deployment {
	labels := map[string]string{"app": name, "drainplan": "e2e"}
	if name == "drainplan-dual" {
		labels["dual"] = "true"
	}
	return &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: appsv1.DeploymentSpec{
			Replicas: ptr.To(replicas),
			Selector: &metav1.LabelSelector{MatchLabels: map[string]string{"app": name}},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					NodeSelector: map[string]string{corev1.LabelHostname: node},
					Containers:   []corev1.Container{{Name: "app", Image: "app:1"}},
				},
			},
		},
	}
}

// budget selects sel with maxUnavailable.
func budget(ns, name string, sel map[string]string, maxUnavailable int32) *policyv1.PodDisruptionBudget {
	return &policyv1.PodDisruptionBudget{
		ObjectMeta: metav1.ObjectMeta{Namespace: ns, Name: name},
		Spec: policyv1.PodDisruptionBudgetSpec{
			MaxUnavailable: ptr.To(intstr.FromInt32(maxUnavailable)),
			Selector:       &metav1.LabelSelector{MatchLabels: sel},
		},
	}
}
