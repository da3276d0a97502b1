package controllers

import (
	"bufio"
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.uber.org/zap/zapcore"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/types"
	clientgoscheme "k8s.io/client-go/kubernetes/scheme"
	"k8s.io/client-go/tools/clientcmd"
	ctrl "sigs.k8s.io/controller-runtime"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/log/zap"
	ctrlmetrics "sigs.k8s.io/controller-runtime/pkg/metrics"
	metricsserver "sigs.k8s.io/controller-runtime/pkg/metrics/server"

	"github.com/fluxgate/fluxgate/api/v1alpha1"
)

// The scale scenario's environment.
const (
	// scaleEnv runs TestScaleQuietCluster when set.
	scaleEnv = "FLUXGATE_SCALE"
	// guardProcessEnv, set to a kubeconfig file, makes the test binary run
	// as a guard process (runGuardProcess) instead of running tests.
	guardProcessEnv = "FLUXGATE_GUARD_PROCESS"
	// guardMetricsEnv is the guard process's metrics address.
	guardMetricsEnv = "FLUXGATE_GUARD_METRICS"
	// guardProfileEnv, when set, names a file for the guard process's CPU
	// profile (go tool pprof).
	guardProfileEnv = "FLUXGATE_GUARD_CPUPROFILE"
)

// fluxWrites counts the guard process's writes to Flux objects.
var fluxWrites = prometheus.NewCounter(prometheus.CounterOpts{
	Name: "fluxgate_test_flux_writes_total", Help: "Writes of the guard process to Kustomizations and HelmReleases.",
})

// writeCounting counts the writes it passes on to Flux objects.
type writeCounting struct{ client.Client }

func (w writeCounting) Patch(ctx context.Context, obj client.Object, patch client.Patch, opts ...client.PatchOption) error {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		fluxWrites.Inc()
	}
	return w.Client.Patch(ctx, obj, patch, opts...)
}

func (w writeCounting) Update(ctx context.Context, obj client.Object, opts ...client.UpdateOption) error {
	if _, ok := obj.(*unstructured.Unstructured); ok {
		fluxWrites.Inc()
	}
	return w.Client.Update(ctx, obj, opts...)
}

// runGuardProcess runs the maintenance guard alone, set up as fluxgate
// serve sets it up (server.Run: unstructured cache, the guard's metrics,
// the default client-side rate), against the kubeconfig guardProcessEnv
// names, until SIGTERM. Its metrics, with fluxWrites, are served on
// guardMetricsEnv.
func runGuardProcess() int {
	ctrl.SetLogger(zap.New(zap.WriteTo(os.Stderr), zap.Level(zapcore.ErrorLevel)))
	fail := func(err error) int {
		fmt.Fprintln(os.Stderr, "guard process:", err)
		return 1
	}
	cfg, err := clientcmd.BuildConfigFromFlags("", os.Getenv(guardProcessEnv))
	if err != nil {
		return fail(err)
	}
	cfg.QPS, cfg.Burst = DefaultKubeAPIQPS, DefaultKubeAPIBurst
	s := runtime.NewScheme()
	if err := clientgoscheme.AddToScheme(s); err != nil {
		return fail(err)
	}
	if err := v1alpha1.AddToScheme(s); err != nil {
		return fail(err)
	}
	mgr, err := ctrl.NewManager(cfg, ctrl.Options{
		Scheme:                 s,
		Metrics:                metricsserver.Options{BindAddress: os.Getenv(guardMetricsEnv)},
		HealthProbeBindAddress: "0",
		Client:                 client.Options{Cache: &client.CacheOptions{Unstructured: true}},
	})
	if err != nil {
		return fail(err)
	}
	metrics, err := NewGuardMetrics(ctrlmetrics.Registry)
	if err != nil {
		return fail(err)
	}
	if err := ctrlmetrics.Registry.Register(fluxWrites); err != nil {
		return fail(err)
	}
	r := &MaintenanceGuardReconciler{Client: writeCounting{mgr.GetClient()}, Events: mgr.GetEventRecorder("fluxgate"), Metrics: metrics, Log: ctrl.Log.WithName("maintenance")}
	if err := r.SetupWithManager(mgr); err != nil {
		return fail(err)
	}
	if path := os.Getenv(guardProfileEnv); path != "" {
		f, err := os.Create(path)
		if err != nil {
			return fail(err)
		}
		if err := pprof.StartCPUProfile(f); err != nil {
			return fail(err)
		}
		defer pprof.StopCPUProfile()
	}
	if err := mgr.Start(ctrl.SetupSignalHandler()); err != nil {
		return fail(err)
	}
	return 0
}

