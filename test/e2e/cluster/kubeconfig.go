package cluster

import (
	"fmt"
	"path/filepath"

	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// The users the control plane's clients authenticate as, by client
// certificate: user name and groups.
var kubeconfigUsers = []struct {
	file, user string
	groups     []string
}{
	{"admin", "fluxgate-e2e-admin", []string{"system:masters"}},
	{"kube-controller-manager", "system:kube-controller-manager", nil},
	{"kube-scheduler", "system:kube-scheduler", nil},
	{"kwok", "fluxgate-e2e-kwok", []string{"system:masters"}},
}

// writeKubeconfigs writes <dir>/<name>.kubeconfig for every user of
// kubeconfigUsers, each with a client certificate the cluster CA signs,
// and returns their paths by name.
func writeKubeconfigs(dir, server string, p *pki) (map[string]string, error) {
	paths := make(map[string]string, len(kubeconfigUsers))
	for _, u := range kubeconfigUsers {
		cert, err := p.ca.issueClient(u.user, u.groups...)
		if err != nil {
			return nil, err
		}
		cfg := clientcmdapi.NewConfig()
		cfg.Clusters["e2e"] = &clientcmdapi.Cluster{
			Server:                   server,
			CertificateAuthorityData: p.ca.certPEM,
		}
		cfg.AuthInfos[u.file] = &clientcmdapi.AuthInfo{
			ClientCertificateData: cert.certPEM,
			ClientKeyData:         cert.keyPEM,
		}
		cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: u.file}
		cfg.CurrentContext = "e2e"
		path := filepath.Join(dir, u.file+".kubeconfig")
		if err := clientcmd.WriteToFile(*cfg, path); err != nil {
			return nil, fmt.Errorf("write the kubeconfig of %s: %w", u.user, err)
		}
		paths[u.file] = path
	}
	return paths, nil
}
