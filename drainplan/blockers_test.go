package drainplan

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// summary is a pod's verdict in a few words: drain action, eviction answer,
// code and reason.
func summary(p Pod) string {
	s := string(p.Drain)
	if p.Eviction != "" {
		s += " " + string(p.Eviction)
	}
	if p.Code != 0 {
		s += fmt.Sprintf(" %d %s", p.Code, p.Reason)
	}
	return s
}

func TestBlockers(t *testing.T) {
	const ns = "shop"
	cases := []struct {
		name         string
		pods         []corev1.Pod
		pdbs         []policyv1.PodDisruptionBudget
		noReschedule bool
		want         map[string]string // pod name -> summary
		blockers     []string          // reason and budget or pods of each blocker
		notReady     []string          // the first blocker's budget's not-ready pods
		message      string            // the first blocker's message contains it
		warnings     int
	}{{
		name: "budget allowing one disruption lets the node's one pod go",
		pods: []corev1.Pod{mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "web-2", "web", "n2")},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 2, 1, 2)},
		want: map[string]string{"web-1": "Evict Allowed"},
	}, {
		name: "budget allowing no disruption refuses with 429 and names not-ready pods elsewhere",
		pods: []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "web-2", "web", "n1"),
			mkPod(ns, "web-3", "web", "n2", notReady),
		},
		pdbs:     []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 2, 3, 3)},
		want:     map[string]string{"web-1": "Evict Refused 429 BudgetAllowsNoDisruption", "web-2": "Evict Refused 429 BudgetAllowsNoDisruption"},
		blockers: []string{"BudgetAllowsNoDisruption shop/web [shop/web-1 shop/web-2]"},
		notReady: []string{"shop/web-3"},
		message:  "The disruption budget web needs 3 healthy pods and has 2 currently",
	}, {
		name: "not-ready pod passes under IfHealthyBudget when the budget is healthy",
		pods: []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1", notReady), mkPod(ns, "web-2", "web", "n2"), mkPod(ns, "web-3", "web", "n3"),
		},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 2, 2, 3)},
		want: map[string]string{"web-1": "Evict Allowed"},
	}, {
		name:     "not-ready pod refused under IfHealthyBudget below the desired count",
		pods:     []corev1.Pod{mkPod(ns, "web-1", "web", "n1", notReady), mkPod(ns, "web-2", "web", "n2")},
		pdbs:     []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 1, 2, 2)},
		want:     map[string]string{"web-1": "Evict Refused 429 BudgetAllowsNoDisruption"},
		blockers: []string{"BudgetAllowsNoDisruption shop/web [shop/web-1]"},
		notReady: []string{"shop/web-1"},
	}, {
		name: "not-ready pod passes with AlwaysAllow below the desired count",
		pods: []corev1.Pod{mkPod(ns, "web-1", "web", "n1", notReady), mkPod(ns, "web-2", "web", "n2")},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 1, 2, 2, alwaysAllow)},
		want: map[string]string{"web-1": "Evict Allowed"},
	}, {
		name: "a pod under two budgets is refused with 500",
		pods: []corev1.Pod{mkPod(ns, "api-1", "api", "n1", label("tier", "front"))},
		pdbs: []policyv1.PodDisruptionBudget{
			mkPDB(ns, "api", "api", 1, 2, 1, 2),
			mkPDB(ns, "front", "", 3, 4, 1, 4, selector(&metav1.LabelSelector{MatchLabels: map[string]string{"tier": "front"}})),
		},
		want:     map[string]string{"api-1": "Evict Refused 500 MultipleBudgets"},
		blockers: []string{"MultipleBudgets shop/api,shop/front [shop/api-1]"},
		message:  "This pod has more than one PodDisruptionBudget",
	}, {
		name:     "a bare pod makes kubectl refuse the drain; the Eviction API would let it go",
		pods:     []corev1.Pod{mkPod(ns, "debug", "debug", "n1", bare)},
		want:     map[string]string{"debug": "Refuse Allowed"},
		blockers: []string{"NoController [shop/debug]"},
	}, {
		name: "a finished bare pod is deleted",
		pods: []corev1.Pod{mkPod(ns, "job", "job", "n1", bare, phase(corev1.PodSucceeded))},
		want: map[string]string{"job": "Evict Allowed"},
	}, {
		name: "DaemonSet and mirror pods stay, whatever their budgets",
		pods: []corev1.Pod{
			mkPod("kube-system", "agent-x", "agent", "n1", daemonSet),
			mkPod("kube-system", "etcd-n1", "etcd", "n1", mirror),
		},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB("kube-system", "agent", "agent", 0, 1, 1, 1), mkPDB("kube-system", "etcd", "etcd", 0, 1, 1, 1)},
		want: map[string]string{"agent-x": "Ignore", "etcd-n1": "Skip"},
	}, {
		name:     "emptyDir data is a warning",
		pods:     []corev1.Pod{mkPod(ns, "cache-1", "cache", "n1", emptyDir)},
		want:     map[string]string{"cache-1": "Evict Allowed"},
		warnings: 1,
	}, {
		name: "pending and terminating pods skip the budget",
		pods: []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1", phase(corev1.PodPending), notReady),
			mkPod(ns, "web-2", "web", "n1", terminating),
		},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 1, 2, 2)},
		want: map[string]string{"web-1": "Evict Allowed", "web-2": "Evict Allowed"},
	}, {
		name:     "a budget whose generation is not yet observed refuses with 429",
		pods:     []corev1.Pod{mkPod(ns, "web-1", "web", "n1")},
		pdbs:     []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 2, 1, 2, func(b *policyv1.PodDisruptionBudget) { b.Generation = 2 })},
		want:     map[string]string{"web-1": "Evict Refused 429 BudgetNotObserved"},
		blockers: []string{"BudgetNotObserved shop/web [shop/web-1]"},
	}, {
		name:     "negative disruptions allowed refuse with 403",
		pods:     []corev1.Pod{mkPod(ns, "web-1", "web", "n1")},
		pdbs:     []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", -1, 2, 1, 2)},
		want:     map[string]string{"web-1": "Evict Refused 403 BudgetInvalid"},
		blockers: []string{"BudgetInvalid shop/web [shop/web-1]"},
	}, {
		name: "one disruption for three pods on the node: the others wait for replacements",
		pods: []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "web-2", "web", "n1"), mkPod(ns, "web-3", "web", "n1"),
		},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 3, 2, 3)},
		want: map[string]string{"web-1": "Evict Allowed", "web-2": "Evict Waits", "web-3": "Evict Waits"},
	}, {
		name: "one disruption for three pods without rescheduling: the others are refused",
		pods: []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "web-2", "web", "n1"), mkPod(ns, "web-3", "web", "n1"),
		},
		pdbs:         []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 3, 2, 3)},
		noReschedule: true,
		want:         map[string]string{"web-1": "Evict Allowed", "web-2": "Evict Refused 429 BudgetUsedUp", "web-3": "Evict Refused 429 BudgetUsedUp"},
		blockers:     []string{"BudgetUsedUp shop/web [shop/web-2 shop/web-3]"},
	}, {
		name: "budgets select pods of their own namespace only; nil and invalid selectors none",
		pods: []corev1.Pod{mkPod(ns, "web-1", "web", "n1")},
		pdbs: []policyv1.PodDisruptionBudget{
			mkPDB("other", "web", "web", 0, 2, 2, 2),
			mkPDB(ns, "nil", "", 0, 0, 0, 0, selector(nil)),
			mkPDB(ns, "invalid", "", 0, 0, 0, 0, selector(&metav1.LabelSelector{MatchExpressions: []metav1.LabelSelectorRequirement{{Key: "app", Operator: "Bogus"}}})),
		},
		want: map[string]string{"web-1": "Evict Allowed"},
	}, {
		name:     "an empty selector selects every pod of the namespace",
		pods:     []corev1.Pod{mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "api-1", "api", "n1")},
		pdbs:     []policyv1.PodDisruptionBudget{mkPDB(ns, "all", "", 0, 2, 2, 2, selector(&metav1.LabelSelector{}))},
		want:     map[string]string{"web-1": "Evict Refused 429 BudgetAllowsNoDisruption", "api-1": "Evict Refused 429 BudgetAllowsNoDisruption"},
		blockers: []string{"BudgetAllowsNoDisruption shop/all [shop/api-1 shop/web-1]"},
	}, {
		name: "pods of other nodes are not judged",
		pods: []corev1.Pod{mkPod(ns, "web-1", "web", "n2")},
		pdbs: []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 1, 1, 1)},
		want: map[string]string{},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			var got Node
			if tc.noReschedule {
				got = newState(tc.pods, tc.pdbs).evaluate("n1", true)
			} else {
				got = Blockers("n1", tc.pods, tc.pdbs)
			}
			verdicts := map[string]string{}
			for _, p := range got.Pods {
				verdicts[p.Name] = summary(p)
			}
			if fmt.Sprint(verdicts) != fmt.Sprint(tc.want) {
				t.Errorf("pods:\n got %v\nwant %v", verdicts, tc.want)
			}
			if got.Drainable != (len(tc.blockers) == 0) {
				t.Errorf("drainable %v with blockers %+v", got.Drainable, got.Blockers)
			}
			var blockers []string
			for _, b := range got.Blockers {
				s := string(b.Reason)
				switch {
				case b.Budget != nil:
					s += " " + b.Budget.Key()
				case b.Budgets != nil:
					s += " " + strings.Join(b.Budgets, ",")
				}
				blockers = append(blockers, fmt.Sprintf("%s %v", s, b.Pods))
			}
			if !slices.Equal(blockers, tc.blockers) {
				t.Errorf("blockers:\n got %q\nwant %q", blockers, tc.blockers)
			}
			if tc.notReady != nil && !slices.Equal(got.Blockers[0].Budget.NotReady, tc.notReady) {
				t.Errorf("not ready: got %v, want %v", got.Blockers[0].Budget.NotReady, tc.notReady)
			}
			if len(got.Blockers) > 0 && !strings.HasSuffix(got.Blockers[0].String(), "; pods: "+strings.Join(got.Blockers[0].Pods, ", ")) {
				t.Errorf("String() %q does not end with the pods", got.Blockers[0].String())
			}
			if tc.message != "" && !strings.Contains(got.Blockers[0].Message, tc.message) {
				t.Errorf("message %q does not say %q", got.Blockers[0].Message, tc.message)
			}
			if len(got.Warnings) != tc.warnings {
				t.Errorf("warnings %q, want %d", got.Warnings, tc.warnings)
			}
		})
	}
}

