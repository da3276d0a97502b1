package scenario

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	apimeta "k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/fields"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
	"github.com/fluxgate/fluxgate/internal/testenv"
)

// DrainBlockedApp is the app whose budget holds the drain, in the
// namespace [DrainBlockedOptions.Namespace].
const DrainBlockedApp = "ledger"

// The exemption the held budget carries: fluxgate's pdb-drain-safe policy
// denies a budget allowing no disruption, so the team that wrote one had
// to say why.
const (
	exemptAnnotation       = "fluxgate.dev/exempt"
	exemptReasonAnnotation = "fluxgate.dev/exempt-reason"
	drainBlockedExemption  = "quarter-end close: the ledger must not restart until the books are closed"
)

// DrainBlockedOptions configure [DrainBlocked].
type DrainBlockedOptions struct {
	// Namespace holds the app and names the MaintenanceGuard (default
	// "drain-blocked"); it must not exist yet.
	Namespace string
	// Narrate receives the story as it happens (nil: silent).
	Narrate io.Writer
	// FluxgateBinary runs `fluxgate drain-plan` on the held node; default
	// $FLUXGATE_BIN, else bin/fluxgate of the repository; the step is
	// left out when neither exists.
	FluxgateBinary string
}

// DrainBlockedResult is what [DrainBlocked] observed.
type DrainBlockedResult struct {
	// Node is the node drained; Budget the held budget, "namespace/name";
	// Guard the MaintenanceGuard's name; Pods the app's pods on Node.
	Node, Budget, Guard string
	Pods                []string
	// Before is the guard's DrainBlocked condition before the cordon,
	// Blocked while the drain was held, Cleared once the budget was
	// fixed and the drain done.
	Before, Blocked, Cleared metav1.Condition
	// Refusal is the Eviction API's answer, while held, to an eviction
	// (dry run) of the app's pod on Node: code and message.
	RefusalCode    int32
	RefusalMessage string
	// GuardEvents and BudgetEvents are the messages of the Warning Events
	// with reason DrainBlocked recorded on the guard and on the budget.
	GuardEvents, BudgetEvents []string
	// GuardTable is `kubectl get maintenanceguard` while held, as the
	// API server's Table for the guard renders it.
	GuardTable string
	// DrainPlan is the output of `fluxgate drain-plan Node` while held,
	// and DrainPlanExit its exit status (empty and 0 when not run).
	DrainPlan     string
	DrainPlanExit int
	// DrainedWhileHeld is true if the drain finished before the budget
	// was fixed (must be false).
	DrainedWhileHeld bool
	// Drained is true once the drain completed after the fix; Evicted
	// counts the pods on Node when the drain began (the app's and any
	// other's).
	Drained bool
	Evicted int
}

