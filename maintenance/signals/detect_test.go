package signals

import (
	"fmt"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
)

// defaultNodes is the node configuration a guard normally asks for.
func defaultNodes() NodesConfig {
	return NodesConfig{
		Enabled:      true,
		Taints:       []string{TaintUnschedulable, TaintMedik8sDrain},
		IgnoreTaints: []string{TaintClusterAutoscalerDelete},
	}
}

func TestNodeCordoned(t *testing.T) {
	poolB := labels.SelectorFromSet(labels.Set{"pool": "b"})
	tests := []struct {
		name        string
		cfg         NodesConfig
		nodes       []corev1.Node
		wantDetail  string // "" means no signal
		wantObjects []string
	}{
		{
			name:  "disabled",
			cfg:   NodesConfig{Taints: []string{TaintUnschedulable}},
			nodes: []corev1.Node{node("node-a", cordoned)},
		},
		{
			name:  "no node cordoned",
			cfg:   defaultNodes(),
			nodes: []corev1.Node{node("node-a"), node("node-b", taint("dedicated"))},
		},
		{
			name:        "spec.unschedulable",
			cfg:         defaultNodes(),
			nodes:       []corev1.Node{node("node-a", cordoned), node("node-b")},
			wantDetail:  "1 node cordoned: node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name:        "drained node: cordon and its mirror taint",
			cfg:         defaultNodes(),
			nodes:       []corev1.Node{node("node-b", cordoned, taint(TaintUnschedulable)), node("node-a", cordoned, taint(TaintUnschedulable))},
			wantDetail:  "2 nodes cordoned: node-a, node-b",
			wantObjects: []string{"node-a", "node-b"},
		},
		{
			name:        "listed taint without cordon",
			cfg:         defaultNodes(),
			nodes:       []corev1.Node{node("node-a", taint(TaintMedik8sDrain))},
			wantDetail:  "1 node cordoned: node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name:  "taint not listed",
			cfg:   NodesConfig{Enabled: true},
			nodes: []corev1.Node{node("node-a", taint(TaintUnschedulable))},
		},
		{
			name:  "autoscaler scale-down with cordon is not maintenance",
			cfg:   defaultNodes(),
			nodes: []corev1.Node{node("node-a", cordoned, taint(TaintUnschedulable), taint(TaintClusterAutoscalerDelete))},
		},
		{
			name:  "autoscaler scale-down without cordon",
			cfg:   defaultNodes(),
			nodes: []corev1.Node{node("node-a", taint(TaintClusterAutoscalerDelete))},
		},
		{
			name:  "ignored taint also listed in taints",
			cfg:   NodesConfig{Enabled: true, Taints: []string{"example.com/drain"}, IgnoreTaints: []string{"example.com/drain"}},
			nodes: []corev1.Node{node("node-a", taint("example.com/drain"))},
		},
		{
			name:        "another listed taint on an autoscaler node still counts",
			cfg:         defaultNodes(),
			nodes:       []corev1.Node{node("node-a", cordoned, taint(TaintClusterAutoscalerDelete), taint(TaintMedik8sDrain))},
			wantDetail:  "1 node cordoned: node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name: "autoscaler node beside a drained node",
			cfg:  defaultNodes(),
			nodes: []corev1.Node{
				node("node-a", cordoned, taint(TaintUnschedulable), taint(TaintClusterAutoscalerDelete)),
				node("node-b", cordoned, taint(TaintUnschedulable)),
			},
			wantDetail:  "1 node cordoned: node-b",
			wantObjects: []string{"node-b"},
		},
		{
			name: "selector excludes",
			cfg:  NodesConfig{Enabled: true, Selector: poolB},
			nodes: []corev1.Node{
				node("node-a", cordoned, label("pool", "a")),
				node("node-c", cordoned),
			},
		},
		{
			name: "selector includes",
			cfg:  NodesConfig{Enabled: true, Selector: poolB},
			nodes: []corev1.Node{
				node("node-a", cordoned, label("pool", "a")),
				node("node-b", cordoned, label("pool", "b")),
			},
			wantDetail:  "1 node cordoned: node-b",
			wantObjects: []string{"node-b"},
		},
		{
			name:        "nil selector means every node",
			cfg:         NodesConfig{Enabled: true, Selector: nil},
			nodes:       []corev1.Node{node("node-a", cordoned, label("pool", "a"))},
			wantDetail:  "1 node cordoned: node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name: "long list is bounded",
			cfg:  defaultNodes(),
			nodes: func() []corev1.Node {
				var ns []corev1.Node
				for i := 7; i >= 1; i-- {
					ns = append(ns, node(fmt.Sprintf("node-%d", i), cordoned))
				}
				return ns
			}(),
			wantDetail:  "7 nodes cordoned: node-1, node-2, node-3, node-4, node-5 and 2 more",
			wantObjects: []string{"node-1", "node-2", "node-3", "node-4", "node-5", "node-6", "node-7"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			active, problems := Detect(Config{Nodes: tt.cfg}, Snapshot{Nodes: tt.nodes})
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			expectSignal(t, active, NodeCordoned, tt.wantDetail, tt.wantObjects)
		})
	}
}

