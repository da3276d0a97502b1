package signals_test

import (
	"fmt"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/fluxgate/fluxgate/maintenance/signals"
)

// A controller maps its guard onto a Config, loads a Snapshot (here built
// by hand), detects, and requeues at the next window transition.
func ExampleDetect() {
	cfg := signals.Config{
		Nodes: signals.NodesConfig{
			Enabled:      true,
			Taints:       []string{signals.TaintUnschedulable},
			IgnoreTaints: []string{signals.TaintClusterAutoscalerDelete},
		},
		Windows: []signals.Window{
			{Name: "weekend", Schedule: "0 0 * * SAT", TimeZone: "Europe/Berlin", Duration: 48 * time.Hour},
			{Name: "typo", Schedule: "0 25 * * *", Duration: time.Hour},
		},
	}
	now := time.Date(2026, 3, 4, 12, 0, 0, 0, time.UTC) // a Wednesday
	snap := signals.Snapshot{
		Nodes: []corev1.Node{
			{ObjectMeta: metav1.ObjectMeta{Name: "node-b"}, Spec: corev1.NodeSpec{Unschedulable: true}},
			{ObjectMeta: metav1.ObjectMeta{Name: "node-a"}, Spec: corev1.NodeSpec{Unschedulable: true}},
			{ // cluster-autoscaler scale-down: not maintenance
				ObjectMeta: metav1.ObjectMeta{Name: "node-c"},
				Spec: corev1.NodeSpec{Unschedulable: true, Taints: []corev1.Taint{
					{Key: signals.TaintClusterAutoscalerDelete, Effect: corev1.TaintEffectNoSchedule},
				}},
			},
		},
		Now: now,
	}

	active, problems := signals.Detect(cfg, snap)
	for _, s := range active {
		fmt.Printf("%s: %s %v\n", s.Type, s.Detail, s.Objects)
	}
	for _, p := range problems {
		fmt.Println("problem:", p)
	}
	fmt.Println("requeue at", signals.NextTransition(cfg, now).UTC())
	// Output:
	// FreezeWindow: window "typo": invalid schedule "0 25 * * *": end of range (25) above maximum (23): 25; treated as closed for deploys [typo]
	// NodeCordoned: 2 nodes cordoned: node-a, node-b [node-a node-b]
	// problem: window "typo": invalid schedule "0 25 * * *": end of range (25) above maximum (23): 25; treated as closed for deploys
	// requeue at 2026-03-06 23:00:00 +0000 UTC
}