// DrainBlocked is the story of a drain that cannot complete: an app of
// two replicas whose PodDisruptionBudget allows no disruption
// (maxUnavailable 0, exempted from pdb-drain-safe with a reason), a node
// running one of its pods drained as `kubectl drain` does, which the
// Eviction API holds with 429 and which retries; the MaintenanceGuard
// names the node, the budget with its counts (as kube-controller-manager
// computes them) and the pods in its DrainBlocked condition, and records
// Warning Events on itself and on the budget. Then the budget is fixed by
// hand (maxUnavailable 1, the exemption dropped, which fluxgate's webhook
// admits), kube-controller-manager allows one disruption, the drain
// completes and the condition clears. Whatever happens, it uncordons the
// node and deletes the guard and the namespace before returning.
func DrainBlocked(ctx context.Context, e *Env, o DrainBlockedOptions) (_ *DrainBlockedResult, err error) {
	if o.Namespace == "" {
		o.Namespace = "drain-blocked"
	}
	ns := o.Namespace
	say := narrator(o.Narrate)
	res := &DrainBlockedResult{Guard: ns, Budget: ns + "/" + DrainBlockedApp}
	drainCtx, stopDrain := context.WithCancel(ctx)
	drainDone := make(chan error, 1)
	draining := false
	defer func() {
		stopDrain()
		if draining {
			<-drainDone
		}
		cctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 90*time.Second)
		defer cancel()
		var errs []error
		if res.Node != "" {
			errs = append(errs, e.Cluster.Uncordon(cctx, res.Node))
		}
		errs = append(errs, e.DeleteGuard(cctx, ns), e.DeleteNamespace(cctx, ns, time.Minute))
		if cerr := errors.Join(errs...); cerr != nil {
			err = errors.Join(err, fmt.Errorf("clean up: %w", cerr))
		}
	}()

	// 1. The app and its budget, allowing no disruption.
	labels := map[string]string{"fluxgate.dev/e2e": ns}
	if err := e.CreateNamespace(ctx, ns, labels); err != nil {
		return res, err
	}
	dep, pdb, err := drainBlockedApp(ns)
	if err != nil {
		return res, err
	}
	// Written with a client that keeps the API server's warnings
	// (fluxgate's admission warnings) for the story.
	warned := &warnings{}
	cfg := e.Cluster.RESTConfig()
	cfg.WarningHandlerWithContext = warned
	writer, err := client.New(cfg, client.Options{Scheme: e.Client.Scheme()})
	if err != nil {
		return res, fmt.Errorf("client: %w", err)
	}
	if err := writer.Create(ctx, dep); err != nil {
		return res, fmt.Errorf("create Deployment %s/%s: %w", ns, dep.Name, err)
	}
	depWarnings := warned.take()
	if err := writer.Create(ctx, pdb); err != nil {
		return res, fmt.Errorf("create PodDisruptionBudget %s: %w", res.Budget, err)
	}
	say("Deployment %s/%s (2 replicas) with a PodDisruptionBudget maxUnavailable: 0, exempted from pdb-drain-safe: %q",
		ns, DrainBlockedApp, drainBlockedExemption)
	if ids := policyIDs(depWarnings); ids != "" {
		say("(fluxgate's webhook warned %s on the Deployment, created before its budget, as Flux may apply them)", ids)
	}
	if ids := policyIDs(warned.take()); ids != "" {
		say("(fluxgate's webhook warned %s on the budget)", ids)
	}
	if err := e.waitBudget(ctx, ns, 2, 0); err != nil {
		return res, err
	}
	say("both pods ready; kube-controller-manager computed the budget: healthy 2, desired healthy 2, disruptions allowed 0")

	// 2. A guard, and the node running the app's first pod.
	if err := e.Guard(ctx, ns, GuardSpec(labels, "2s", "5s")); err != nil {
		return res, err
	}
	if res.Before, err = e.waitGuardCondition(ctx, ns, 30*time.Second, func(c metav1.Condition) bool { return true }); err != nil {
		return res, err
	}
	pods, err := e.appPods(ctx, ns)
	if err != nil {
		return res, err
	}
	res.Node = pods[0].Spec.NodeName
	for _, p := range pods {
		if p.Spec.NodeName == res.Node {
			res.Pods = append(res.Pods, ns+"/"+p.Name)
		}
	}
	say("MaintenanceGuard %q watches the nodes: DrainBlocked=%s (%s)", ns, res.Before.Status, res.Before.Reason)

	// 3. The node is cordoned for its maintenance: the guard names what
	// will hold its drain before the drain begins. (The budgets of other
	// apps on the node must allow their disruption first: a drain in
	// progress brings each of them to 0 for a moment, until the evicted
	// pod's replacement is ready elsewhere, which the guard names too.)
	_ = e.waitOtherBudgetsAllow(ctx, res.Budget, time.Minute)
	if err := e.Cluster.Cordon(ctx, res.Node); err != nil {
		return res, err
	}
	say("%s, which runs %s, cordoned for maintenance", res.Node, strings.Join(res.Pods, ", "))
	if res.Blocked, err = e.waitGuardCondition(ctx, ns, 30*time.Second, func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionTrue && strings.Contains(c.Message, "budget "+res.Budget+" ")
	}); err != nil {
		return res, err
	}
	say("guard %q DrainBlocked=%s (%s): %s", ns, res.Blocked.Status, res.Blocked.Reason, res.Blocked.Message)
	if res.GuardTable, err = e.guardTable(ctx, ns); err != nil {
		return res, err
	}
	say("$ kubectl get maintenanceguard %s\n%s", ns, indent(res.GuardTable))
	if err := poll(ctx, 30*time.Second, func(ctx context.Context) error {
		res.GuardEvents, res.BudgetEvents, err = e.drainBlockedEvents(ctx, ns)
		if err != nil {
			return err
		}
		if len(res.GuardEvents) == 0 || len(res.BudgetEvents) == 0 {
			return fmt.Errorf("DrainBlocked Warning Events: %d on the guard, %d on the budget", len(res.GuardEvents), len(res.BudgetEvents))
		}
		return nil
	}); err != nil {
		return res, err
	}
	say("Warning Event DrainBlocked on PodDisruptionBudget %s: %s", res.Budget, res.BudgetEvents[0])
	if bin := fluxgateBinary(o.FluxgateBinary); bin != "" {
		res.DrainPlan, res.DrainPlanExit, err = drainPlan(ctx, bin, e.Cluster.Kubeconfig, res.Node)
		if err != nil {
			return res, err
		}
		say("$ fluxgate drain-plan %s   (exit status %d)\n%s", res.Node, res.DrainPlanExit, indent(res.DrainPlan))
	}

	// 4. The drain, as kubectl drain: evictions retried on 429. Every
	// other pod leaves; the app's stay.
	if res.Evicted, err = e.podsOn(ctx, res.Node); err != nil {
		return res, err
	}
	draining = true
	go func() { drainDone <- e.Cluster.Drain(drainCtx, res.Node) }()
	if err := poll(ctx, time.Minute, func(ctx context.Context) error {
		left, err := e.podNamesOn(ctx, res.Node)
		if err != nil {
			return err
		}
		if strings.Join(left, ",") != strings.Join(res.Pods, ",") {
			return fmt.Errorf("pods on %s: %v, want only %v", res.Node, left, res.Pods)
		}
		return nil
	}); err != nil {
		return res, err
	}
	res.RefusalCode, res.RefusalMessage = e.evictDryRun(ctx, ns, strings.TrimPrefix(res.Pods[0], ns+"/"))
	select {
	case err := <-drainDone:
		draining = false
		res.DrainedWhileHeld = true
		return res, fmt.Errorf("the drain of %s ended while the budget allowed no disruption: %v", res.Node, err)
	default:
	}
	other := fmt.Sprintf("%d other pods", res.Evicted-len(res.Pods))
	if res.Evicted-len(res.Pods) == 1 {
		other = "1 other pod"
	}
	say("draining %s: %s evicted; the drain is stuck on %s, whose eviction the API refuses (and kubectl drain retries): %d %s",
		res.Node, other, strings.Join(res.Pods, ", "), res.RefusalCode, res.RefusalMessage)

	// 5. The fix: one disruption allowed, the exemption dropped.
	patch := fmt.Appendf(nil, `{"metadata":{"annotations":{%q:null,%q:null}},"spec":{"maxUnavailable":1}}`, exemptAnnotation, exemptReasonAnnotation)
	if err := writer.Patch(ctx, pdb, client.RawPatch(types.MergePatchType, patch)); err != nil {
		return res, fmt.Errorf("fix PodDisruptionBudget %s: %w", res.Budget, err)
	}
	say("budget fixed by hand: maxUnavailable 0 → 1 and the exemption dropped (fluxgate's webhook admits the fixed budget)")
	if ids := policyIDs(warned.take()); ids != "" {
		say("(fluxgate's webhook warned %s on the fixed budget)", ids)
	}
	if err := e.waitBudget(ctx, ns, 0, 1); err != nil {
		return res, err
	}
	say("kube-controller-manager: the budget allows 1 disruption")
	select {
	case err := <-drainDone:
		draining = false
		if err != nil {
			return res, err
		}
	case <-time.After(time.Minute):
		return res, fmt.Errorf("the drain of %s did not complete within a minute of the fix", res.Node)
	}
	res.Drained = true
	if err := e.waitAppMoved(ctx, ns, res.Node); err != nil {
		return res, err
	}
	say("%s drained: %s evicted at the next retry; %s/%s is back to 2 ready pods, none on %s",
		res.Node, strings.Join(res.Pods, ", "), ns, DrainBlockedApp, res.Node)
	if res.Cleared, err = e.waitGuardCondition(ctx, ns, 45*time.Second, func(c metav1.Condition) bool {
		return c.Status == metav1.ConditionFalse
	}); err != nil {
		return res, err
	}
	say("guard %q DrainBlocked=%s (%s): %s", ns, res.Cleared.Status, res.Cleared.Reason, res.Cleared.Message)
	return res, nil
}