func TestControlPlaneUpgrade(t *testing.T) {
	const (
		old = "registry.k8s.io/kube-apiserver:v1.35.4"
		new = "registry.k8s.io/kube-apiserver:v1.36.3"
	)
	tests := []struct {
		name        string
		nodes       []corev1.Node
		pods        []corev1.Pod
		wantDetail  string
		wantObjects []string
	}{
		{
			name:  "single control-plane node",
			nodes: []corev1.Node{node("cp-1", controlPlane("v1.36.3")), node("w-1", kubelet("v1.35.4"))},
			pods:  []corev1.Pod{apiServerPod("cp-1", new)},
		},
		{
			name:  "all equal",
			nodes: []corev1.Node{node("cp-1", controlPlane("v1.36.3")), node("cp-2", controlPlane("v1.36.3")), node("cp-3", controlPlane("v1.36.3"))},
			pods:  []corev1.Pod{apiServerPod("cp-1", new), apiServerPod("cp-2", new), apiServerPod("cp-3", new)},
		},
		{
			name:  "workers may differ",
			nodes: []corev1.Node{node("cp-1", controlPlane("v1.36.3")), node("w-1", kubelet("v1.35.4")), node("w-2", kubelet("v1.34.0"))},
		},
		{
			name:  "no version reported yet",
			nodes: []corev1.Node{node("cp-1", controlPlane("v1.36.3")), node("cp-2", controlPlane(""))},
		},
		{
			name:        "kubelet skew",
			nodes:       []corev1.Node{node("cp-3", controlPlane("v1.36.3")), node("cp-1", controlPlane("v1.35.4")), node("cp-2", controlPlane("v1.36.3")), node("w-1", kubelet("v1.34.1"))},
			wantDetail:  "kubelet versions differ across control-plane nodes: v1.35.4 (cp-1), v1.36.3 (cp-2, cp-3)",
			wantObjects: []string{"cp-1", "cp-2", "cp-3"},
		},
		{
			name:        "legacy master label",
			nodes:       []corev1.Node{node("m-1", label(LabelMaster, "true"), kubelet("v1.36.3+rke2r1")), node("m-2", label(LabelMaster, "true"), kubelet("v1.36.3+rke2r2"))},
			wantDetail:  "kubelet versions differ across control-plane nodes: v1.36.3+rke2r1 (m-1), v1.36.3+rke2r2 (m-2)",
			wantObjects: []string{"m-1", "m-2"},
		},
		{
			name:        "versions ordered semantically",
			nodes:       []corev1.Node{node("cp-a", controlPlane("v1.10.0")), node("cp-b", controlPlane("v1.9.11"))},
			wantDetail:  "kubelet versions differ across control-plane nodes: v1.9.11 (cp-b), v1.10.0 (cp-a)",
			wantObjects: []string{"cp-a", "cp-b"},
		},
		{
			name:        "static pod image skew",
			nodes:       []corev1.Node{node("cp-1", controlPlane("v1.35.4")), node("cp-2", controlPlane("v1.35.4"))},
			pods:        []corev1.Pod{apiServerPod("cp-2", new), apiServerPod("cp-1", old)},
			wantDetail:  "kube-apiserver images differ: v1.35.4 (cp-1), v1.36.3 (cp-2)",
			wantObjects: []string{"cp-1", "cp-2"},
		},
		{
			name: "same tag from another registry or pinned by digest is no skew",
			pods: []corev1.Pod{
				apiServerPod("cp-1", "registry.k8s.io/kube-apiserver:v1.36.3"),
				apiServerPod("cp-2", "mirror.example:5000/k8s/kube-apiserver:v1.36.3@sha256:0123"),
			},
		},
		{
			name: "pods not bound to a node are named by namespace/name",
			pods: func() []corev1.Pod {
				unbound := apiServerPod("cp-2", new)
				unbound.Spec.NodeName = ""
				return []corev1.Pod{apiServerPod("cp-1", old), unbound}
			}(),
			wantDetail:  "kube-apiserver images differ: v1.35.4 (cp-1), v1.36.3 (kube-system/kube-apiserver-cp-2)",
			wantObjects: []string{"cp-1"},
		},
		{
			name: "pods without the kube-apiserver container are ignored",
			pods: func() []corev1.Pod {
				odd := apiServerPod("cp-2", new)
				odd.Spec.Containers[0].Name = "sidecar"
				return []corev1.Pod{apiServerPod("cp-1", old), odd}
			}(),
		},
		{
			name:        "both kubelet and image skew",
			nodes:       []corev1.Node{node("cp-1", controlPlane("v1.35.4")), node("cp-2", controlPlane("v1.36.3"))},
			pods:        []corev1.Pod{apiServerPod("cp-1", old), apiServerPod("cp-2", new)},
			wantDetail:  "kubelet versions differ across control-plane nodes: v1.35.4 (cp-1), v1.36.3 (cp-2); kube-apiserver images differ: v1.35.4 (cp-1), v1.36.3 (cp-2)",
			wantObjects: []string{"cp-1", "cp-2"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := Snapshot{Nodes: tt.nodes, APIServerPods: tt.pods}
			if active, _ := Detect(Config{}, snap); len(active) > 0 {
				t.Fatalf("disabled: got %+v", active)
			}
			active, problems := Detect(Config{ControlPlane: ControlPlaneConfig{Enabled: true}}, snap)
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			expectSignal(t, active, ControlPlaneUpgrade, tt.wantDetail, tt.wantObjects)
		})
	}
}

