package check

import (
	"context"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"testing"

	jsonpatch "github.com/evanphx/json-patch/v5"
	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	policyv1 "k8s.io/api/policy/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
	"sigs.k8s.io/yaml"

	"github.com/fluxgate/fluxgate/manifest"
	"github.com/fluxgate/fluxgate/policy"
)

// adviceBase is a compliant namespace: a Deployment behind a Service, a
// StatefulSet with a claim per pod (volumeClaimTemplates), two DaemonSets
// (one on the host network) and a budget per workload. Each case below
// breaks it in one way.
const adviceBase = `
apiVersion: apps/v1
kind: Deployment
metadata: {name: web, namespace: shop}
spec:
  replicas: 3
  selector: {matchLabels: {app: web}}
  strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: web, tier: front}}
    spec:
      containers:
        - name: web
          image: web:1
          readinessProbe: {tcpSocket: {port: 80}}
          lifecycle: {preStop: {sleep: {seconds: 5}}}
---
apiVersion: v1
kind: Service
metadata: {name: web, namespace: shop}
spec: {selector: {app: web}, ports: [{port: 80}]}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: web, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: web}}, unhealthyPodEvictionPolicy: AlwaysAllow}
---
apiVersion: apps/v1
kind: StatefulSet
metadata: {name: db, namespace: shop}
spec:
  replicas: 3
  serviceName: db
  selector: {matchLabels: {app: db}}
  template:
    metadata: {labels: {app: db}}
    spec:
      containers:
        - name: db
          image: db:1
          readinessProbe: {tcpSocket: {port: 5432}}
          lifecycle: {preStop: {sleep: {seconds: 5}}}
          volumeMounts: [{name: data, mountPath: /var/lib/db}]
  volumeClaimTemplates:
    - metadata: {name: data}
      spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata: {name: db, namespace: shop}
spec: {maxUnavailable: 1, selector: {matchLabels: {app: db}}, unhealthyPodEvictionPolicy: AlwaysAllow}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: agent, namespace: shop}
spec:
  selector: {matchLabels: {app: agent}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}
  template:
    metadata: {labels: {app: agent}}
    spec:
      containers:
        - name: agent
          image: agent:1
          readinessProbe: {tcpSocket: {port: 8080}}
          lifecycle: {preStop: {sleep: {seconds: 5}}}
---
apiVersion: apps/v1
kind: DaemonSet
metadata: {name: cni, namespace: shop}
spec:
  selector: {matchLabels: {app: cni}}
  updateStrategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}
  template:
    metadata: {labels: {app: cni}}
    spec:
      hostNetwork: true
      containers:
        - name: cni
          image: cni:1
          readinessProbe: {exec: {command: ["true"]}}
          lifecycle: {preStop: {sleep: {seconds: 5}}}
`

// webStatefulSet is the web Deployment run as a StatefulSet with a claim
// per pod, the way out for pods that cannot share one claim.
func webStatefulSet(replicas int) string {
	return fmt.Sprintf(`{apiVersion: apps/v1, kind: StatefulSet, metadata: {name: web, namespace: shop}, spec: {replicas: %d, serviceName: web, selector: {matchLabels: {app: web}}, template: {metadata: {labels: {app: web, tier: front}}, spec: {containers: [{name: web, image: web:1, readinessProbe: {tcpSocket: {port: 80}}, lifecycle: {preStop: {sleep: {seconds: 5}}}, volumeMounts: [{name: data, mountPath: /data}]}]}}, volumeClaimTemplates: [{metadata: {name: data}, spec: {accessModes: [ReadWriteOnce], resources: {requests: {storage: 1Gi}}}}]}}`, replicas)
}

// readWriteManyClaim is the claim the web Deployment mounts, declared
// ReadWriteMany, as a manifest beside it tells fluxgate.
const readWriteManyClaim = `{apiVersion: v1, kind: PersistentVolumeClaim, metadata: {name: web-data, namespace: shop}, spec: {accessModes: [ReadWriteMany], resources: {requests: {storage: 1Gi}}}}`

// container is the web container with changes merged in.
func container(extra string) string {
	return `{spec: {template: {spec: {containers: [{name: web, image: web:1, readinessProbe: {tcpSocket: {port: 80}}, lifecycle: {preStop: {sleep: {seconds: 5}}}` + extra + `}]}}}}`
}