// TestBlockerString checks the sentence a condition or Event can carry.
func TestBlockerString(t *testing.T) {
	pods := []corev1.Pod{
		mkPod("shop", "web-1", "web", "n1"), mkPod("shop", "web-2", "web", "n1"), mkPod("shop", "web-3", "web", "n2", notReady),
	}
	got := Blockers("n1", pods, []policyv1.PodDisruptionBudget{mkPDB("shop", "web", "web", 0, 2, 3, 3)})
	want := "budget shop/web allows no disruption (429): healthy 2, desired healthy 3, expected 3, disruptions allowed 0, IfHealthyBudget; not ready: shop/web-3; pods: shop/web-1, shop/web-2"
	if len(got.Blockers) != 1 || got.Blockers[0].String() != want {
		t.Errorf("blockers %v, want one: %s", got.Blockers, want)
	}
}

func TestBlockerLasting(t *testing.T) {
	for _, tc := range []struct {
		name string
		b    Blocker
		want bool
	}{
		{"no controller", Blocker{Reason: ReasonNoController}, true},
		{"two budgets", Blocker{Reason: ReasonMultipleBudgets}, true},
		{"a budget that never allows a disruption", Blocker{Reason: ReasonBudgetAllowsNoDisruption, Budget: &Budget{DesiredHealthy: 2, ExpectedPods: 2}}, true},
		{"a budget used up for now", Blocker{Reason: ReasonBudgetAllowsNoDisruption, Budget: &Budget{CurrentHealthy: 1, DesiredHealthy: 1, ExpectedPods: 2}}, false},
		{"a budget used up by earlier evictions", Blocker{Reason: ReasonBudgetUsedUp, Budget: &Budget{DesiredHealthy: 1, ExpectedPods: 2}}, false},
		{"a budget not observed yet", Blocker{Reason: ReasonBudgetNotObserved, Budget: &Budget{DesiredHealthy: 1, ExpectedPods: 2}}, false},
	} {
		if got := tc.b.Lasting(); got != tc.want {
			t.Errorf("%s: Lasting() = %v, want %v", tc.name, got, tc.want)
		}
	}
}
