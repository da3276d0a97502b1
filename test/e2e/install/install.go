package install

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"helm.sh/helm/v3/pkg/action"
	"helm.sh/helm/v3/pkg/chart/loader"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/cli-runtime/pkg/genericclioptions"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/tools/clientcmd"
	"k8s.io/utils/ptr"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// Defaults of [Options].
const (
	DefaultRelease   = "fluxgate"
	DefaultNamespace = "fluxgate-system"
)

// Options say what to install.
type Options struct {
	// Kubeconfig is an administrator's kubeconfig (it installs the chart
	// and impersonates the ServiceAccount).
	Kubeconfig string
	// Binary is the fluxgate binary; default $FLUXGATE_BIN, else
	// bin/fluxgate of the repository.
	Binary string
	// ChartDir defaults to the repository's charts/fluxgate.
	ChartDir string
	// Release and Namespace default to DefaultRelease and DefaultNamespace.
	Release, Namespace string
	// Values are the chart values.
	Values map[string]any
	// Dir holds the process's kubeconfig; a temporary folder by default.
	Dir string
	// Log receives Helm's messages.
	Log io.Writer
	// Start runs the process; see [Starter].
	Start Starter
}

// Starter starts the fluxgate process, so that a harness can own its
// lifecycle (test/e2e/cluster's StartProcess fits).
type Starter func(name string, cmd *exec.Cmd) (Process, error)

// Process is the running fluxgate, as its harness sees it.
type Process interface {
	Stop(grace time.Duration)
	Kill()
	Exited() bool
	Tail(n int) string
}

// Fluxgate is an installed release with its process.
type Fluxgate struct {
	// Release and Namespace name the Helm release.
	Release, Namespace string
	// ReadyzURL is the process's /readyz.
	ReadyzURL string

	opts       Options
	args       []string
	webhookURL string
	clients    kubernetes.Interface
	process    Process
	restart    int
	hookRuns   []HookRun
}

// Install runs `helm install`, points the webhook configurations at a
// local port, starts `fluxgate serve` with the installed Deployment's
// arguments (its --config file taken from the ConfigMap mounted there)
// and waits until /readyz answers 200 (certificate issued and
// injected, policies loaded, caches synced).
func Install(ctx context.Context, o Options) (*Fluxgate, error) {
	o, err := o.withDefaults()
	if err != nil {
		return nil, err
	}
	if err := helmInstall(ctx, o); err != nil {
		return nil, err
	}
	cs, err := clientset(o.Kubeconfig)
	if err != nil {
		return nil, err
	}
	webhookPort, err := freePort()
	if err != nil {
		return nil, err
	}
	probePort, err := freePort()
	if err != nil {
		return nil, err
	}
	webhookURL := fmt.Sprintf("https://127.0.0.1:%d", webhookPort)
	if err := webhooksAtURL(ctx, cs, o.Release, webhookURL); err != nil {
		return nil, err
	}
	dep, err := cs.AppsV1().Deployments(o.Namespace).Get(ctx, o.Release, metav1.GetOptions{})
	if err != nil {
		return nil, fmt.Errorf("read the installed Deployment: %w", err)
	}
	kubeconfig, err := impersonating(o, dep)
	if err != nil {
		return nil, err
	}
	probes := fmt.Sprintf("127.0.0.1:%d", probePort)
	set := map[string]string{
		"--namespace":                 o.Namespace,
		"--webhook-port":              strconv.Itoa(webhookPort),
		"--health-probe-bind-address": probes,
		"--metrics-bind-address":      "0",
	}
	if config, err := localConfig(ctx, cs, o, dep); err != nil {
		return nil, err
	} else if config != "" {
		set["--config"] = config
	}
	args, err := localArgs(dep.Spec.Template.Spec.Containers[0].Args, set)
	if err != nil {
		return nil, err
	}
	args = append(args, "--webhook-host=127.0.0.1", "--kubeconfig="+kubeconfig)
	f := &Fluxgate{Release: o.Release, Namespace: o.Namespace, ReadyzURL: "http://" + probes + "/readyz",
		opts: o, args: args, webhookURL: webhookURL, clients: cs}
	if err := f.Start(ctx); err != nil {
		return nil, err
	}
	return f, nil
}