// drainBlockedApp is a compliant app of two replicas ([AppManifest]) whose
// budget allows no disruption, exempted from pdb-drain-safe.
func drainBlockedApp(ns string) (*appsv1.Deployment, *policyv1.PodDisruptionBudget, error) {
	docs := strings.Split(AppManifest(ns, App{Name: DrainBlockedApp, Replicas: 2}, "1.0.0"), "\n---\n")
	dep, pdb := &appsv1.Deployment{}, &policyv1.PodDisruptionBudget{}
	if len(docs) != 2 {
		return nil, nil, fmt.Errorf("app manifest: %d documents, want 2", len(docs))
	}
	if err := yaml.UnmarshalStrict([]byte(docs[0]), dep); err != nil {
		return nil, nil, fmt.Errorf("app manifest: %w", err)
	}
	if err := yaml.UnmarshalStrict([]byte(docs[1]), pdb); err != nil {
		return nil, nil, fmt.Errorf("app manifest: %w", err)
	}
	zero := intstr.FromInt32(0)
	pdb.Spec.MaxUnavailable = &zero
	pdb.Annotations = map[string]string{exemptAnnotation: "pdb-drain-safe", exemptReasonAnnotation: drainBlockedExemption}
	return dep, pdb, nil
}

// waitBudget waits until kube-controller-manager has observed the app's
// budget and computes allowed disruptions (and, when healthy > 0, that
// many healthy pods, all of them ready).
func (e *Env) waitBudget(ctx context.Context, ns string, healthy, allowed int32) error {
	return poll(ctx, time.Minute, func(ctx context.Context) error {
		var b policyv1.PodDisruptionBudget
		if err := e.Client.Get(ctx, types.NamespacedName{Namespace: ns, Name: DrainBlockedApp}, &b); err != nil {
			return err
		}
		st := b.Status
		if st.ObservedGeneration < b.Generation || st.DisruptionsAllowed != allowed || (healthy > 0 && st.CurrentHealthy != healthy) {
			return fmt.Errorf("budget %s/%s: status %+v, want %d allowed", ns, DrainBlockedApp, st, allowed)
		}
		return nil
	})
}

