package cluster

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
)

// ServiceClusterIPRange is the range the apiserver allocates Service IPs
// from.
const ServiceClusterIPRange = "10.96.0.0/12"

// startEtcd starts etcd on free loopback ports and returns its client URL
// once it is healthy.
func (c *Cluster) startEtcd(ctx context.Context) (string, error) {
	var ports [3]int
	for i := range ports {
		p, err := freePort()
		if err != nil {
			return "", err
		}
		ports[i] = p
	}
	client := fmt.Sprintf("http://127.0.0.1:%d", ports[0])
	peer := fmt.Sprintf("http://127.0.0.1:%d", ports[1])
	metrics := fmt.Sprintf("http://127.0.0.1:%d", ports[2])
	p, err := c.StartProcess("etcd", exec.Command(filepath.Join(c.BinDir, "etcd"),
		"--name=e2e",
		"--data-dir="+filepath.Join(c.Dir, "etcd"),
		"--listen-client-urls="+client,
		"--advertise-client-urls="+client,
		"--listen-peer-urls="+peer,
		"--initial-advertise-peer-urls="+peer,
		"--initial-cluster=e2e="+peer,
		"--listen-metrics-urls="+metrics,
		"--unsafe-no-fsync",
		"--log-level=warn",
	))
	if err != nil {
		return "", err
	}
	return client, c.waitProcess(ctx, p, "etcd", httpOK(client+"/health", `"health":"true"`))
}

// startAPIServer starts kube-apiserver on port, against etcd, and waits
// until its /readyz answers ok.
func (c *Cluster) startAPIServer(ctx context.Context, etcdURL string, port int) error {
	p := c.pki
	flags := []string{
		"--etcd-servers=" + etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + p.dir,
		"--tls-cert-file=" + p.servingCert,
		"--tls-private-key-file=" + p.servingKey,
		"--client-ca-file=" + p.caCert,
		"--service-account-key-file=" + p.saPub,
		"--service-account-signing-key-file=" + p.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
		"--authorization-mode=Node,RBAC",
		"--endpoint-reconciler-type=none",
		"--allow-privileged=true",
		"--requestheader-client-ca-file=" + p.frontProxyCA,
		"--requestheader-allowed-names=front-proxy-client",
		"--requestheader-username-headers=X-Remote-User",
		"--requestheader-group-headers=X-Remote-Group",
		"--requestheader-extra-headers-prefix=X-Remote-Extra-",
		"--proxy-client-cert-file=" + p.frontProxyCert,
		"--proxy-client-key-file=" + p.frontProxyKey,
	}
	if len(c.opts.AuditPolicy) > 0 {
		policy := filepath.Join(c.Dir, "audit-policy.yaml")
		if err := os.WriteFile(policy, c.opts.AuditPolicy, 0o644); err != nil {
			return fmt.Errorf("write the audit policy: %w", err)
		}
		c.AuditLog = filepath.Join(c.Dir, "logs", "audit.log")
		flags = append(flags, "--audit-policy-file="+policy, "--audit-log-path="+c.AuditLog, "--audit-log-maxage=1")
	}
	flags = mergeFlags(flags, c.opts.APIServerFlags)
	proc, err := c.StartProcess("kube-apiserver", exec.Command(filepath.Join(c.BinDir, "kube-apiserver"), flags...))
	if err != nil {
		return err
	}
	return c.waitProcess(ctx, proc, "kube-apiserver", func(ctx context.Context) error {
		body, err := c.Client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(ctx)
		if err != nil {
			return fmt.Errorf("%w: %s", err, body)
		}
		return nil
	})
}

// startControllerManager starts kube-controller-manager with every
// default controller and waits until it is healthy.
func (c *Cluster) startControllerManager(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	kubeconfig := c.kubeconfigs["kube-controller-manager"]
	flags := mergeFlags([]string{
		"--kubeconfig=" + kubeconfig,
		"--authentication-kubeconfig=" + kubeconfig,
		"--authorization-kubeconfig=" + kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port=" + strconv.Itoa(port),
		"--cert-dir=" + filepath.Join(c.Dir, "kube-controller-manager"),
		"--controllers=*",
		"--leader-elect=false",
		"--use-service-account-credentials=true",
		"--service-account-private-key-file=" + c.pki.saKey,
		"--root-ca-file=" + c.pki.caCert,
		"--cluster-signing-cert-file=" + c.pki.caCert,
		"--cluster-signing-key-file=" + c.pki.caKey,
		"--service-cluster-ip-range=" + ServiceClusterIPRange,
	}, c.opts.ControllerManagerFlags)
	p, err := c.StartProcess("kube-controller-manager", exec.Command(filepath.Join(c.BinDir, "kube-controller-manager"), flags...))
	if err != nil {
		return err
	}
	return c.waitProcess(ctx, p, "kube-controller-manager", httpOK(fmt.Sprintf("https://127.0.0.1:%d/healthz", port), "ok"))
}

// startScheduler starts kube-scheduler and waits until it is healthy.
func (c *Cluster) startScheduler(ctx context.Context) error {
	port, err := freePort()
	if err != nil {
		return err
	}
	kubeconfig := c.kubeconfigs["kube-scheduler"]
	p, err := c.StartProcess("kube-scheduler", exec.Command(filepath.Join(c.BinDir, "kube-scheduler"),
		"--kubeconfig="+kubeconfig,
		"--authentication-kubeconfig="+kubeconfig,
		"--authorization-kubeconfig="+kubeconfig,
		"--bind-address=127.0.0.1",
		"--secure-port="+strconv.Itoa(port),
		"--cert-dir="+filepath.Join(c.Dir, "kube-scheduler"),
		"--leader-elect=false",
	))
	if err != nil {
		return err
	}
	return c.waitProcess(ctx, p, "kube-scheduler", httpOK(fmt.Sprintf("https://127.0.0.1:%d/readyz", port), "ok"))
}
