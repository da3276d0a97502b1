package drainplan

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	"sigs.k8s.io/yaml"
)

var update = flag.Bool("update", false, "rewrite the golden files in testdata")

func TestSimulate(t *testing.T) {
	const ns = "shop"
	// web: three pods, one per node, maxUnavailable 1.
	web := func(opts2 ...func(*corev1.Pod)) []corev1.Pod {
		return []corev1.Pod{
			mkPod(ns, "web-1", "web", "n1"), mkPod(ns, "web-2", "web", "n2", opts2...), mkPod(ns, "web-3", "web", "n3"),
		}
	}
	cases := []struct {
		name    string
		pods    []corev1.Pod
		pdbs    []policyv1.PodDisruptionBudget
		opts    Options
		order   []string
		blocked []string
		steps   []string
	}{{
		name:  "rescheduled pods give each step the budget back",
		pods:  web(),
		pdbs:  []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 3, 2, 3)},
		order: []string{"n1", "n2", "n3"},
		steps: []string{"1 n1 drains shop/web 1->1 (1)", "2 n2 drains shop/web 1->1 (1)", "3 n3 drains shop/web 1->1 (1)"},
	}, {
		name:    "without rescheduling the first step uses the budget up",
		pods:    web(),
		pdbs:    []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 3, 2, 3)},
		opts:    Options{NoReschedule: true},
		order:   []string{"n1"},
		blocked: []string{"n2", "n3"},
		steps: []string{
			"1 n1 drains shop/web 1->0 (1)",
			"2 n2 blocked [BudgetUsedUp] shop/web 0->0 (1)",
			"3 n3 blocked [BudgetUsedUp] shop/web 0->0 (1)",
		},
	}, {
		name:  "the node of a not-ready pod goes first, and its replacement frees the budget",
		pods:  web(notReady),
		pdbs:  []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 0, 2, 2, 3)},
		order: []string{"n2", "n1", "n3"},
		steps: []string{"1 n2 drains shop/web 0->1 (0)", "2 n1 drains shop/web 1->1 (1)", "3 n3 drains shop/web 1->1 (1)"},
	}, {
		name:    "a bare pod blocks its node in every step",
		pods:    append(web(), mkPod(ns, "debug", "debug", "n2", bare)),
		pdbs:    []policyv1.PodDisruptionBudget{mkPDB(ns, "web", "web", 1, 3, 2, 3)},
		order:   []string{"n1", "n3"},
		blocked: []string{"n2"},
		steps: []string{
			"1 n1 drains shop/web 1->1 (1)", "2 n3 drains shop/web 1->1 (1)",
			"3 n2 blocked [NoController] shop/web 1->1 (1)",
		},
	}}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			seq := Simulate([]string{"n1", "n2", "n3"}, tc.pods, tc.pdbs, tc.opts)
			if !slices.Equal(seq.Order, tc.order) || !slices.Equal(seq.Blocked, tc.blocked) {
				t.Errorf("order %v blocked %v, want %v and %v", seq.Order, seq.Blocked, tc.order, tc.blocked)
			}
			var steps []string
			for _, st := range seq.Steps {
				s := fmt.Sprintf("%d %s drains", st.Step, st.Node)
				if !st.Drainable {
					var reasons []Reason
					for _, b := range st.Blockers {
						reasons = append(reasons, b.Reason)
					}
					s = fmt.Sprintf("%d %s blocked %v", st.Step, st.Node, reasons)
				}
				for _, b := range st.Budgets {
					s += fmt.Sprintf(" %s %d->%d (%d)", b.Budget, b.AllowedBefore, b.AllowedAfter, b.Healthy)
				}
				steps = append(steps, s)
			}
			if !slices.Equal(steps, tc.steps) {
				t.Errorf("steps:\n got %q\nwant %q", steps, tc.steps)
			}
		})
	}
}

// TestGolden plans a drain of every node of testdata/cluster.yaml and
// compares the text and JSON reports with testdata/plan.golden.txt and
// plan.golden.json (go test -update rewrites them; docs/drain-plan.md
// shows the text).
func TestGolden(t *testing.T) {
	nodes, pods, pdbs := loadCluster(t, filepath.Join("testdata", "cluster.yaml"))
	for _, tc := range []struct {
		golden string
		opts   Options
		write  func(*bytes.Buffer, *Report) error
	}{
		{"plan.golden.txt", Options{}, func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		{"plan-noreschedule.golden.txt", Options{NoReschedule: true}, func(b *bytes.Buffer, r *Report) error { return WriteText(b, r) }},
		{"plan.golden.json", Options{}, func(b *bytes.Buffer, r *Report) error { return WriteJSON(b, r) }},
	} {
		t.Run(tc.golden, func(t *testing.T) {
			rep := Analyze(nodes, pods, pdbs, tc.opts)
			var out bytes.Buffer
			if err := tc.write(&out, rep); err != nil {
				t.Fatal(err)
			}
			path := filepath.Join("testdata", tc.golden)
			if *update {
				if err := os.WriteFile(path, out.Bytes(), 0o644); err != nil {
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if out.String() != string(want) {
				t.Errorf("%s differs (go test -update rewrites it):\n%s", path, out.String())
			}
			if rep.Drainable() {
				t.Error("report says every node can be drained; node-1 and node-2 cannot")
			}
		})
	}
}

// loadCluster reads nodes, pods and budgets from a multi-document YAML
// file.
func loadCluster(t *testing.T, path string) ([]corev1.Node, []corev1.Pod, []policyv1.PodDisruptionBudget) {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var (
		nodes []corev1.Node
		pods  []corev1.Pod
		pdbs  []policyv1.PodDisruptionBudget
	)
	for i, doc := range strings.Split(string(data), "\n---\n") {
		js, err := yaml.YAMLToJSON([]byte(doc))
		if err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		var kind struct{ Kind string }
		if err := json.Unmarshal(js, &kind); err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
		var into any
		switch kind.Kind {
		case "Node":
			nodes = append(nodes, corev1.Node{})
			into = &nodes[len(nodes)-1]
		case "Pod":
			pods = append(pods, corev1.Pod{})
			into = &pods[len(pods)-1]
		case "PodDisruptionBudget":
			pdbs = append(pdbs, policyv1.PodDisruptionBudget{})
			into = &pdbs[len(pdbs)-1]
		default:
			t.Fatalf("%s document %d: kind %q", path, i, kind.Kind)
		}
		if err := json.Unmarshal(js, into); err != nil {
			t.Fatalf("%s document %d: %v", path, i, err)
		}
	}
	return nodes, pods, pdbs
}

// TestDocsShowGolden keeps docs/drain-plan.md's example the output of
// the shop cluster of testdata.
func TestDocsShowGolden(t *testing.T) {
	doc, err := os.ReadFile(filepath.Join("..", "docs", "drain-plan.md"))
	if err != nil {
		t.Fatal(err)
	}
	golden, err := os.ReadFile(filepath.Join("testdata", "plan.golden.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Contains(doc, golden) {
		t.Error("docs/drain-plan.md does not show testdata/plan.golden.txt: copy it into the example")
	}
}