// An edit is a JSON merge patch (written as YAML) of the object named
// "Kind/name" in the namespace; "null" deletes the object and a name not
// yet present creates it from the patch.
type edit struct {
	target, patch string
}

// Every message that tells a user what to write is followed here, as a
// user would, and the result checked again: the finding is gone, nothing
// is denied, no object gains a warning it did not have, and the objects
// still roll out and drain (checked in Go, independently of the policies:
// a rolling update that can make progress, one budget per pod, and at
// least one disruption allowed by every budget). change-freeze's advice
// (an exemption for an emergency change) needs an active maintenance,
// which `fluxgate check` never sees: policy's TestChangeFreezeSeesMaintenance
// follows it.
func TestAdviceThatWorks(t *testing.T) {
	tests := []struct {
		name   string
		defect []edit
		// policy and advice identify the finding: its policy and a part of
		// its message that says what to write.
		policy, advice string
		fix            []edit
	}{
		{
			name:   "Recreate",
			defect: []edit{{"Deployment/web", `{spec: {strategy: {type: Recreate, rollingUpdate: null}}}`}},
			policy: "rollout-strategy", advice: "use type: RollingUpdate with rollingUpdate.maxSurge: 25% and rollingUpdate.maxUnavailable: 0",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}}}`}},
		},
		{
			name:   "Deployment maxUnavailable",
			defect: []edit{{"Deployment/web", `{spec: {strategy: {rollingUpdate: {maxUnavailable: 2}}}}`}},
			policy: "rollout-strategy", advice: "set it to 0 so no ready pod is removed",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {rollingUpdate: {maxUnavailable: 0}}}}`}},
		},
		{
			name:   "Deployment cannot progress",
			defect: []edit{{"Deployment/web", `{spec: {strategy: {rollingUpdate: {maxSurge: 0}}}}`}},
			policy: "rollout-strategy", advice: "set maxSurge: 25%",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {rollingUpdate: {maxSurge: 25%}}}}`}},
		},
		{
			name:   "Recreate with a volume claim, when the claim is ReadWriteMany",
			defect: []edit{{"Deployment/web", `{spec: {strategy: {type: Recreate, rollingUpdate: null}, template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "rollout-strategy", advice: "If the claim is ReadWriteMany, use type: RollingUpdate with maxSurge: 25% and maxUnavailable: 0",
			fix: []edit{
				{"Deployment/web", `{spec: {strategy: {type: RollingUpdate, rollingUpdate: {maxSurge: 25%, maxUnavailable: 0}}}}`},
				{"PersistentVolumeClaim/web-data", readWriteManyClaim},
			},
		},
		{
			name:   "Recreate with a volume claim, as a StatefulSet instead",
			defect: []edit{{"Deployment/web", `{spec: {strategy: {type: Recreate, rollingUpdate: null}, template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "rollout-strategy", advice: "to run more than one replica without downtime, use a StatefulSet with volumeClaimTemplates",
			fix: []edit{{"Deployment/web", `null`}, {"StatefulSet/web", webStatefulSet(3)}},
		},
		{
			name:   "surge with a volume claim, stop then start",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "rollout-strategy", advice: "Set maxSurge: 0 and maxUnavailable: 1",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}}}`}},
		},
		{
			name:   "surge with a volume claim that is ReadWriteMany",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "rollout-strategy", advice: "if the claim is ReadWriteMany, keep the surge",
			fix: []edit{{"PersistentVolumeClaim/web-data", readWriteManyClaim}},
		},
		{
			name:   "surge with a volume claim, Recreate",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "rollout-strategy", advice: "or type: Recreate, so that the old pod releases the claim first",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {type: Recreate, rollingUpdate: null}}}`}},
		},
		{
			name:   "StatefulSet maxUnavailable, set to 1",
			defect: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 3}}}}`}},
			policy: "rollout-strategy", advice: "remove it or set it to 1",
			fix: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {rollingUpdate: {maxUnavailable: 1}}}}`}},
		},
		{
			name:   "StatefulSet maxUnavailable, removed",
			defect: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {type: RollingUpdate, rollingUpdate: {maxUnavailable: 3}}}}`}},
			policy: "rollout-strategy", advice: "remove it or set it to 1",
			fix: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {rollingUpdate: {maxUnavailable: null}}}}`}},
		},
		{
			name:   "StatefulSet OnDelete",
			defect: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {type: OnDelete}}}`}},
			policy: "rollout-strategy", advice: "use RollingUpdate",
			fix: []edit{{"StatefulSet/db", `{spec: {updateStrategy: {type: RollingUpdate}}}`}},
		},
		{
			name:   "DaemonSet OnDelete",
			defect: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {type: OnDelete, rollingUpdate: null}}}`}},
			policy: "rollout-strategy", advice: "use RollingUpdate",
			fix: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {type: RollingUpdate}}}`}},
		},
		{
			name:   "DaemonSet without surge",
			defect: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 2}}}}`}},
			policy: "rollout-strategy", advice: "set it to 0 with maxSurge: 1",
			fix: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}}}`}},
		},
		{
			name:   "DaemonSet cannot progress",
			defect: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}}}`}},
			policy: "rollout-strategy", advice: "set maxSurge: 1",
			fix: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 1}}}}`}},
		},
		{
			name:   "host-network DaemonSet surging",
			defect: []edit{{"DaemonSet/cni", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 1, maxUnavailable: 0}}}}`}},
			policy: "rollout-strategy", advice: "set maxSurge: 0 and maxUnavailable: 1 (or more)",
			fix: []edit{{"DaemonSet/cni", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}}}`}},
		},
		{
			name:   "host-port DaemonSet surging",
			defect: []edit{{"DaemonSet/agent", `{spec: {template: {spec: {containers: [{name: agent, image: agent:1, ports: [{containerPort: 9100, hostPort: 9100}], readinessProbe: {tcpSocket: {port: 9100}}, lifecycle: {preStop: {sleep: {seconds: 5}}}}]}}}}`}},
			policy: "rollout-strategy", advice: "uses hostPort 9100: a surge pod cannot start beside the old one on the same node, and the rollout stalls; set maxSurge: 0 and maxUnavailable: 1 (or more)",
			fix: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 1}}}}`}},
		},
		{
			name:   "host-port DaemonSet cannot progress",
			defect: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxSurge: 0, maxUnavailable: 0}}, template: {spec: {containers: [{name: agent, image: agent:1, ports: [{containerPort: 9100, hostPort: 9100}], readinessProbe: {tcpSocket: {port: 9100}}, lifecycle: {preStop: {sleep: {seconds: 5}}}}]}}}}`}},
			policy: "rollout-strategy", advice: "set maxUnavailable: 1 (or more)",
			fix: []edit{{"DaemonSet/agent", `{spec: {updateStrategy: {rollingUpdate: {maxUnavailable: 1}}}}`}},
		},
		{
			name:   "no readiness probe",
			defect: []edit{{"Deployment/web", container(`, readinessProbe: null`)}},
			policy: "readiness-probe", advice: "add one (httpGet, tcpSocket, grpc or exec)",
			fix: []edit{{"Deployment/web", container(`, readinessProbe: {httpGet: {path: /ready, port: 80}}`)}},
		},
		{
			name:   "no readiness probe on a pod no Service selects",
			defect: []edit{{"StatefulSet/db", `{spec: {template: {spec: {containers: [{name: db, image: db:1, lifecycle: {preStop: {sleep: {seconds: 5}}}, volumeMounts: [{name: data, mountPath: /var/lib/db}]}]}}}}`}},
			policy: "readiness-probe", advice: "so the rollout only proceeds once it is ready",
			fix: []edit{{"StatefulSet/db", `{spec: {template: {spec: {containers: [{name: db, image: db:1, readinessProbe: {tcpSocket: {port: 5432}}, lifecycle: {preStop: {sleep: {seconds: 5}}}, volumeMounts: [{name: data, mountPath: /var/lib/db}]}]}}}}`}},
		},
		{
			name:   "no preStop hook and a short grace period",
			defect: []edit{{"Deployment/web", container(`, lifecycle: null`)}, {"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 3}}}}`}},
			policy: "graceful-shutdown", advice: "and raise spec.template.spec.terminationGracePeriodSeconds (now 3) above 5",
			fix: []edit{{"Deployment/web", container(``)}, {"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 10}}}}`}},
		},
		{
			name:   "native sidecar without readiness probe",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {initContainers: [{name: proxy, image: proxy:1, restartPolicy: Always}]}}}}`}},
			policy: "readiness-probe", advice: "add one (httpGet, tcpSocket, grpc or exec) so the pod is only marked ready once the sidecar can serve",
			fix: []edit{{"Deployment/web", `{spec: {template: {spec: {initContainers: [{name: proxy, image: proxy:1, restartPolicy: Always, readinessProbe: {tcpSocket: {port: 15001}}}]}}}}`}},
		},
		{
			name:   "budget with maxUnavailable 0",
			defect: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: 0}}`}},
			policy: "pdb-drain-safe", advice: "set spec.maxUnavailable: 1 instead",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: 1}}`}},
		},
		{
			name:   "budget with minAvailable 100%",
			defect: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: null, minAvailable: 100%}}`}},
			policy: "pdb-drain-safe", advice: "set spec.maxUnavailable: 1 instead",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {minAvailable: null, maxUnavailable: 1}}`}},
		},
		{
			name:   "budget allowing no disruption",
			defect: []edit{{"PodDisruptionBudget/db", `{spec: {maxUnavailable: null, minAvailable: 3}}`}},
			policy: "pdb-drain-safe", advice: "set spec.maxUnavailable: 1 instead",
			fix: []edit{{"PodDisruptionBudget/db", `{spec: {minAvailable: null, maxUnavailable: 1}}`}},
		},
		{
			name:   "scale-down under a budget that then allows no disruption",
			defect: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: null, minAvailable: 2}}`}, {"Deployment/web", `{spec: {replicas: 2}}`}},
			policy: "pdb-drain-safe", advice: "set spec.maxUnavailable: 1 on the budget instead",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {minAvailable: null, maxUnavailable: 1}}`}},
		},
		{
			name:   "budget letting too many go, maxUnavailable lowered",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 10}}`}, {"PodDisruptionBudget/web", `{spec: {maxUnavailable: 50%}}`}},
			policy: "pdb-drain-safe", advice: "set spec.maxUnavailable: 2 or lower",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: 2}}`}},
		},
		{
			name:   "budget letting too many go, minAvailable instead",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 10}}`}, {"PodDisruptionBudget/web", `{spec: {maxUnavailable: 50%}}`}},
			policy: "pdb-drain-safe", advice: "or spec.minAvailable: 8 or higher",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {maxUnavailable: null, minAvailable: 8}}`}},
		},
		{
			name:   "budget without AlwaysAllow",
			defect: []edit{{"PodDisruptionBudget/web", `{spec: {unhealthyPodEvictionPolicy: null}}`}},
			policy: "pdb-drain-safe", advice: "set spec.unhealthyPodEvictionPolicy: AlwaysAllow",
			fix: []edit{{"PodDisruptionBudget/web", `{spec: {unhealthyPodEvictionPolicy: AlwaysAllow}}`}},
		},
		{
			name:   "overlapping budgets, extra one deleted",
			defect: []edit{{"PodDisruptionBudget/front", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: front, namespace: shop}, spec: {maxUnavailable: 1, selector: {matchLabels: {tier: front}}, unhealthyPodEvictionPolicy: AlwaysAllow}}`}},
			policy: "pdb-drain-safe", advice: "delete the extra budget or narrow its selector",
			fix: []edit{{"PodDisruptionBudget/front", `null`}},
		},
		{
			name:   "overlapping budgets, selector narrowed",
			defect: []edit{{"PodDisruptionBudget/front", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: front, namespace: shop}, spec: {maxUnavailable: 1, selector: {matchLabels: {tier: front}}, unhealthyPodEvictionPolicy: AlwaysAllow}}`}},
			policy: "pdb-drain-safe", advice: "delete the extra budget or narrow its selector",
			fix: []edit{{"PodDisruptionBudget/front", `{spec: {selector: {matchLabels: {tier: front, app: gateway}}}}`}},
		},
		{
			name:   "no budget",
			defect: []edit{{"PodDisruptionBudget/web", `null`}},
			policy: "pdb-coverage", advice: "add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow",
			fix: []edit{{"PodDisruptionBudget/web", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: web, namespace: shop}, spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: web}}}}`}},
		},
		{
			name:   "StatefulSet without a budget",
			defect: []edit{{"PodDisruptionBudget/db", `null`}},
			policy: "pdb-coverage", advice: "add one with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow",
			fix: []edit{{"PodDisruptionBudget/db", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: db, namespace: shop}, spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: db}}}}`}},
		},
		{
			name:   "no preStop hook",
			defect: []edit{{"Deployment/web", container(`, lifecycle: null`)}},
			policy: "graceful-shutdown", advice: "add preStop: {sleep: {seconds: 5}}",
			fix: []edit{{"Deployment/web", container(``)}},
		},
		{
			name:   "grace period 0",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 0}}}}`}},
			policy: "graceful-shutdown", advice: "remove it (defaults to 30)",
			fix: []edit{{"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: null}}}}`}},
		},
		{
			name:   "grace period 0, raised above the sleep",
			defect: []edit{{"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 0}}}}`}},
			policy: "graceful-shutdown", advice: "or set it above the preStop sleep",
			fix: []edit{{"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 10}}}}`}},
		},
		{
			name:   "sleep fills the grace period",
			defect: []edit{{"Deployment/web", container(`, lifecycle: {preStop: {sleep: {seconds: 40}}}`)}},
			policy: "graceful-shutdown", advice: "set it above 40",
			fix: []edit{{"Deployment/web", `{spec: {template: {spec: {terminationGracePeriodSeconds: 50}}}}`}},
		},
		{
			name:   "one replica with a budget",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1}}`}},
			policy: "replicas-ha", advice: "set replicas: 2 or more",
			fix: []edit{{"Deployment/web", `{spec: {replicas: 2}}`}},
		},
		{
			name:   "one replica without a budget",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1}}`}, {"PodDisruptionBudget/web", `null`}},
			policy: "replicas-ha", advice: "together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow",
			fix: []edit{
				{"Deployment/web", `{spec: {replicas: 2}}`},
				{"PodDisruptionBudget/web", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: web, namespace: shop}, spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: web}}}}`},
			},
		},
		{
			name:   "one replica, autoscaled instead",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1}}`}},
			policy: "replicas-ha", advice: "or add a HorizontalPodAutoscaler with minReplicas: 2 or more",
			fix: []edit{{"HorizontalPodAutoscaler/web", `{apiVersion: autoscaling/v2, kind: HorizontalPodAutoscaler, metadata: {name: web, namespace: shop}, spec: {minReplicas: 2, maxReplicas: 5, scaleTargetRef: {apiVersion: apps/v1, kind: Deployment, name: web}}}`}},
		},
		{
			name:   "single writer that may run twice after all",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1, strategy: {type: Recreate, rollingUpdate: null}}}`}},
			policy: "replicas-ha", advice: "If two copies may run at once (leader election, for example), set replicas: 2 or more with type: RollingUpdate",
			fix: []edit{{"Deployment/web", `{spec: {replicas: 2, strategy: {type: RollingUpdate}}}`}},
		},
		{
			name:   "one replica that must never run twice",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1}}`}},
			policy: "replicas-ha", advice: "if it must never run twice, declare it a single writer with spec.strategy.type: Recreate",
			fix: []edit{{"Deployment/web", `{spec: {strategy: {type: Recreate, rollingUpdate: null}}}`}},
		},
		{
			name:   "one replica sharing a claim",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1, template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "replicas-ha", advice: "a second replica needs a ReadWriteMany claim: use one and set replicas: 2",
			fix: []edit{{"Deployment/web", `{spec: {replicas: 2}}`}},
		},
		{
			name:   "one replica sharing a claim, as a StatefulSet instead",
			defect: []edit{{"Deployment/web", `{spec: {replicas: 1, template: {spec: {volumes: [{name: data, persistentVolumeClaim: {claimName: web-data}}]}}}}`}},
			policy: "replicas-ha", advice: "or run it as a StatefulSet with volumeClaimTemplates and replicas: 2 or more",
			fix: []edit{{"Deployment/web", `null`}, {"StatefulSet/web", webStatefulSet(2)}},
		},
		{
			name:   "StatefulSet with one replica and a budget",
			defect: []edit{{"StatefulSet/db", `{spec: {replicas: 1}}`}},
			policy: "replicas-ha", advice: "if the application runs as several members (replication, leader election), set replicas: 2 or more;",
			fix: []edit{{"StatefulSet/db", `{spec: {replicas: 2}}`}},
		},
		{
			name:   "StatefulSet with one replica and no budget",
			defect: []edit{{"StatefulSet/db", `{spec: {replicas: 1}}`}, {"PodDisruptionBudget/db", `null`}},
			policy: "replicas-ha", advice: "set replicas: 2 or more, together with a PodDisruptionBudget selecting its pods with spec.maxUnavailable: 1 and spec.unhealthyPodEvictionPolicy: AlwaysAllow",
			fix: []edit{
				{"StatefulSet/db", `{spec: {replicas: 2}}`},
				{"PodDisruptionBudget/db", `{apiVersion: policy/v1, kind: PodDisruptionBudget, metadata: {name: db, namespace: shop}, spec: {maxUnavailable: 1, unhealthyPodEvictionPolicy: AlwaysAllow, selector: {matchLabels: {app: db}}}}`},
			},
		},
		{
			name:   "exemption naming an unknown policy",
			defect: []edit{{"Deployment/web", `{metadata: {annotations: {fluxgate.dev/exempt: replica-ha, fluxgate.dev/exempt-reason: scaled by the team's own operator}}}`}},
			policy: "fluxgate", advice: "known policies: change-freeze, graceful-shutdown, pdb-coverage, pdb-drain-safe, readiness-probe, replicas-ha, rollout-strategy",
			fix: []edit{{"Deployment/web", `{metadata: {annotations: {fluxgate.dev/exempt: replicas-ha}}}`}},
		},
		{
			name:   "exemption without a reason",
			defect: []edit{{"Deployment/web", `{metadata: {annotations: {fluxgate.dev/exempt: replicas-ha}}}`}},
			policy: "fluxgate", advice: "add fluxgate.dev/exempt-reason",
			fix: []edit{{"Deployment/web", `{metadata: {annotations: {fluxgate.dev/exempt-reason: scaled by the team's own operator}}}`}},
		},
	}
	ctx := context.Background()
	base := parseObjects(t, adviceBase)
	if rep := runObjects(t, ctx, base); len(rep.Results) != 0 {
		t.Fatalf("the base is not clean: %+v", rep.Results)
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			broken := applyEdits(t, base, tt.defect)
			before := runObjects(t, ctx, broken)
			var target *Result
			for i, r := range before.Results {
				if r.Policy == tt.policy && strings.Contains(r.Message, tt.advice) {
					target = &before.Results[i]
				}
			}
			if target == nil {
				t.Fatalf("no %s finding advising %q; findings:\n%s", tt.policy, tt.advice, describeResults(before.Results))
			}

			fixed := applyEdits(t, broken, tt.fix)
			after := runObjects(t, ctx, fixed)
			had := map[string]bool{}
			for _, r := range before.Results {
				had[r.Policy+" "+r.Kind+"/"+r.Name] = true
			}
			for _, r := range after.Results {
				switch {
				case r.Action == "mutate":
				case r.Policy == target.Policy && r.Kind == target.Kind && r.Name == target.Name && r.Message == target.Message:
					t.Errorf("the advice was followed but the finding remains: %s", r.Message)
				case r.Action == "deny":
					t.Errorf("following the advice leaves a denial: %s: %s", r.Policy, r.Message)
				case !had[r.Policy+" "+r.Kind+"/"+r.Name]:
					t.Errorf("following the advice adds a warning: %s: %s", r.Policy, r.Message)
				}
			}
			if err := rollsAndDrains(mutated(t, ctx, fixed)); err != nil {
				t.Errorf("following %q: %v", tt.advice, err)
			}
		})
	}
}