func TestImageTag(t *testing.T) {
	for image, want := range map[string]string{
		"registry.k8s.io/kube-apiserver:v1.36.3":            "v1.36.3",
		"registry.k8s.io/kube-apiserver:v1.36.3@sha256:abc": "v1.36.3",
		"mirror.example:5000/kube-apiserver:v1.36.3":        "v1.36.3",
		"mirror.example:5000/kube-apiserver":                "mirror.example:5000/kube-apiserver",
		"mirror.example:5000/kube-apiserver@sha256:abc":     "sha256:abc",
		"kube-apiserver": "kube-apiserver",
		"registry.k8s.io/kube-apiserver-amd64:v1.36.3-rc.0+meta": "v1.36.3-rc.0+meta",
	} {
		if got := imageTag(image); got != want {
			t.Errorf("imageTag(%q) = %q, want %q", image, got, want)
		}
	}
}

func TestKuredReboot(t *testing.T) {
	now := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	tests := []struct {
		name         string
		cfg          KuredConfig
		ds           string // lock annotation; "-" none; "absent" no DaemonSet
		nodes        []corev1.Node
		wantDetail   string
		wantObjects  []string
		wantProblems int
	}{
		{name: "no DaemonSet", ds: "absent"},
		{name: "no annotation", ds: "-"},
		{name: "empty annotation", ds: ""},
		{name: "null", ds: "null"},
		{name: "empty object", ds: "{}"},
		{name: "released lock", ds: `{"nodeID":"","metadata":{"unschedulable":false},"created":"2026-03-01T11:00:00Z","TTL":0}`},
		{
			name:        "single lock held",
			ds:          `{"nodeID":"node-a","metadata":{"unschedulable":false},"created":"2026-03-01T11:00:00Z","TTL":0}`,
			wantDetail:  "kured reboot lock on kube-system/kured held by node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name:        "old kured without created or TTL",
			ds:          `{"nodeID":"node-a","metadata":{"unschedulable":true}}`,
			wantDetail:  "kured reboot lock on kube-system/kured held by node-a",
			wantObjects: []string{"node-a"},
		},
		{
			name:        "TTL not yet expired",
			ds:          fmt.Sprintf(`{"nodeID":"node-a","created":"2026-03-01T11:30:00Z","TTL":%d}`, int64(time.Hour)),
			wantDetail:  "kured reboot lock on kube-system/kured held by node-a",
			wantObjects: []string{"node-a"},
		},
		{name: "TTL expired", ds: fmt.Sprintf(`{"nodeID":"node-a","created":"2026-03-01T10:00:00Z","TTL":%d}`, int64(time.Hour))},
		{
			name:        "multi-owner lock",
			ds:          fmt.Sprintf(`{"maxOwners":3,"locks":[{"nodeID":"node-c","created":"2026-03-01T11:00:00Z","TTL":0},{"nodeID":"node-a","created":"2026-03-01T11:00:00Z","TTL":0},{"nodeID":"node-b","created":"2026-03-01T10:00:00Z","TTL":%d}]}`, int64(time.Hour)),
			wantDetail:  "kured reboot lock on kube-system/kured held by node-a, node-c",
			wantObjects: []string{"node-a", "node-c"},
		},
		{name: "multi-owner lock, all released", ds: `{"maxOwners":2,"locks":[]}`},
		{name: "multi-owner lock, never used", ds: `{"maxOwners":2,"locks":null}`},
		{
			name:         "malformed JSON is held",
			ds:           `{"nodeID":"node-a"`,
			wantDetail:   "kured lock annotation weave.works/kured-node-lock on DaemonSet kube-system/kured is unreadable (unexpected EOF); treated as held",
			wantProblems: 1,
		},
		{
			name:         "wrong type is held",
			ds:           `"node-a"`,
			wantDetail:   "kured lock annotation weave.works/kured-node-lock on DaemonSet kube-system/kured is unreadable (json: cannot unmarshal string into Go value of type signals.kuredLock); treated as held",
			wantProblems: 1,
		},
		{
			name:         "trailing data is held",
			ds:           `{"nodeID":""} {"nodeID":"node-a"}`,
			wantDetail:   "kured lock annotation weave.works/kured-node-lock on DaemonSet kube-system/kured is unreadable (unexpected data after the JSON value); treated as held",
			wantProblems: 1,
		},
		{
			name:        "reboot-in-progress node annotation",
			ds:          "absent",
			nodes:       []corev1.Node{node("node-b", annotate(AnnotationKuredRebootInProgress, "2026-03-01T11:58:00Z")), node("node-a")},
			wantDetail:  "kured rebooting node-b",
			wantObjects: []string{"node-b"},
		},
		{
			name:        "lock and annotation",
			cfg:         KuredConfig{Namespace: "kured", DaemonSet: "kured-ds"},
			ds:          `{"nodeID":"node-a"}`,
			nodes:       []corev1.Node{node("node-a", annotate(AnnotationKuredRebootInProgress, "x"))},
			wantDetail:  "kured reboot lock on kured/kured-ds held by node-a; kured rebooting node-a",
			wantObjects: []string{"node-a"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := Snapshot{Nodes: tt.nodes, Now: now}
			if tt.ds != "absent" {
				snap.KuredDaemonSet = kuredDS(tt.ds)
				if tt.cfg.Namespace != "" {
					snap.KuredDaemonSet.Namespace, snap.KuredDaemonSet.Name = tt.cfg.Namespace, tt.cfg.DaemonSet
				}
			}
			if active, _ := Detect(Config{Kured: tt.cfg}, snap); len(active) > 0 {
				t.Fatalf("disabled: got %+v", active)
			}
			cfg := tt.cfg
			cfg.Enabled = true
			active, problems := Detect(Config{Kured: cfg}, snap)
			if len(problems) != tt.wantProblems {
				t.Errorf("problems: %q, want %d", problems, tt.wantProblems)
			}
			sig, found := expectSignal(t, active, KuredReboot, tt.wantDetail, tt.wantObjects)
			if found && tt.wantProblems > 0 && problems[0] != sig.Detail {
				t.Errorf("problem %q should read like the detail", problems[0])
			}
		})
	}
}