// waitOtherBudgetsAllow waits until every budget of the cluster but
// except is processed and allows a disruption.
func (e *Env) waitOtherBudgetsAllow(ctx context.Context, except string, timeout time.Duration) error {
	return poll(ctx, timeout, func(ctx context.Context) error {
		var list policyv1.PodDisruptionBudgetList
		if err := e.Client.List(ctx, &list); err != nil {
			return err
		}
		for _, b := range list.Items {
			if b.Namespace+"/"+b.Name == except {
				continue
			}
			if b.Status.ObservedGeneration < b.Generation || b.Status.DisruptionsAllowed < 1 {
				return fmt.Errorf("budget %s/%s allows %d disruptions", b.Namespace, b.Name, b.Status.DisruptionsAllowed)
			}
		}
		return nil
	})
}

// podNamesOn lists the pods on node not being deleted, "namespace/name",
// sorted.
func (e *Env) podNamesOn(ctx context.Context, node string) ([]string, error) {
	var pods corev1.PodList
	if err := e.Client.List(ctx, &pods, client.MatchingFields{"spec.nodeName": node}); err != nil {
		return nil, fmt.Errorf("list pods on %s: %w", node, err)
	}
	var names []string
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil {
			names = append(names, p.Namespace+"/"+p.Name)
		}
	}
	sort.Strings(names)
	return names, nil
}