// parseObjects reads a multi-document YAML stream as `fluxgate check -`
// does.
func parseObjects(t *testing.T, docs string) []manifest.Object {
	t.Helper()
	objs, err := manifest.LoadPaths([]string{"-"}, strings.NewReader(docs))
	if err != nil {
		t.Fatal(err)
	}
	return objs
}

func runObjects(t *testing.T, ctx context.Context, objs []manifest.Object) *Report {
	t.Helper()
	rep, err := Run(ctx, builtinEngine(t), objs)
	if err != nil {
		t.Fatal(err)
	}
	return rep
}

// mutated returns the objects as the webhook would store them: the
// rollout a user gets is the mutated one.
func mutated(t *testing.T, ctx context.Context, objs []manifest.Object) []map[string]any {
	t.Helper()
	eng := builtinEngine(t)
	groups, err := relatedGroups(objs)
	if err != nil {
		t.Fatal(err)
	}
	out := make([]map[string]any, 0, len(objs))
	for i := range objs {
		in := &policy.Input{Request: requestFor(&objs[i]), Related: groups[keyOf(&objs[i])], Complete: true}
		d, err := eng.Mutate(ctx, in)
		if err != nil {
			t.Fatal(err)
		}
		if d.Mutated != nil {
			out = append(out, d.Mutated)
		} else {
			out = append(out, objs[i].Data)
		}
	}
	return out
}