func TestSystemUpgrade(t *testing.T) {
	plan := func(name string) unstructured.Unstructured { return fixture(t, "plans.yaml", name) }
	tests := []struct {
		name         string
		plans        []unstructured.Unstructured
		wantDetail   string
		wantObjects  []string
		wantProblems []string
	}{
		{name: "CRD absent", plans: nil},
		{name: "finished and new plans", plans: []unstructured.Unstructured{plan("done"), plan("new")}},
		{
			name:        "one plan applying",
			plans:       []unstructured.Unstructured{plan("done"), plan("k3s-server")},
			wantDetail:  "1 upgrade plan applying: system-upgrade/k3s-server (cp-1, cp-2)",
			wantObjects: []string{"cp-1", "cp-2"},
		},
		{
			name:        "two plans applying",
			plans:       []unstructured.Unstructured{plan("k3s-server"), plan("k3s-agent"), plan("new")},
			wantDetail:  "2 upgrade plans applying: system-upgrade/k3s-agent (worker-1), system-upgrade/k3s-server (cp-1, cp-2)",
			wantObjects: []string{"cp-1", "cp-2", "worker-1"},
		},
		{
			name:         "a single name instead of a list",
			plans:        []unstructured.Unstructured{planWithApplying("str", "cp-9")},
			wantDetail:   "1 upgrade plan applying: system-upgrade/str (cp-9)",
			wantObjects:  []string{"cp-9"},
			wantProblems: []string{"Plan system-upgrade/str: status.applying is a string, not a list; treated as applying"},
		},
		{
			name:         "a list without names",
			plans:        []unstructured.Unstructured{planWithApplying("nils", []any{nil})},
			wantDetail:   "1 upgrade plan applying: system-upgrade/nils",
			wantProblems: []string{"Plan system-upgrade/nils: status.applying has no node names; treated as applying"},
		},
		{
			name:        "non-string names",
			plans:       []unstructured.Unstructured{planWithApplying("num", []any{int64(7), "cp-1", "cp-1"})},
			wantDetail:  "1 upgrade plan applying: system-upgrade/num (7, cp-1)",
			wantObjects: []string{"7", "cp-1"},
		},
		{name: "empty string", plans: []unstructured.Unstructured{planWithApplying("empty", "")}},
		{name: "null", plans: []unstructured.Unstructured{planWithApplying("null", nil)}},
		{
			name:         "unreadable status.applying counts as applying",
			plans:        []unstructured.Unstructured{plan("odd")},
			wantDetail:   "1 upgrade plan applying: system-upgrade/odd",
			wantProblems: []string{"Plan system-upgrade/odd: status.applying is a map[string]interface {}, not a list; treated as applying"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := Snapshot{Plans: tt.plans}
			if active, _ := Detect(Config{}, snap); len(active) > 0 {
				t.Fatalf("disabled: got %+v", active)
			}
			active, problems := Detect(Config{SystemUpgrade: SystemUpgradeConfig{Enabled: true}}, snap)
			assertEqual(t, "problems", problems, tt.wantProblems)
			expectSignal(t, active, SystemUpgrade, tt.wantDetail, tt.wantObjects)
		})
	}
}

