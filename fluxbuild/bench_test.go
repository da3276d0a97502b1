package fluxbuild

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/fluxgate/fluxgate/check"
	"github.com/fluxgate/fluxgate/internal/batchgc"
	"github.com/fluxgate/fluxgate/internal/testenv"
	"github.com/fluxgate/fluxgate/manifest"
)

// Size of the benchmark repository.
const (
	benchClusters = 10
	benchTeams    = 30 // Kustomizations per cluster, one per team
	benchApps     = 10 // apps per team
)

// writeFleet writes a Flux repository of benchClusters clusters, each with
// a flux-system sync and one Kustomization per team (targetNamespace and
// postBuild.substitute of its own), the teams' directories holding
// benchApps apps each: a Deployment with ${replicas}, its budget and its
// Service.
func writeFleet(tb testing.TB, root string) {
	tb.Helper()
	write := func(name, data string) {
		p := filepath.Join(root, filepath.FromSlash(name))
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			tb.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(data), 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	for c := range benchClusters {
		cdir := fmt.Sprintf("clusters/c%02d", c)
		write(cdir+"/flux-system/gotk-sync.yaml", ks("flux-system", "./"+cdir, ""))
		var b strings.Builder
		for t := range benchTeams {
			fmt.Fprintf(&b, "---\n%s", ks(fmt.Sprintf("team-%02d", t), fmt.Sprintf("./apps/team-%02d", t),
				fmt.Sprintf("  targetNamespace: team-%02d\n  postBuild:\n    substitute:\n      replicas: \"%d\"\n      cluster: c%02d\n", t, 2+(c+t)%4, c)))
		}
		write(cdir+"/apps.yaml", b.String())
	}
	for t := range benchTeams {
		for a := range benchApps {
			name := fmt.Sprintf("app-%02d", a)
			write(fmt.Sprintf("apps/team-%02d/%s.yaml", t, name), fmt.Sprintf(`apiVersion: apps/v1
kind: Deployment
metadata:
  name: %[1]s
  labels:
    app.kubernetes.io/name: %[1]s
    cluster: ${cluster}
spec:
  replicas: ${replicas}
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
  strategy:
    type: RollingUpdate
    rollingUpdate:
      maxSurge: 25%%
      maxUnavailable: 0
  template:
    metadata:
      labels:
        app.kubernetes.io/name: %[1]s
    spec:
      containers:
        - name: app
          image: ghcr.io/example/%[1]s:1.0.0
          readinessProbe:
            httpGet:
              path: /readyz
              port: 8080
          lifecycle:
            preStop:
              sleep:
                seconds: 5
---
apiVersion: policy/v1
kind: PodDisruptionBudget
metadata:
  name: %[1]s
spec:
  maxUnavailable: 1
  unhealthyPodEvictionPolicy: AlwaysAllow
  selector:
    matchLabels:
      app.kubernetes.io/name: %[1]s
---
apiVersion: v1
kind: Service
metadata:
  name: %[1]s
spec:
  selector:
    app.kubernetes.io/name: %[1]s
  ports:
    - port: 80
      targetPort: 8080
`, name))
		}
	}
}

// BenchmarkCheckFluxRepository measures `fluxgate check .` over a Flux
// repository of 10 clusters × 30 Kustomizations × 10 apps (3,000 rendered
// workloads, 9,000 objects): loading, following Flux and the policies.
func BenchmarkCheckFluxRepository(b *testing.B) {
	root := b.TempDir()
	writeFleet(b, root)
	ctx := context.Background()
	eng := defaultEngine(b)
	// As fluxgate check runs.
	defer batchgc.Tune()()
	var load, follow, evaluate, followCPU, evaluateCPU time.Duration
	b.ResetTimer()
	for b.Loop() {
		start := time.Now()
		cpuStart := testenv.ProcessCPU()
		objs, err := manifest.LoadPaths([]string{root}, nil)
		if err != nil {
			b.Fatal(err)
		}
		loaded := time.Now()
		res, err := Expand(ctx, objs, Options{Root: root, Dirs: []string{"."}})
		if err != nil {
			b.Fatal(err)
		}
		followed := time.Now()
		cpuFollowed := testenv.ProcessCPU()
		rep, err := check.Run(ctx, eng, res.Objects, res.Findings...)
		if err != nil {
			b.Fatal(err)
		}
		followCPU, evaluateCPU = followCPU+cpuFollowed-cpuStart, evaluateCPU+testenv.ProcessCPU()-cpuFollowed
		load, follow, evaluate = load+loaded.Sub(start), follow+followed.Sub(loaded), evaluate+time.Since(followed)
		workloads := 0
		for _, o := range res.Objects {
			if o.Kind() == "Deployment" && o.Cluster != "" {
				workloads++
			}
		}
		if workloads != benchClusters*benchTeams*benchApps || rep.Summary.Deny != 0 || len(res.Findings) != 0 {
			b.Fatalf("%d workloads, %d denied, %d input findings; want %d, 0, 0", workloads, rep.Summary.Deny, len(res.Findings), benchClusters*benchTeams*benchApps)
		}
	}
	n := float64(b.N)
	b.ReportMetric(load.Seconds()/n, "load-s/op")
	b.ReportMetric(follow.Seconds()/n, "follow-flux-s/op")
	b.ReportMetric(evaluate.Seconds()/n, "policies-s/op")
	// CPU time (every thread, the garbage collector's included) does not
	// grow with other load on a shared machine, as wall time does: on an
	// idle machine following Flux takes about its CPU time (one core,
	// under Flux's lock) and the policies about half theirs (both cores).
	b.ReportMetric(followCPU.Seconds()/n, "follow-flux-cpu-s/op")
	b.ReportMetric(evaluateCPU.Seconds()/n, "policies-cpu-s/op")
}