// TestScaleQuietCluster is the guard's scale scenario: a cluster with
// 1,000 nodes heartbeating and 2,000 Kustomizations whose status a
// simulated Flux writes every few seconds, and no maintenance. The guard
// runs as a process of its own (this test binary, see runGuardProcess) so
// that its CPU time is its own, read from /proc/<pid>/stat; reconciles
// come from its controller_runtime_reconcile_total. It asserts counts: no
// pause or resume logic ran, nothing was written to a Flux object, and
// reconciles stayed at the guard's poll of unwatched signals (one every
// 30 s); it logs the CPU share, which the README reports.
//
//	FLUXGATE_SCALE=1 go test -run TestScaleQuietCluster -v -timeout 20m ./controllers/
//
// FLUXGATE_SCALE_NODES, _KUSTOMIZATIONS (counts), _NODE_PERIOD,
// _FLUX_PERIOD (how often each object is written, as Go durations) and
// _WINDOW (the measurement) change the defaults 1000, 2000, 10s, 5s, 1m.
func TestScaleQuietCluster(t *testing.T) {
	if os.Getenv(scaleEnv) == "" {
		t.Skipf("set %s=1 to run the scale scenario (about three minutes)", scaleEnv)
	}
	var (
		nodes      = scaleInt(t, "FLUXGATE_SCALE_NODES", 1000)
		kusts      = scaleInt(t, "FLUXGATE_SCALE_KUSTOMIZATIONS", 2000)
		nodePeriod = scaleDuration(t, "FLUXGATE_SCALE_NODE_PERIOD", 10*time.Second)
		fluxPeriod = scaleDuration(t, "FLUXGATE_SCALE_FLUX_PERIOD", 5*time.Second)
		window     = scaleDuration(t, "FLUXGATE_SCALE_WINDOW", time.Minute)
	)
	ctx := context.Background()
	label := uniq("scale")
	start := time.Now()
	nodeNames := scaleNodes(t, label, nodes)
	kustomizations := scaleKustomizations(t, label, kusts)
	t.Logf("created %d nodes and %d Kustomizations in %.0f s", nodes, kusts, time.Since(start).Seconds())

	sel := &metav1.LabelSelector{MatchLabels: map[string]string{"scale": label}}
	g := guard(t, v1alpha1.MaintenanceGuardSpec{
		Targets:  v1alpha1.Targets{Kustomizations: v1alpha1.TargetSelection{NamespaceSelector: sel}, HelmReleases: v1alpha1.TargetSelection{Enabled: ptrTo(false)}},
		Signals:  v1alpha1.Signals{Nodes: v1alpha1.NodeSignal{Selector: sel}},
		Debounce: dur(30 * time.Second), Settle: dur(5 * time.Minute),
	})

	simCtx, stopSims := context.WithCancel(ctx)
	defer stopSims()
	heartbeats := simulate(simCtx, len(nodeNames), nodePeriod, func(ctx context.Context, i int) error {
		now := time.Now().UTC().Format(time.RFC3339)
		patch := fmt.Sprintf(`{"status":{"conditions":[{"type":"Ready","status":"True","reason":"KubeletReady","message":"kubelet is posting ready status","lastHeartbeatTime":%q}]}}`, now)
		return k8s.Status().Patch(ctx, &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: nodeNames[i]}}, client.RawPatch(types.StrategicMergePatchType, []byte(patch)))
	})
	var revision atomic.Int64
	statusWrites := simulate(simCtx, len(kustomizations), fluxPeriod, func(ctx context.Context, i int) error {
		rev := fmt.Sprintf("main@sha1:%040d", revision.Add(1))
		now := time.Now().UTC().Format(time.RFC3339)
		patch := fmt.Sprintf(`{"status":{"observedGeneration":1,"lastAttemptedRevision":%q,"lastAppliedRevision":%q,"lastHandledReconcileAt":%q,`+
			`"conditions":[{"type":"Ready","status":"True","reason":"ReconciliationSucceeded","message":"Applied revision: %s","lastTransitionTime":%q,"observedGeneration":1}]}}`,
			rev, rev, now, rev, now)
		u := &unstructured.Unstructured{}
		u.SetGroupVersionKind(kustomizations[i].GroupVersionKind())
		u.SetNamespace(kustomizations[i].GetNamespace())
		u.SetName(kustomizations[i].GetName())
		return k8s.Status().Patch(ctx, u, client.RawPatch(types.MergePatchType, []byte(patch)))
	})

	proc := startGuardProcess(t)
	eventually2(t, 3*time.Minute, func() error {
		cur := &v1alpha1.MaintenanceGuard{}
		if err := k8s.Get(ctx, client.ObjectKeyFromObject(g), cur); err != nil {
			return err
		}
		if cur.Status.Phase != v1alpha1.PhaseIdle || cur.Status.ObservedGeneration != cur.Generation {
			return fmt.Errorf("guard phase %q, observed generation %d of %d", cur.Status.Phase, cur.Status.ObservedGeneration, cur.Generation)
		}
		return nil
	})
	startup := proc.cpu(t)
	t.Logf("guard process started and reconciled in %.1f s, %.2f CPU s (listing %d nodes, and the metadata of %d Kustomizations once per reconcile)", time.Since(proc.started).Seconds(), startup, nodes, kusts)
	time.Sleep(10 * time.Second) // let start-up settle before measuring

	m0, cpu0, hb0, sw0, t0 := proc.metrics(t), proc.cpu(t), heartbeats.writes.Load(), statusWrites.writes.Load(), time.Now()
	time.Sleep(window)
	m1, cpu1, hb1, sw1, elapsed := proc.metrics(t), proc.cpu(t), heartbeats.writes.Load(), statusWrites.writes.Load(), time.Since(t0)
	stopSims()
	heartbeats.wait()
	statusWrites.wait()

	secs := elapsed.Seconds()
	reconciles := m1.sum("controller_runtime_reconcile_total", `controller="maintenanceguard"`) - m0.sum("controller_runtime_reconcile_total", `controller="maintenanceguard"`)
	pauses := m1.sum("fluxgate_maintenance_reconciles_total", `action="pause"`) - m0.sum("fluxgate_maintenance_reconciles_total", `action="pause"`)
	resumes := m1.sum("fluxgate_maintenance_reconciles_total", `action="resume"`) - m0.sum("fluxgate_maintenance_reconciles_total", `action="resume"`)
	writes := m1.sum("fluxgate_test_flux_writes_total", "")
	cpuShare := (cpu1 - cpu0) / secs
	t.Logf("SCALE over %.0f s: %d nodes heartbeating (%.0f node status writes/s, every %s each), %d Kustomizations (%.0f status writes/s, every %s each), %d+%d write errors",
		secs, nodes, float64(hb1-hb0)/secs, nodePeriod, kusts, float64(sw1-sw0)/secs, fluxPeriod, heartbeats.errors.Load(), statusWrites.errors.Load())
	t.Logf("SCALE guard: %.1f reconciles/min, %.0f pause and %.0f resume runs, %.0f writes to Flux objects, %.3f CPU s in %.0f s = %.2f%% of one core",
		reconciles*60/secs, pauses, resumes, writes, cpu1-cpu0, secs, cpuShare*100)

	if pauses != 0 || resumes != 0 || writes != 0 {
		t.Errorf("the guard ran its pause or resume logic (%.0f, %.0f) or wrote Flux objects (%.0f) with no maintenance", pauses, resumes, writes)
	}
	// The guard polls unwatched signals every 30 s; allow one more per
	// window for a retry. Without predicates every heartbeat and status
	// write would reconcile it.
	if limit := secs/pollInterval.Seconds() + 2; reconciles > limit {
		t.Errorf("%.0f reconciles in %.0f s, want at most %.0f (the poll)", reconciles, secs, limit)
	}
	if got := status(t, g); got.Phase != v1alpha1.PhaseIdle || got.PausedCount != 0 {
		t.Errorf("guard status %+v", got)
	}
}