func planWithApplying(name string, applying any) unstructured.Unstructured {
	u := unstructured.Unstructured{Object: map[string]any{"status": map[string]any{"applying": applying}}}
	u.SetGroupVersionKind(PlanGVK)
	u.SetNamespace("system-upgrade")
	u.SetName(name)
	return u
}

func TestNodeMaintenance(t *testing.T) {
	nm := func(name string) unstructured.Unstructured { return fixture(t, "nodemaintenances.yaml", name) }
	noNode := nm("nm-succeeded")
	unstructured.RemoveNestedField(noNode.Object, "spec", "nodeName")
	tests := []struct {
		name        string
		nms         []unstructured.Unstructured
		wantDetail  string
		wantObjects []string
	}{
		{name: "CRD absent"},
		{name: "failed and unreconciled", nms: []unstructured.Unstructured{nm("nm-failed"), nm("nm-new")}},
		{
			name:        "running, with its reason on one line",
			nms:         []unstructured.Unstructured{nm("nm-failed"), nm("nm-running")},
			wantDetail:  `1 NodeMaintenance active: worker-1 (Running: "replace DIMM in slot 3")`,
			wantObjects: []string{"worker-1"},
		},
		{
			name:        "succeeded: drained and still in maintenance",
			nms:         []unstructured.Unstructured{nm("nm-succeeded"), nm("nm-running")},
			wantDetail:  `2 NodeMaintenances active: worker-1 (Running: "replace DIMM in slot 3"), worker-2 (Succeeded)`,
			wantObjects: []string{"worker-1", "worker-2"},
		},
		{
			name:       "no node name",
			nms:        []unstructured.Unstructured{noNode},
			wantDetail: `1 NodeMaintenance active: NodeMaintenance nm-succeeded (Succeeded)`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := Snapshot{NodeMaintenances: tt.nms}
			if active, _ := Detect(Config{}, snap); len(active) > 0 {
				t.Fatalf("disabled: got %+v", active)
			}
			active, problems := Detect(Config{NodeMaintenance: NodeMaintenanceConfig{Enabled: true}}, snap)
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			expectSignal(t, active, NodeMaintenance, tt.wantDetail, tt.wantObjects)
		})
	}
}

