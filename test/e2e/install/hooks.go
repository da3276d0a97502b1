package install

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/kube"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/cli-runtime/pkg/resource"
)

// HookRun is one hook Job that Helm created and the harness ran.
type HookRun struct {
	// Job is the Job's name; Args the command line it ran.
	Job  string
	Args []string
	// Started and Ended bound the process's run.
	Started, Ended time.Time
	// Output is what the process wrote, stdout and stderr together.
	Output string
	// Err is nil when the process exited 0.
	Err error
}

// HookRuns returns the hook Jobs run so far, oldest first.
func (f *Fluxgate) HookRuns() []HookRun { return append([]HookRun(nil), f.hookRuns...) }

var jobKind = schema.GroupKind{Group: "batch", Kind: "Job"}

// hookClient is Helm's Kubernetes client, except that the hook Jobs Helm
// waits for are run here: a test API server has no kubelet to run their
// pod. Once Helm has created a Job, its container's command runs as a
// local process of the fluxgate binary, under the Job's ServiceAccount
// (impersonated, like fluxgate serve), within Helm's hook timeout; Helm
// sees the hook succeed or fail with the process's exit status, as it
// would see the Job complete or fail. Everything else is Helm's own.
type hookClient struct {
	*kube.Client
	f *Fluxgate
}

// WatchUntilReady runs the Jobs among resources and lets Helm wait for the
// rest (which, for anything but Pods, returns at once).
func (c *hookClient) WatchUntilReady(resources kube.ResourceList, timeout time.Duration) error {
	var jobs, rest kube.ResourceList
	for _, info := range resources {
		if info.Mapping != nil && info.Mapping.GroupVersionKind.GroupKind() == jobKind {
			jobs = append(jobs, info)
		} else {
			rest = append(rest, info)
		}
	}
	for _, info := range jobs {
		if err := c.f.runJob(info, timeout); err != nil {
			return err
		}
	}
	if len(rest) == 0 {
		return nil
	}
	return c.Client.WatchUntilReady(rest, timeout)
}

// runJob runs the Job's only container as a local process and records it.
func (f *Fluxgate) runJob(info *resource.Info, timeout time.Duration) error {
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	job, err := f.clients.BatchV1().Jobs(info.Namespace).Get(ctx, info.Name, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("hook Job %s: %w", info.Name, err)
	}
	pod := job.Spec.Template.Spec
	if len(pod.Containers) != 1 || len(pod.InitContainers) > 0 {
		return fmt.Errorf("hook Job %s: %d containers and %d init containers; the harness runs exactly one container", job.Name, len(pod.Containers), len(pod.InitContainers))
	}
	ctr := pod.Containers[0]
	// The image's entrypoint is the fluxgate binary; a command replaces it.
	args := ctr.Args
	if len(ctr.Command) > 0 {
		if !strings.HasSuffix(ctr.Command[0], "fluxgate") {
			return fmt.Errorf("hook Job %s runs %q, not fluxgate", job.Name, ctr.Command[0])
		}
		args = append(append([]string(nil), ctr.Command[1:]...), ctr.Args...)
	}
	sa := pod.ServiceAccountName
	if sa == "" {
		sa = "default"
	}
	kubeconfig, err := impersonate(f.opts, sa, "hook-"+job.Name+".kubeconfig")
	if err != nil {
		return err
	}
	cmd := exec.CommandContext(ctx, f.opts.Binary, args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+kubeconfig)
	for _, e := range ctr.Env {
		if e.ValueFrom == nil {
			cmd.Env = append(cmd.Env, e.Name+"="+e.Value)
		}
	}
	run := HookRun{Job: job.Name, Args: args, Started: time.Now()}
	out, err := cmd.CombinedOutput()
	run.Ended, run.Output = time.Now(), string(out)
	if err != nil {
		if errors.Is(ctx.Err(), context.DeadlineExceeded) {
			err = fmt.Errorf("%w: not done within Helm's hook timeout %s", err, timeout)
		}
		run.Err = fmt.Errorf("hook Job %s failed: %w\n%s", job.Name, err, out)
	}
	fmt.Fprintf(f.opts.Log, "hook Job %s: fluxgate %s: %v\n%s", job.Name, strings.Join(args, " "), err, out)
	f.hookRuns = append(f.hookRuns, run)
	return run.Err
}

// helmConfig is Helm's action configuration with hook Jobs run by f.
func (f *Fluxgate) helmConfig() (*action.Configuration, error) {
	cfg, err := helmConfig(f.opts)
	if err != nil {
		return nil, err
	}
	kc, ok := cfg.KubeClient.(*kube.Client)
	if !ok {
		return nil, fmt.Errorf("helm: unexpected Kubernetes client %T", cfg.KubeClient)
	}
	cfg.KubeClient = &hookClient{Client: kc, f: f}
	return cfg, nil
}