// waitAppMoved waits until the app runs two ready pods, none on node.
func (e *Env) waitAppMoved(ctx context.Context, ns, node string) error {
	return poll(ctx, time.Minute, func(ctx context.Context) error {
		pods, err := e.appPods(ctx, ns)
		if err != nil {
			return err
		}
		ready := 0
		for _, p := range pods {
			if p.Spec.NodeName == node {
				return fmt.Errorf("%s/%s still on %s", ns, p.Name, node)
			}
			for _, c := range p.Status.Conditions {
				if c.Type == corev1.PodReady && c.Status == corev1.ConditionTrue && p.DeletionTimestamp == nil {
					ready++
				}
			}
		}
		if ready != 2 {
			return fmt.Errorf("%s/%s: %d of 2 pods ready", ns, DrainBlockedApp, ready)
		}
		return nil
	})
}

// appPods lists the app's pods, sorted by name.
func (e *Env) appPods(ctx context.Context, ns string) ([]corev1.Pod, error) {
	var pods corev1.PodList
	if err := e.Client.List(ctx, &pods, client.InNamespace(ns), client.MatchingLabels{"app.kubernetes.io/name": DrainBlockedApp}); err != nil {
		return nil, fmt.Errorf("list the pods of %s/%s: %w", ns, DrainBlockedApp, err)
	}
	if len(pods.Items) == 0 || pods.Items[0].Spec.NodeName == "" {
		return nil, fmt.Errorf("no scheduled pod of %s/%s", ns, DrainBlockedApp)
	}
	sort.Slice(pods.Items, func(i, j int) bool { return pods.Items[i].Name < pods.Items[j].Name })
	return pods.Items, nil
}

// waitGuardCondition waits until the guard has a DrainBlocked condition
// for which ok holds, and returns it.
func (e *Env) waitGuardCondition(ctx context.Context, name string, timeout time.Duration, ok func(metav1.Condition) bool) (metav1.Condition, error) {
	var got metav1.Condition
	err := poll(ctx, timeout, func(ctx context.Context) error {
		g := guard(name)
		if err := e.Client.Get(ctx, types.NamespacedName{Name: name}, g); err != nil {
			return err
		}
		raw, _, _ := unstructured.NestedSlice(g.Object, "status", "conditions")
		var conds []metav1.Condition
		for _, r := range raw {
			m, _ := r.(map[string]any)
			var c metav1.Condition
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(m, &c); err != nil {
				return fmt.Errorf("guard %s: condition %v: %w", name, r, err)
			}
			conds = append(conds, c)
		}
		c := apimeta.FindStatusCondition(conds, v1alpha1.DrainBlockedCondition)
		if c == nil {
			return fmt.Errorf("guard %s has no %s condition", name, v1alpha1.DrainBlockedCondition)
		}
		if !ok(*c) {
			return fmt.Errorf("guard %s: %s=%s (%s) %s", name, c.Type, c.Status, c.Reason, c.Message)
		}
		got = *c
		return nil
	})
	return got, err
}