func TestManual(t *testing.T) {
	long := strings.Repeat("x", 200)
	tests := []struct {
		name        string
		guard       map[string]string
		nodes       []corev1.Node
		wantDetail  string
		wantObjects []string
	}{
		{name: "nothing", guard: map[string]string{"other": "x"}, nodes: []corev1.Node{node("node-a")}},
		{name: "blank values", guard: map[string]string{AnnotationManual: "  "}, nodes: []corev1.Node{node("node-a", annotate(AnnotationManual, ""))}},
		{
			name:       "on the guard",
			guard:      map[string]string{AnnotationManual: "database migration CHG-1234"},
			wantDetail: `maintenance declared on the guard: "database migration CHG-1234"`,
		},
		{
			name:       "any non-empty value counts",
			guard:      map[string]string{AnnotationManual: "false"},
			wantDetail: `maintenance declared on the guard: "false"`,
		},
		{
			name:        "on nodes, whatever the selector",
			nodes:       []corev1.Node{node("node-b", annotate(AnnotationManual, "PSU swap")), node("node-a", label("pool", "other"), annotate(AnnotationManual, "disk\n\treplacement")), node("node-c")},
			wantDetail:  `maintenance declared on 2 nodes: node-a ("disk replacement"), node-b ("PSU swap")`,
			wantObjects: []string{"node-a", "node-b"},
		},
		{
			name:        "guard and node",
			guard:       map[string]string{AnnotationManual: "freeze"},
			nodes:       []corev1.Node{node("node-a", annotate(AnnotationManual, "yes"))},
			wantDetail:  `maintenance declared on the guard: "freeze"; on 1 node: node-a ("yes")`,
			wantObjects: []string{"node-a"},
		},
		{
			name:       "invisible formatting characters are dropped",
			guard:      map[string]string{AnnotationManual: "db\u202e migration\u200b"},
			wantDetail: `maintenance declared on the guard: "db migration"`,
		},
		{
			name:       "long reason is bounded",
			guard:      map[string]string{AnnotationManual: long},
			wantDetail: `maintenance declared on the guard: "` + strings.Repeat("x", maxReason-len("…")) + `…"`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			snap := Snapshot{Nodes: tt.nodes}
			cfg := Config{Manual: ManualConfig{GuardAnnotations: tt.guard}, Nodes: NodesConfig{Selector: labels.SelectorFromSet(labels.Set{"pool": "b"})}}
			if active, _ := Detect(cfg, snap); len(active) > 0 {
				t.Fatalf("disabled: got %+v", active)
			}
			cfg.Manual.Enabled = true
			active, problems := Detect(cfg, snap)
			if len(problems) > 0 {
				t.Errorf("problems: %v", problems)
			}
			expectSignal(t, active, Manual, tt.wantDetail, tt.wantObjects)
		})
	}
}

// everything is a snapshot in which every signal is active, and a config
// that enables them all.
func everything(t *testing.T) (Config, Snapshot) {
	cfg := Config{
		Nodes:           defaultNodes(),
		ControlPlane:    ControlPlaneConfig{Enabled: true},
		Kured:           KuredConfig{Enabled: true},
		SystemUpgrade:   SystemUpgradeConfig{Enabled: true},
		NodeMaintenance: NodeMaintenanceConfig{Enabled: true},
		Manual:          ManualConfig{Enabled: true, GuardAnnotations: map[string]string{AnnotationManual: "by hand"}},
		Windows: []Window{
			{Name: "always", Schedule: "* * * * *", Duration: time.Hour},
			{Name: "broken", Schedule: "61 * * * *", Duration: time.Hour},
		},
	}
	snap := Snapshot{
		Nodes: []corev1.Node{
			node("cp-1", controlPlane("v1.35.4")),
			node("cp-2", controlPlane("v1.36.3"), cordoned),
		},
		KuredDaemonSet:   kuredDS(`{"nodeID":"cp-2"}`),
		Plans:            []unstructured.Unstructured{fixture(t, "plans.yaml", "k3s-server")},
		NodeMaintenances: []unstructured.Unstructured{fixture(t, "nodemaintenances.yaml", "nm-running")},
		Now:              time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC),
	}
	return cfg, snap
}