func describeResults(rs []Result) string {
	var b strings.Builder
	for _, r := range rs {
		fmt.Fprintf(&b, "  %s %s %s/%s: %s\n", r.Action, r.Policy, r.Kind, r.Name, r.Message)
	}
	return b.String()
}

// applyEdits returns a copy of objs with the edits applied.
func applyEdits(t *testing.T, objs []manifest.Object, edits []edit) []manifest.Object {
	t.Helper()
	out := make([]manifest.Object, 0, len(objs)+len(edits))
	for _, o := range objs {
		o.Data = deepCopy(t, o.Data)
		out = append(out, o)
	}
	for _, e := range edits {
		patch, err := yaml.YAMLToJSON([]byte(e.patch))
		if err != nil {
			t.Fatalf("edit of %s: %v", e.target, err)
		}
		i := slicesIndex(out, e.target)
		switch {
		case string(patch) == "null" && i >= 0:
			out = append(out[:i], out[i+1:]...)
		case i < 0:
			added := parseObjects(t, e.patch)
			for j := range added {
				added[j].Set = out[0].Set
			}
			out = append(out, added...)
		default:
			doc, err := json.Marshal(out[i].Data)
			if err != nil {
				t.Fatal(err)
			}
			merged, err := jsonpatch.MergePatch(doc, patch)
			if err != nil {
				t.Fatalf("edit of %s: %v", e.target, err)
			}
			re := parseObjects(t, string(merged))
			out[i].Data = re[0].Data
		}
	}
	return out
}