// evictDryRun asks the Eviction API, as a dry run, to evict a pod and
// returns its answer: 0 and "" if it would evict.
func (e *Env) evictDryRun(ctx context.Context, ns, pod string) (int32, string) {
	err := e.Cluster.Client.PolicyV1().Evictions(ns).Evict(ctx, &policyv1.Eviction{
		ObjectMeta:    metav1.ObjectMeta{Namespace: ns, Name: pod},
		DeleteOptions: &metav1.DeleteOptions{DryRun: []string{metav1.DryRunAll}},
	})
	var status apierrors.APIStatus
	switch {
	case err == nil:
		return 0, ""
	case errors.As(err, &status):
		return status.Status().Code, status.Status().Message
	default:
		return -1, err.Error()
	}
}

// drainBlockedEvents returns the messages of the Warning Events with
// reason DrainBlocked on the guard name and on the app's budget, oldest
// first.
func (e *Env) drainBlockedEvents(ctx context.Context, name string) (onGuard, onBudget []string, err error) {
	list, err := e.Cluster.Client.CoreV1().Events(metav1.NamespaceAll).List(ctx, metav1.ListOptions{
		FieldSelector: fields.Set{"reason": v1alpha1.DrainBlockedCondition, "type": corev1.EventTypeWarning}.String(),
	})
	if err != nil {
		return nil, nil, fmt.Errorf("list the DrainBlocked Events: %w", err)
	}
	events := list.Items
	sort.SliceStable(events, func(i, j int) bool { return eventTime(events[i]).Before(eventTime(events[j])) })
	for _, ev := range events {
		o := ev.InvolvedObject
		switch {
		case o.Kind == "MaintenanceGuard" && o.Name == name:
			onGuard = append(onGuard, ev.Message)
		case o.Kind == "PodDisruptionBudget" && o.Namespace == name && o.Name == DrainBlockedApp:
			onBudget = append(onBudget, ev.Message)
		}
	}
	return onGuard, onBudget, nil
}

func eventTime(ev corev1.Event) time.Time {
	if !ev.EventTime.IsZero() {
		return ev.EventTime.Time
	}
	return ev.FirstTimestamp.Time
}

// guardTable renders the guard as `kubectl get maintenanceguard NAME`
// does: the API server's Table with the CRD's printer columns.
func (e *Env) guardTable(ctx context.Context, name string) (string, error) {
	raw, err := e.Cluster.Client.CoreV1().RESTClient().Get().
		AbsPath("/apis", v1alpha1.GroupVersion.Group, v1alpha1.GroupVersion.Version, "maintenanceguards", name).
		SetHeader("Accept", "application/json;as=Table;v=v1;g=meta.k8s.io").
		DoRaw(ctx)
	if err != nil {
		return "", fmt.Errorf("get MaintenanceGuard %s as a table: %w", name, err)
	}
	var table metav1.Table
	if err := json.Unmarshal(raw, &table); err != nil {
		return "", fmt.Errorf("MaintenanceGuard %s as a table: %w", name, err)
	}
	var buf bytes.Buffer
	w := tabwriter.NewWriter(&buf, 0, 0, 3, ' ', 0)
	var cols []int
	var header []string
	for i, c := range table.ColumnDefinitions {
		if c.Priority == 0 {
			cols = append(cols, i)
			header = append(header, strings.ToUpper(c.Name))
		}
	}
	fmt.Fprintln(w, strings.Join(header, "\t"))
	for _, row := range table.Rows {
		var cells []string
		for _, i := range cols {
			cell := ""
			if i < len(row.Cells) && row.Cells[i] != nil {
				cell = fmt.Sprint(row.Cells[i])
			}
			cells = append(cells, cell)
		}
		fmt.Fprintln(w, strings.Join(cells, "\t"))
	}
	if err := w.Flush(); err != nil {
		return "", err
	}
	return strings.TrimRight(buf.String(), "\n"), nil
}

