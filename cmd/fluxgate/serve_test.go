package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/client-go/kubernetes"

	"github.com/fluxgate/fluxgate/controllers"
)

const testKubeconfig = `apiVersion: v1
kind: Config
clusters:
- name: c
  cluster:
    server: https://127.0.0.1:6443
    insecure-skip-tls-verify: true
users:
- name: u
  user:
    token: t
contexts:
- name: c
  context:
    cluster: c
    user: u
current-context: c
`

// TestServeRateLimit checks that --kube-api-qps and --kube-api-burst set
// the same client-side limit whichever way serve finds the cluster: a
// --kubeconfig file (client-go alone would give 5 QPS) or
// controller-runtime's lookup, which $KUBECONFIG stands in for here and
// which in a pod reads the in-cluster configuration (controller-runtime
// alone would turn the limit off) — and that the clients built from the
// configuration use it.
func TestServeRateLimit(t *testing.T) {
	file := filepath.Join(t.TempDir(), "kubeconfig")
	if err := os.WriteFile(file, []byte(testKubeconfig), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name      string
		args      []string
		env       string // $KUBECONFIG
		qps       float32
		burst     int
		unlimited bool
		err       string
	}{
		{name: "kubeconfig flag, defaults", args: []string{"--kubeconfig", file}, qps: controllers.DefaultKubeAPIQPS, burst: controllers.DefaultKubeAPIBurst},
		{name: "controller-runtime lookup, defaults", env: file, qps: controllers.DefaultKubeAPIQPS, burst: controllers.DefaultKubeAPIBurst},
		{name: "kubeconfig flag, set", args: []string{"--kubeconfig", file, "--kube-api-qps=7", "--kube-api-burst=9"}, qps: 7, burst: 9},
		{name: "controller-runtime lookup, set", env: file, args: []string{"--kube-api-qps=7", "--kube-api-burst=9"}, qps: 7, burst: 9},
		{name: "negative: no client-side limit", args: []string{"--kubeconfig", file, "--kube-api-qps=-1"}, qps: -1, burst: controllers.DefaultKubeAPIBurst, unlimited: true},
		{name: "zero rate refused", args: []string{"--kubeconfig", file, "--kube-api-qps=0"}, err: "--kube-api-qps 0"},
		{name: "zero burst refused", args: []string{"--kubeconfig", file, "--kube-api-burst=0"}, err: "--kube-api-burst 0"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Setenv("KUBECONFIG", tt.env)
			cmd := newServeCommand()
			if err := cmd.ParseFlags(tt.args); err != nil {
				t.Fatal(err)
			}
			f := cmd.Flags()
			kubeconfig, _ := f.GetString("kubeconfig")
			qps, _ := f.GetFloat32("kube-api-qps")
			burst, _ := f.GetInt("kube-api-burst")
			cfg, err := restConfig(kubeconfig, apiRate{qps: qps, burst: burst})
			if tt.err != "" {
				if err == nil || !strings.Contains(err.Error(), tt.err) {
					t.Fatalf("error = %v, want one containing %q", err, tt.err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if cfg.QPS != tt.qps || cfg.Burst != tt.burst {
				t.Fatalf("rest.Config QPS %g, burst %d; want %g, %d", cfg.QPS, cfg.Burst, tt.qps, tt.burst)
			}
			cs, err := kubernetes.NewForConfig(cfg)
			if err != nil {
				t.Fatal(err)
			}
			limiter := cs.CoreV1().RESTClient().GetRateLimiter()
			switch {
			case tt.unlimited && limiter != nil:
				t.Fatalf("client rate limiter at %g QPS, want none", limiter.QPS())
			case !tt.unlimited && (limiter == nil || limiter.QPS() != tt.qps):
				t.Fatalf("client rate limiter %v, want %g QPS", limiter, tt.qps)
			}
		})
	}
}
