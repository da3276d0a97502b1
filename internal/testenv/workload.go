package testenv

import (
	"context"
	"encoding/json"
	"encoding/pem"
	"errors"
	"fmt"
	"io"
	"maps"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"

	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"
)

// Workload is an API server started as a workload cluster that
// authenticates a hub's ServiceAccount tokens (Flux's workload identity,
// generic provider).
type Workload struct {
	// Env is the workload cluster; Env.Config its admin's configuration.
	Env *envtest.Environment
	// Client is its admin's client.
	Client client.Client

	issuer *HubIssuer
	dir    string
}

// Stop stops the workload cluster and what serves the hub's keys to it.
func (w *Workload) Stop() {
	_ = w.Env.Stop()
	w.issuer.Close()
	_ = os.RemoveAll(w.dir)
}

// StartWorkloadTrustingHub starts an API server as a workload cluster
// that authenticates the ServiceAccount tokens of the hub (the API server
// of hub, an admin's configuration) for audience, as a real workload
// cluster trusting a hub does: a structured authentication configuration
// (--authentication-config) with a JWT authenticator for the hub's issuer
// and the token's subject as the user name,
// system:serviceaccount:<namespace>:<name>. The hub's OIDC discovery
// document and keys, read from the hub, are served to it from 127.0.0.1
// (the hub's own document names its advertised address, which a test
// cannot reach). The ServiceAccounts given, of the hub, may read what a
// maintenance guard reads there: nodes, pods, DaemonSets and
// PodDisruptionBudgets. With FLUXGATE_TEST_LOG=debug the API server's
// output goes to stderr.
func StartWorkloadTrustingHub(hub *rest.Config, audience string, readers ...types.NamespacedName) (*Workload, error) {
	issuer, err := PublishHubIssuer(hub)
	if err != nil {
		return nil, err
	}
	w := &Workload{issuer: issuer}
	ok := false
	defer func() {
		if !ok {
			issuer.Close()
			if w.dir != "" {
				_ = os.RemoveAll(w.dir)
			}
		}
	}()
	authn, err := issuer.AuthenticationConfig(audience)
	if err != nil {
		return nil, err
	}
	if w.dir, err = os.MkdirTemp("", "fluxgate-workload-"); err != nil {
		return nil, err
	}
	authnFile := filepath.Join(w.dir, "authentication.json")
	if err := os.WriteFile(authnFile, authn, 0o600); err != nil {
		return nil, err
	}
	assets, err := Assets()
	if err != nil {
		return nil, err
	}
	w.Env = &envtest.Environment{BinaryAssetsDirectory: assets}
	api := w.Env.ControlPlane.GetAPIServer()
	api.Configure().Set("authentication-config", authnFile)
	if os.Getenv("FLUXGATE_TEST_LOG") == "debug" {
		api.Out, api.Err = os.Stderr, os.Stderr
	}
	cfg, err := w.Env.Start()
	if err != nil {
		return nil, fmt.Errorf("start the workload cluster: %w", err)
	}
	if w.Client, err = client.New(cfg, client.Options{}); err != nil {
		_ = w.Env.Stop()
		return nil, err
	}
	if err := grantGuardReads(w.Client, readers); err != nil {
		_ = w.Env.Stop()
		return nil, err
	}
	ok = true
	return w, nil
}

// HubIssuer serves a hub's ServiceAccount token issuer to another API
// server: the hub's OIDC discovery document, its jwks_uri pointing here,
// and the hub's keys, read from the hub, from 127.0.0.1 (the hub's own
// document names its advertised address, which a test may not reach).
type HubIssuer struct {
	// Issuer is the hub's, as its tokens name it (iss).
	Issuer string
	// DiscoveryURL is where the discovery document is served.
	DiscoveryURL string
	// CA is the PEM of the certificate that serves it.
	CA  []byte
	srv *httptest.Server
}

// Close stops serving.
func (h *HubIssuer) Close() { h.srv.Close() }