func slicesIndex(objs []manifest.Object, target string) int {
	for i := range objs {
		if objs[i].Kind()+"/"+objs[i].Name() == target {
			return i
		}
	}
	return -1
}

func deepCopy(t *testing.T, m map[string]any) map[string]any {
	t.Helper()
	b, err := json.Marshal(m)
	if err != nil {
		t.Fatal(err)
	}
	return parseObjects(t, string(b))[0].Data
}

// rollsAndDrains is an independent model of what the advice must
// achieve, written from the Kubernetes controllers rather than from the
// policies: every rolling update can make progress, a DaemonSet bound to
// host ports never surges, every pod that a drain evicts has at most one
// budget, and every budget allows at least one disruption.
func rollsAndDrains(objs []map[string]any) error {
	var deployments []appsv1.Deployment
	var statefulSets []appsv1.StatefulSet
	var budgets []policyv1.PodDisruptionBudget
	hpaMin := map[string]int32{}
	for _, o := range objs {
		var err error
		switch o["kind"] {
		case "Deployment":
			var d appsv1.Deployment
			err = fromMap(o, &d)
			deployments = append(deployments, d)
		case "StatefulSet":
			var s appsv1.StatefulSet
			err = fromMap(o, &s)
			statefulSets = append(statefulSets, s)
		case "DaemonSet":
			var ds appsv1.DaemonSet
			if err = fromMap(o, &ds); err == nil {
				err = daemonSetRolls(&ds)
			}
		case "PodDisruptionBudget":
			var p policyv1.PodDisruptionBudget
			err = fromMap(o, &p)
			budgets = append(budgets, p)
		case "HorizontalPodAutoscaler":
			spec, _ := o["spec"].(map[string]any)
			ref, _ := spec["scaleTargetRef"].(map[string]any)
			if n, ok := spec["minReplicas"].(int64); ok {
				hpaMin[fmt.Sprint(ref["kind"], "/", ref["name"])] = int32(n)
			}
		}
		if err != nil {
			return err
		}
	}

	type podSet struct {
		name     string
		pods     int32
		template corev1.PodTemplateSpec
	}
	var sets []podSet
	for _, d := range deployments {
		n := replicas(d.Spec.Replicas)
		if m, ok := hpaMin["Deployment/"+d.Name]; ok {
			n = m
		}
		if err := deploymentRolls(&d, n); err != nil {
			return err
		}
		sets = append(sets, podSet{"Deployment/" + d.Name, n, d.Spec.Template})
	}
	for _, s := range statefulSets {
		sets = append(sets, podSet{"StatefulSet/" + s.Name, replicas(s.Spec.Replicas), s.Spec.Template})
	}

	covered := map[string]int32{} // expected pods per budget
	for _, set := range sets {
		var names []string
		for _, p := range budgets {
			sel, err := metav1.LabelSelectorAsSelector(p.Spec.Selector)
			if err != nil {
				return fmt.Errorf("budget %s: %w", p.Name, err)
			}
			if p.Spec.Selector != nil && sel.Matches(labels.Set(set.template.Labels)) {
				names = append(names, p.Name)
				covered[p.Name] += set.pods
			}
		}
		if len(names) > 1 && set.pods > 0 {
			sort.Strings(names)
			return fmt.Errorf("the pods of %s are under %d budgets (%s): the eviction API refuses to evict them", set.name, len(names), strings.Join(names, ", "))
		}
	}
	for _, p := range budgets {
		expected := covered[p.Name]
		if expected == 0 {
			continue
		}
		var desired int32
		switch {
		case p.Spec.MaxUnavailable != nil:
			v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MaxUnavailable, int(expected), true)
			if err != nil {
				return err
			}
			desired = max(0, expected-int32(v))
		case p.Spec.MinAvailable != nil:
			v, err := intstr.GetScaledValueFromIntOrPercent(p.Spec.MinAvailable, int(expected), true)
			if err != nil {
				return err
			}
			desired = int32(v)
		}
		if expected-desired < 1 {
			return fmt.Errorf("budget %s allows no disruption of its %d pods: drains block", p.Name, expected)
		}
	}
	return nil
}