// Start starts the process (again, after [Fluxgate.Kill] or
// [Fluxgate.Stop]) and waits until it is ready.
func (f *Fluxgate) Start(ctx context.Context) error {
	f.restart++
	name := "fluxgate"
	if f.restart > 1 {
		name = fmt.Sprintf("fluxgate-%d", f.restart)
	}
	cmd := exec.Command(f.opts.Binary, f.args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG=")
	p, err := f.opts.Start(name, cmd)
	if err != nil {
		return fmt.Errorf("start fluxgate: %w", err)
	}
	f.process = p
	if err := waitReady(ctx, f.ReadyzURL, p); err != nil {
		return fmt.Errorf("fluxgate not ready: %w\n%s", err, p.Tail(40))
	}
	return nil
}

// Stop ends the process with SIGTERM, as the kubelet does.
func (f *Fluxgate) Stop() { f.process.Stop(20 * time.Second) }

// Kill ends the process with SIGKILL: no chance to clean up.
func (f *Fluxgate) Kill() { f.process.Kill() }

// Tail returns the last n lines of the process's log.
func (f *Fluxgate) Tail(n int) string { return f.process.Tail(n) }

func (o Options) withDefaults() (Options, error) {
	if o.Kubeconfig == "" {
		return o, errors.New("install fluxgate: no kubeconfig")
	}
	if o.Start == nil {
		return o, errors.New("install fluxgate: no Starter")
	}
	if o.Release == "" {
		o.Release = DefaultRelease
	}
	if o.Namespace == "" {
		o.Namespace = DefaultNamespace
	}
	if o.Log == nil {
		o.Log = io.Discard
	}
	root, err := testenv.RepoRoot()
	if err != nil {
		return o, err
	}
	if o.ChartDir == "" {
		o.ChartDir = filepath.Join(root, "charts", "fluxgate")
	}
	if o.Binary == "" {
		o.Binary = os.Getenv("FLUXGATE_BIN")
	}
	if o.Binary == "" {
		o.Binary = filepath.Join(root, "bin", "fluxgate")
	}
	if _, err := os.Stat(o.Binary); err != nil {
		return o, fmt.Errorf("no fluxgate binary (run `make build` or set FLUXGATE_BIN): %w", err)
	}
	if o.Dir == "" {
		if o.Dir, err = os.MkdirTemp("", "fluxgate-install-"); err != nil {
			return o, fmt.Errorf("install fluxgate: %w", err)
		}
	}
	return o, nil
}

// Upgrade is `helm upgrade` with values, run on the webhook
// configurations as the chart left them (the URL edit undone, and redone
// after); the process keeps running.
func (f *Fluxgate) Upgrade(ctx context.Context, values map[string]any) error {
	if err := webhooksAtService(ctx, f.clients, f.Release); err != nil {
		return err
	}
	chart, err := loader.Load(f.opts.ChartDir)
	if err != nil {
		return fmt.Errorf("load chart %s: %w", f.opts.ChartDir, err)
	}
	cfg, err := f.helmConfig()
	if err != nil {
		return err
	}
	upgrade := action.NewUpgrade(cfg)
	upgrade.Namespace, upgrade.Timeout = f.Namespace, time.Minute
	if _, err := upgrade.RunWithContext(ctx, f.Release, chart, values); err != nil {
		return fmt.Errorf("helm upgrade %s: %w", f.Release, err)
	}
	return webhooksAtURL(ctx, f.clients, f.Release, f.webhookURL)
}

// Uninstall is `helm uninstall --wait`; the process keeps running. Its
// pre-delete hook Jobs run as local processes (see [Fluxgate.HookRuns]).
func (f *Fluxgate) Uninstall() error {
	cfg, err := f.helmConfig()
	if err != nil {
		return err
	}
	uninstall := action.NewUninstall(cfg)
	uninstall.Wait, uninstall.Timeout = true, time.Minute
	if _, err := uninstall.Run(f.Release); err != nil {
		return fmt.Errorf("helm uninstall %s: %w", f.Release, err)
	}
	return nil
}

// helmConfig is Helm's action configuration for the cluster.
func helmConfig(o Options) (*action.Configuration, error) {
	flags := genericclioptions.NewConfigFlags(false)
	flags.KubeConfig, flags.Namespace = ptr.To(o.Kubeconfig), ptr.To(o.Namespace)
	cfg := &action.Configuration{}
	logf := func(format string, v ...any) { fmt.Fprintf(o.Log, "helm: "+format+"\n", v...) }
	if err := cfg.Init(flags, o.Namespace, "secret", logf); err != nil {
		return nil, fmt.Errorf("helm: %w", err)
	}
	return cfg, nil
}

// helmInstall is `helm install --create-namespace` through the SDK.
func helmInstall(ctx context.Context, o Options) error {
	chart, err := loader.Load(o.ChartDir)
	if err != nil {
		return fmt.Errorf("load chart %s: %w", o.ChartDir, err)
	}
	cfg, err := helmConfig(o)
	if err != nil {
		return err
	}
	install := action.NewInstall(cfg)
	install.ReleaseName, install.Namespace, install.CreateNamespace = o.Release, o.Namespace, true
	install.Timeout = time.Minute
	if _, err := install.RunWithContext(ctx, chart, o.Values); err != nil {
		return fmt.Errorf("helm install %s: %w", o.Release, err)
	}
	return nil
}

// webhooksAtURL points every webhook of the release's two configurations
// at a URL on base with the path of its service reference; the caBundle
// stays.
func webhooksAtURL(ctx context.Context, cs kubernetes.Interface, name, base string) error {
	return editClientConfigs(ctx, cs, name, func(cc *admissionregistrationv1.WebhookClientConfig) {
		if cc.Service == nil {
			return
		}
		u := base + ptr.Deref(cc.Service.Path, "/")
		cc.URL = &u
	})
}

// webhooksAtService undoes webhooksAtURL: the chart's service references
// again, as a real cluster has them.
func webhooksAtService(ctx context.Context, cs kubernetes.Interface, name string) error {
	return editClientConfigs(ctx, cs, name, func(cc *admissionregistrationv1.WebhookClientConfig) { cc.URL = nil })
}

// editClientConfigs applies edit to every webhook of both configurations
// named name, then drops the service reference wherever a URL is set. The
// service reference is remembered in an annotation, so that it can be
// restored for `helm upgrade`.
func editClientConfigs(ctx context.Context, cs kubernetes.Interface, name string, edit func(*admissionregistrationv1.WebhookClientConfig)) error {
	apply := func(meta *metav1.ObjectMeta, configs []*admissionregistrationv1.WebhookClientConfig) error {
		for i, cc := range configs {
			key := fmt.Sprintf("%s%d", serviceAnnotation, i)
			if cc.Service == nil && meta.Annotations[key] != "" {
				svc := &admissionregistrationv1.ServiceReference{}
				if err := json.Unmarshal([]byte(meta.Annotations[key]), svc); err != nil {
					return fmt.Errorf("restore the service reference: %w", err)
				}
				cc.Service = svc
			}
			edit(cc)
			if cc.URL != nil && cc.Service != nil {
				raw, err := json.Marshal(cc.Service)
				if err != nil {
					return fmt.Errorf("remember the service reference: %w", err)
				}
				metav1.SetMetaDataAnnotation(meta, key, string(raw))
				cc.Service = nil
			}
		}
		return nil
	}
	m, err := cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		var configs []*admissionregistrationv1.WebhookClientConfig
		for i := range m.Webhooks {
			configs = append(configs, &m.Webhooks[i].ClientConfig)
		}
		if err = apply(&m.ObjectMeta, configs); err == nil {
			_, err = cs.AdmissionregistrationV1().MutatingWebhookConfigurations().Update(ctx, m, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("edit the mutating webhooks: %w", err)
	}
	v, err := cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Get(ctx, name, metav1.GetOptions{})
	if err == nil {
		var configs []*admissionregistrationv1.WebhookClientConfig
		for i := range v.Webhooks {
			configs = append(configs, &v.Webhooks[i].ClientConfig)
		}
		if err = apply(&v.ObjectMeta, configs); err == nil {
			_, err = cs.AdmissionregistrationV1().ValidatingWebhookConfigurations().Update(ctx, v, metav1.UpdateOptions{})
		}
	}
	if err != nil {
		return fmt.Errorf("edit the validating webhooks: %w", err)
	}
	return nil
}

// serviceAnnotation prefixes the annotations remembering each webhook's
// service reference while it points at a URL.
const serviceAnnotation = "test.fluxgate.dev/service-"

// impersonating writes the admin kubeconfig acting as the Deployment's
// ServiceAccount, so the process has the chart's RBAC and nothing more.
func impersonating(o Options, dep *appsv1.Deployment) (string, error) {
	return impersonate(o, dep.Spec.Template.Spec.ServiceAccountName, "fluxgate.kubeconfig")
}

// impersonate writes the admin kubeconfig acting as the ServiceAccount sa
// of the release namespace into file in o.Dir.
func impersonate(o Options, sa, file string) (string, error) {
	cfg, err := clientcmd.LoadFromFile(o.Kubeconfig)
	if err != nil {
		return "", fmt.Errorf("read kubeconfig: %w", err)
	}
	for _, auth := range cfg.AuthInfos {
		auth.Impersonate = "system:serviceaccount:" + o.Namespace + ":" + sa
		auth.ImpersonateGroups = []string{"system:serviceaccounts", "system:serviceaccounts:" + o.Namespace, "system:authenticated"}
	}
	path := filepath.Join(o.Dir, file)
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		return "", fmt.Errorf("write kubeconfig: %w", err)
	}
	return path, nil
}

// localArgs takes the Deployment's arguments, replacing the value of each
// flag in set, and adds 127.0.0.1 to the certificate's hosts.
// localConfig writes the file the installed Deployment passes with
// --config, read from the ConfigMap mounted there as the kubelet would
// project it, into o.Dir, and returns its path ("" without --config).
func localConfig(ctx context.Context, cs kubernetes.Interface, o Options, dep *appsv1.Deployment) (string, error) {
	c := dep.Spec.Template.Spec.Containers[0]
	var path string
	for _, a := range c.Args {
		if v, ok := strings.CutPrefix(a, "--config="); ok {
			path = v
		}
	}
	if path == "" {
		return "", nil
	}
	for _, m := range c.VolumeMounts {
		key, err := filepath.Rel(m.MountPath, path)
		if err != nil || strings.HasPrefix(key, "..") {
			continue
		}
		for _, v := range dep.Spec.Template.Spec.Volumes {
			if v.Name != m.Name || v.ConfigMap == nil {
				continue
			}
			cm, err := cs.CoreV1().ConfigMaps(o.Namespace).Get(ctx, v.ConfigMap.Name, metav1.GetOptions{})
			if err != nil {
				return "", fmt.Errorf("read the ConfigMap mounted for --config=%s: %w", path, err)
			}
			data, ok := cm.Data[key]
			if !ok {
				return "", fmt.Errorf("ConfigMap %s has no key %s for --config=%s", cm.Name, key, path)
			}
			local := filepath.Join(o.Dir, "config-"+filepath.Base(key))
			if err := os.WriteFile(local, []byte(data), 0o600); err != nil {
				return "", fmt.Errorf("install fluxgate: %w", err)
			}
			return local, nil
		}
	}
	return "", fmt.Errorf("--config=%s: no ConfigMap volume mounted there", path)
}

func localArgs(rendered []string, set map[string]string) ([]string, error) {
	var out []string
	for _, a := range rendered {
		name, _, _ := strings.Cut(a, "=")
		if v, ok := set[name]; ok {
			a = name + "=" + v
		}
		if name == "--cert-hosts" {
			a += ",127.0.0.1"
		}
		if strings.Contains(a, "$(") {
			return nil, fmt.Errorf("unexpanded variable in argument %q", a)
		}
		out = append(out, a)
	}
	return out, nil
}

func clientset(kubeconfig string) (kubernetes.Interface, error) {
	cfg, err := clientcmd.BuildConfigFromFlags("", kubeconfig)
	if err != nil {
		return nil, fmt.Errorf("read kubeconfig: %w", err)
	}
	cs, err := kubernetes.NewForConfig(cfg)
	if err != nil {
		return nil, fmt.Errorf("client: %w", err)
	}
	return cs, nil
}

func freePort() (int, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return 0, fmt.Errorf("find a free port: %w", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port, nil
}