// AuthenticationConfig is a kube-apiserver --authentication-config that
// authenticates the hub's ServiceAccount tokens for audience, with the
// token's subject as the user name (system:serviceaccount:<ns>:<name>).
// The API server's own --service-account-issuer must differ from the
// hub's.
func (h *HubIssuer) AuthenticationConfig(audience string) ([]byte, error) {
	return json.Marshal(map[string]any{
		"apiVersion": "apiserver.config.k8s.io/v1", "kind": "AuthenticationConfiguration",
		"jwt": []any{map[string]any{
			"issuer": map[string]any{"url": h.Issuer, "discoveryURL": h.DiscoveryURL,
				"audiences": []string{audience}, "certificateAuthority": string(h.CA)},
			"claimMappings": map[string]any{"username": map[string]any{"claim": "sub", "prefix": ""}},
		}},
	})
}

// PublishHubIssuer serves the issuer of the hub (the API server of hub,
// an admin's configuration) until Close.
func PublishHubIssuer(hub *rest.Config) (*HubIssuer, error) {
	hc, err := rest.HTTPClientFor(hub)
	if err != nil {
		return nil, err
	}
	read := func(path string) ([]byte, error) {
		resp, err := hc.Get(strings.TrimSuffix(hub.Host, "/") + path)
		if err != nil {
			return nil, err
		}
		defer resp.Body.Close()
		b, err := io.ReadAll(resp.Body)
		if err == nil && resp.StatusCode != http.StatusOK {
			err = fmt.Errorf("GET %s from the hub: %s: %s", path, resp.Status, b)
		}
		return b, err
	}
	b, err := read("/.well-known/openid-configuration")
	if err != nil {
		return nil, err
	}
	var doc map[string]any
	if err := json.Unmarshal(b, &doc); err != nil {
		return nil, fmt.Errorf("the hub's OIDC discovery document: %w", err)
	}
	issuer, _ := doc["issuer"].(string)
	if issuer == "" {
		return nil, errors.New("the hub's OIDC discovery document names no issuer")
	}
	keys, err := read("/openid/v1/jwks")
	if err != nil {
		return nil, err
	}
	srv := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		switch r.URL.Path {
		case "/.well-known/openid-configuration":
			published := maps.Clone(doc)
			published["jwks_uri"] = "https://" + r.Host + "/openid/v1/jwks"
			_ = json.NewEncoder(w).Encode(published)
		case "/openid/v1/jwks":
			_, _ = w.Write(keys)
		default:
			http.NotFound(w, r)
		}
	}))
	return &HubIssuer{Issuer: issuer, DiscoveryURL: srv.URL + "/.well-known/openid-configuration",
		CA: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: srv.Certificate().Raw}), srv: srv}, nil
}

func grantGuardReads(c client.Client, readers []types.NamespacedName) error {
	ctx := context.Background()
	role := &rbacv1.ClusterRole{ObjectMeta: metav1.ObjectMeta{Name: "fluxgate-guard"}, Rules: []rbacv1.PolicyRule{
		{APIGroups: []string{""}, Resources: []string{"nodes", "pods"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"apps"}, Resources: []string{"daemonsets"}, Verbs: []string{"get", "list", "watch"}},
		{APIGroups: []string{"policy"}, Resources: []string{"poddisruptionbudgets"}, Verbs: []string{"get", "list", "watch"}},
	}}
	if err := c.Create(ctx, role); err != nil {
		return fmt.Errorf("create ClusterRole %s in the workload cluster: %w", role.Name, err)
	}
	binding := &rbacv1.ClusterRoleBinding{ObjectMeta: metav1.ObjectMeta{Name: "fluxgate-guard"},
		RoleRef: rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: role.Name}}
	for _, sa := range readers {
		// The hub's ServiceAccount, by the user name its tokens carry.
		binding.Subjects = append(binding.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Namespace: sa.Namespace, Name: sa.Name})
	}
	if err := c.Create(ctx, binding); err != nil {
		return fmt.Errorf("create ClusterRoleBinding %s in the workload cluster: %w", binding.Name, err)
	}
	return nil
}