func fromMap(m map[string]any, into any) error {
	b, err := json.Marshal(m)
	if err != nil {
		return err
	}
	if err := json.Unmarshal(b, into); err != nil {
		return fmt.Errorf("%s is not a valid object: %w", m["kind"], err)
	}
	return nil
}

func replicas(r *int32) int32 {
	if r == nil {
		return 1
	}
	return *r
}

// deploymentRolls applies the Deployment controller's rounding: surge
// rounds up, unavailability down, and a rollout where both are 0 never
// moves (the API server rejects it too).
func deploymentRolls(d *appsv1.Deployment, pods int32) error {
	if d.Spec.Strategy.Type == appsv1.RecreateDeploymentStrategyType || d.Spec.Strategy.RollingUpdate == nil {
		return nil
	}
	ru := d.Spec.Strategy.RollingUpdate
	surge, err := scaled(ru.MaxSurge, pods, true)
	if err != nil {
		return err
	}
	unavailable, err := scaled(ru.MaxUnavailable, pods, false)
	if err != nil {
		return err
	}
	if surge == 0 && unavailable == 0 {
		return fmt.Errorf("Deployment %s can neither surge nor remove a pod: its rollout never progresses", d.Name)
	}
	return nil
}

// daemonSetRolls checks that a DaemonSet's rollout can progress, and that
// one bound to host ports (or the host network) does not surge, since the
// surge pod would never start beside the old one.
func daemonSetRolls(ds *appsv1.DaemonSet) error {
	if ds.Spec.UpdateStrategy.Type == appsv1.OnDeleteDaemonSetStrategyType {
		return nil
	}
	ru := ds.Spec.UpdateStrategy.RollingUpdate
	if ru == nil {
		return nil // API default: maxUnavailable 1, no surge
	}
	surge, err := scaled(ru.MaxSurge, 10, true)
	if err != nil {
		return err
	}
	unavailable, err := scaled(ru.MaxUnavailable, 10, true)
	if err != nil {
		return err
	}
	if surge == 0 && unavailable == 0 {
		return fmt.Errorf("DaemonSet %s can neither surge nor remove a pod", ds.Name)
	}
	hostBound := ds.Spec.Template.Spec.HostNetwork
	for _, c := range append(ds.Spec.Template.Spec.Containers, ds.Spec.Template.Spec.InitContainers...) {
		for _, p := range c.Ports {
			hostBound = hostBound || p.HostPort > 0
		}
	}
	if hostBound && surge > 0 {
		return fmt.Errorf("DaemonSet %s is bound to host ports but surges: the new pod never starts", ds.Name)
	}
	return nil
}

func scaled(v *intstr.IntOrString, total int32, roundUp bool) (int32, error) {
	if v == nil {
		return 0, nil
	}
	n, err := intstr.GetScaledValueFromIntOrPercent(v, int(total), roundUp)
	return int32(n), err
}