// guardProcess is the guard running as its own process.
type guardProcess struct {
	cmd     *exec.Cmd
	addr    string
	started time.Time
}

func startGuardProcess(t *testing.T) *guardProcess {
	t.Helper()
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(file, kubeconfig, 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	addr := l.Addr().String()
	_ = l.Close()
	exe, err := os.Executable()
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(exe)
	cmd.Env = append(os.Environ(), guardProcessEnv+"="+file, guardMetricsEnv+"="+addr)
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &guardProcess{cmd: cmd, addr: addr, started: time.Now()}
	t.Cleanup(func() {
		_ = cmd.Process.Signal(syscall.SIGTERM)
		_ = cmd.Wait()
	})
	return p
}

// cpu returns the process's CPU seconds so far.
func (p *guardProcess) cpu(t *testing.T) float64 {
	t.Helper()
	st, err := readProcStat(fmt.Sprintf("/proc/%d/stat", p.cmd.Process.Pid))
	if err != nil {
		t.Fatal(err)
	}
	return st.cpu
}

// promSamples are the lines of a Prometheus text exposition.
type promSamples []string

// sum adds the samples of metric whose labels contain match.
func (s promSamples) sum(metric, match string) float64 {
	var total float64
	for _, line := range s {
		i := strings.LastIndexByte(line, ' ')
		if i < 0 {
			continue
		}
		series, value := line[:i], line[i+1:]
		name, labels := series, ""
		if j := strings.IndexByte(series, '{'); j >= 0 {
			name, labels = series[:j], series[j:]
		}
		if name != metric || !strings.Contains(labels, match) {
			continue
		}
		if v, err := strconv.ParseFloat(value, 64); err == nil {
			total += v
		}
	}
	return total
}

func (p *guardProcess) metrics(t *testing.T) promSamples {
	t.Helper()
	resp, err := http.Get("http://" + p.addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = resp.Body.Close() }()
	var out promSamples
	sc := bufio.NewScanner(resp.Body)
	for sc.Scan() {
		if line := sc.Text(); line != "" && !strings.HasPrefix(line, "#") {
			out = append(out, line)
		}
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// simulation writes n objects, each once per period, spread evenly, with
// a bounded pool of writers; if the API server cannot keep up, the rate
// drops (and the test logs the rate it got).
type simulation struct {
	writes, errors atomic.Int64
	wg             sync.WaitGroup
}

func simulate(ctx context.Context, n int, period time.Duration, write func(context.Context, int) error) *simulation {
	s := &simulation{}
	jobs := make(chan int)
	for range 16 {
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			for i := range jobs {
				if err := write(ctx, i); err != nil {
					if ctx.Err() == nil {
						s.errors.Add(1)
					}
					continue
				}
				s.writes.Add(1)
			}
		}()
	}
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(jobs)
		start := time.Now()
		for round := 0; ; round++ {
			for i := range n {
				at := start.Add(time.Duration(round)*period + period*time.Duration(i)/time.Duration(n))
				select {
				case <-ctx.Done():
					return
				case <-time.After(time.Until(at)):
				}
				select {
				case <-ctx.Done():
					return
				case jobs <- i:
				}
			}
		}
	}()
	return s
}

func (s *simulation) wait() { s.wg.Wait() }

// scaleNodes creates n nodes labelled scale=label, three of them
// control-plane nodes on one kubelet version, all Ready; they are deleted
// when the test ends.
func scaleNodes(t *testing.T, label string, n int) []string {
	t.Helper()
	names := make([]string, n)
	parallelDo(t, n, func(ctx context.Context, i int) error {
		node := &corev1.Node{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-node-%04d", label, i), Labels: map[string]string{"scale": label, "kubernetes.io/os": "linux"}}}
		if i < 3 {
			node.Labels["node-role.kubernetes.io/control-plane"] = ""
		}
		if err := k8s.Create(ctx, node); err != nil {
			return err
		}
		node.Status = corev1.NodeStatus{
			NodeInfo:   corev1.NodeSystemInfo{KubeletVersion: "v1.36.3", OSImage: "Debian GNU/Linux 12", ContainerRuntimeVersion: "containerd://2.1.0"},
			Conditions: []corev1.NodeCondition{{Type: corev1.NodeReady, Status: corev1.ConditionTrue, Reason: "KubeletReady", LastHeartbeatTime: metav1.Now(), LastTransitionTime: metav1.Now()}},
			Capacity:   corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("4"), corev1.ResourceMemory: resource.MustParse("16Gi"), corev1.ResourcePods: resource.MustParse("110")},
		}
		if err := k8s.Status().Update(ctx, node); err != nil {
			return err
		}
		names[i] = node.Name
		return nil
	})
	t.Cleanup(func() {
		_ = k8s.DeleteAllOf(context.Background(), &corev1.Node{}, client.MatchingLabels{"scale": label})
	})
	return names
}

// scaleKustomizations creates n Kustomizations in namespaces of 40,
// labelled scale=label; they are deleted when the test ends.
func scaleKustomizations(t *testing.T, label string, n int) []*unstructured.Unstructured {
	t.Helper()
	const perNamespace = 40
	var namespaces []string
	for i := 0; i*perNamespace < n; i++ {
		ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: fmt.Sprintf("%s-%02d", label, i), Labels: map[string]string{"scale": label}}}
		if err := k8s.Create(context.Background(), ns); err != nil {
			t.Fatal(err)
		}
		namespaces = append(namespaces, ns.Name)
	}
	objs := make([]*unstructured.Unstructured, n)
	parallelDo(t, n, func(ctx context.Context, i int) error {
		u := benchKustomization(namespaces[i/perNamespace], fmt.Sprintf("app-%04d", i))
		if err := k8s.Create(ctx, u); err != nil {
			return err
		}
		objs[i] = u
		return nil
	})
	t.Cleanup(func() {
		for _, ns := range namespaces {
			u := &unstructured.Unstructured{}
			u.SetGroupVersionKind(objs[0].GroupVersionKind())
			_ = k8s.DeleteAllOf(context.Background(), u, client.InNamespace(ns))
		}
	})
	return objs
}

func parallelDo(t *testing.T, n int, f func(context.Context, int) error) {
	t.Helper()
	var wg sync.WaitGroup
	var once sync.Once
	var first error
	jobs := make(chan int)
	for range 16 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				if err := f(context.Background(), i); err != nil {
					once.Do(func() { first = err })
				}
			}
		}()
	}
	for i := range n {
		jobs <- i
	}
	close(jobs)
	wg.Wait()
	if first != nil {
		t.Fatal(first)
	}
}

func scaleInt(t *testing.T, env string, def int) int {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	n, err := strconv.Atoi(v)
	if err != nil || n < 1 {
		t.Fatalf("%s=%q: want a positive integer", env, v)
	}
	return n
}

func scaleDuration(t *testing.T, env string, def time.Duration) time.Duration {
	t.Helper()
	v := os.Getenv(env)
	if v == "" {
		return def
	}
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		t.Fatalf("%s=%q: want a positive duration", env, v)
	}
	return d
}

// eventually2 is eventually with its own deadline.
func eventually2(t *testing.T, within time.Duration, f func() error) {
	t.Helper()
	deadline := time.Now().Add(within)
	for {
		err := f()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatal(err)
		}
		time.Sleep(250 * time.Millisecond)
	}
}