func TestDetectAll(t *testing.T) {
	cfg, snap := everything(t)
	active, problems := Detect(cfg, snap)
	var types []Type
	for _, s := range active {
		types = append(types, s.Type)
		if s.Detail == "" || len(s.Detail) > maxDetail {
			t.Errorf("%s: detail %q", s.Type, s.Detail)
		}
	}
	assertEqual(t, "types", types, []Type{ControlPlaneUpgrade, FreezeWindow, KuredReboot, Manual, NodeCordoned, NodeMaintenance, SystemUpgrade})
	assertEqual(t, "problems", problems, []string{
		`window "broken": invalid schedule "61 * * * *": end of range (61) above maximum (59): 61; treated as closed for deploys`,
	})

	// Deterministic whatever the input order.
	for i, j := 0, len(snap.Nodes)-1; i < j; i, j = i+1, j-1 {
		snap.Nodes[i], snap.Nodes[j] = snap.Nodes[j], snap.Nodes[i]
	}
	cfg.Windows[0], cfg.Windows[1] = cfg.Windows[1], cfg.Windows[0]
	again, againProblems := Detect(cfg, snap)
	assertEqual(t, "signals after reordering", again, active)
	assertEqual(t, "problems after reordering", againProblems, problems)

	if active, problems := Detect(Config{}, snap); active != nil || problems != nil {
		t.Errorf("nothing enabled: %+v %v", active, problems)
	}
}

func TestDetailIsBounded(t *testing.T) {
	var nodes []corev1.Node
	for i := 0; i < 50; i++ {
		name := fmt.Sprintf("%s-%02d", strings.Repeat("very-long-node-name", 3), i)
		nodes = append(nodes,
			node(name, cordoned, controlPlane(fmt.Sprintf("v1.%d.0", i)), annotate(AnnotationManual, strings.Repeat("ü", 100))))
	}
	cfg := Config{
		Nodes:        defaultNodes(),
		ControlPlane: ControlPlaneConfig{Enabled: true},
		Manual:       ManualConfig{Enabled: true, GuardAnnotations: map[string]string{AnnotationManual: strings.Repeat("reason ", 100)}},
	}
	active, _ := Detect(cfg, Snapshot{Nodes: nodes})
	if len(active) != 3 {
		t.Fatalf("got %d signals", len(active))
	}
	for _, s := range active {
		if len(s.Detail) > maxDetail || !strings.HasSuffix(s.Detail, "…") {
			t.Errorf("%s: detail of %d bytes: %q", s.Type, len(s.Detail), s.Detail)
		}
		if !utf8Valid(s.Detail) {
			t.Errorf("%s: detail cut inside a rune", s.Type)
		}
		if len(s.Objects) != 50 {
			t.Errorf("%s: %d objects", s.Type, len(s.Objects))
		}
	}
}

func utf8Valid(s string) bool { return utf8.ValidString(s) }

func TestNameListAndBound(t *testing.T) {
	assertEqual(t, "empty", nameList(nil), "")
	assertEqual(t, "dedup", nameList([]string{"b", "a", "b", ""}), "a, b")
	assertEqual(t, "five", nameList([]string{"e", "d", "c", "b", "a"}), "a, b, c, d, e")
	assertEqual(t, "six", nameList([]string{"f", "e", "d", "c", "b", "a"}), "a, b, c, d, e and 1 more")
	assertEqual(t, "short", bound("abc", 3), "abc")
	assertEqual(t, "cut", bound("abcdef", 5), "ab…")
	assertEqual(t, "rune", bound("aüüü", 5), "a…")
	assertEqual(t, "tiny", bound("abcdef", 1), "…")
}