// fluxgateBinary is bin if set, else $FLUXGATE_BIN, else bin/fluxgate of
// the repository, or "" if that does not exist.
func fluxgateBinary(bin string) string {
	if bin == "" {
		bin = os.Getenv("FLUXGATE_BIN")
	}
	if bin == "" {
		root, err := testenv.RepoRoot()
		if err != nil {
			return ""
		}
		bin = filepath.Join(root, "bin", "fluxgate")
	}
	if _, err := os.Stat(bin); err != nil {
		return ""
	}
	return bin
}

// drainPlan runs `fluxgate drain-plan node` and returns its output and
// exit status (1: the node cannot be drained now).
func drainPlan(ctx context.Context, bin, kubeconfig, node string) (string, int, error) {
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, bin, "drain-plan", node, "--kubeconfig", kubeconfig)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	var exit *exec.ExitError
	switch {
	case err == nil:
		return stdout.String(), 0, nil
	case errors.As(err, &exit) && exit.ExitCode() == 1:
		return stdout.String(), 1, nil
	default:
		return "", 0, fmt.Errorf("fluxgate drain-plan %s: %v (stderr: %s)", node, err, stderr.String())
	}
}

// indent indents every line of s by 11 spaces, under the narration's
// messages.
func indent(s string) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	for i, l := range lines {
		if l != "" {
			lines[i] = "           " + l
		}
	}
	return strings.Join(lines, "\n")
}

// Problems lists what [DrainBlocked] promised and did not see: the drain
// held while the budget allowed no disruption, the guard's DrainBlocked
// condition and its Warning Events naming the node and the budget, and the
// condition cleared once the budget was fixed and the drain done.
func (r *DrainBlockedResult) Problems() []string {
	var out []string
	named := "node " + r.Node + ": budget " + r.Budget + " allows no disruption"
	if r.RefusalCode != 429 {
		out = append(out, fmt.Sprintf("the Eviction API answered %d %q while the budget allowed no disruption, want 429", r.RefusalCode, r.RefusalMessage))
	}
	if r.Blocked.Status != metav1.ConditionTrue || !strings.Contains(r.Blocked.Message, named) {
		out = append(out, fmt.Sprintf("DrainBlocked=%s %q does not name %q", r.Blocked.Status, r.Blocked.Message, named))
	}
	if !anyContains(r.GuardEvents, named) || !anyContains(r.BudgetEvents, "holds the drain of node "+r.Node) {
		out = append(out, fmt.Sprintf("no Warning Event DrainBlocked naming the budget on the guard (%q) or the node on the budget (%q)", r.GuardEvents, r.BudgetEvents))
	}
	if r.DrainedWhileHeld || !r.Drained {
		out = append(out, fmt.Sprintf("drained while held %v, after the fix %v", r.DrainedWhileHeld, r.Drained))
	}
	if r.Cleared.Status != metav1.ConditionFalse || r.Cleared.Reason != v1alpha1.DrainsCanCompleteReason {
		out = append(out, fmt.Sprintf("after the fix DrainBlocked=%s (%s), want False (%s)", r.Cleared.Status, r.Cleared.Reason, v1alpha1.DrainsCanCompleteReason))
	}
	return out
}

func anyContains(messages []string, want string) bool {
	for _, m := range messages {
		if strings.Contains(m, want) {
			return true
		}
	}
	return false
}

// warnings keeps the API server's warnings to a client's requests.
type warnings struct {
	mu   sync.Mutex
	list []string
}

func (w *warnings) HandleWarningHeaderWithContext(_ context.Context, code int, _ string, text string) {
	if code != 299 || text == "" {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.list = append(w.list, text)
}

// take returns the warnings kept so far and forgets them.
func (w *warnings) take() []string {
	w.mu.Lock()
	defer w.mu.Unlock()
	out := w.list
	w.list = nil
	return out
}

// policyIDs names the policies of fluxgate's warnings ("id: message"),
// joined by commas.
func policyIDs(warnings []string) string {
	var ids []string
	for _, w := range warnings {
		id, _, _ := strings.Cut(w, ":")
		ids = append(ids, id)
	}
	return strings.Join(ids, ", ")
}
