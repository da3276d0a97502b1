package workloadidentity

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/fluxcd/pkg/apis/meta"
	"github.com/fluxcd/pkg/auth"
	"github.com/fluxcd/pkg/auth/generic"
	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	certutil "k8s.io/client-go/util/cert"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Provider names, as Flux spells them in the ConfigMap's provider key.
const (
	ProviderGeneric = "generic"
	ProviderAWS     = "aws"
	ProviderAzure   = "azure"
	ProviderGCP     = "gcp"
)

// TokenFile is where a pod finds its own ServiceAccount token.
const TokenFile = "/var/run/secrets/kubernetes.io/serviceaccount/token"

// Kind tells what an [Error] is about.
type Kind int

const (
	// KindInvalid: the ConfigMap cannot work as written.
	KindInvalid Kind = iota
	// KindProviderNotSupported: the ConfigMap names a provider this
	// package does not implement.
	KindProviderNotSupported
	// KindCredentials: the hub refused the ServiceAccount token.
	KindCredentials
)

// Error is a ConfigMap that cannot be used, or a token that cannot be had.
type Error struct {
	Kind Kind
	// Provider is the ConfigMap's provider, for KindProviderNotSupported.
	Provider string
	Err      error
}

func (e *Error) Error() string { return e.Err.Error() }

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

func invalid(format string, args ...any) error {
	return &Error{Kind: KindInvalid, Err: fmt.Errorf(format, args...)}
}

// Config is what a kubeConfig ConfigMap says, for the generic provider.
type Config struct {
	// Provider is the ConfigMap's provider: generic.
	Provider string
	// Address is the API server's address as the ConfigMap writes it.
	Address string
	// Host is the API server's address in Flux's canonical form,
	// https://<lower-case host>:<port>.
	Host string
	// CAData is the PEM of ca.crt; empty trusts the system's roots.
	CAData []byte
	// Audiences of the token: the ConfigMap's, else the address as written.
	Audiences []string
	// ServiceAccountName is the ConfigMap's serviceAccountName, in the
	// ConfigMap's namespace; empty means the controller's own.
	ServiceAccountName string
}

// Parse reads a kubeConfig ConfigMap as Flux does. A provider other than
// generic is an *Error of KindProviderNotSupported naming it; a ConfigMap
// that cannot work (no provider, no address, an address that is not
// https, a ca.crt that is not PEM certificates) one of KindInvalid.
func Parse(cm *corev1.ConfigMap) (Config, error) {
	what := fmt.Sprintf("the kubeConfig ConfigMap %s/%s", cm.Namespace, cm.Name)
	provider := strings.TrimSpace(cm.Data[meta.KubeConfigKeyProvider])
	switch provider {
	case ProviderGeneric:
	case "":
		return Config{}, invalid("%s has no %q key (one of generic, aws, azure, gcp)", what, meta.KubeConfigKeyProvider)
	case ProviderAWS, ProviderAzure, ProviderGCP:
		return Config{}, &Error{Kind: KindProviderNotSupported, Provider: provider,
			Err: fmt.Errorf("%s names provider %q: fluxgate supports the generic provider only", what, provider)}
	default:
		return Config{}, &Error{Kind: KindProviderNotSupported, Provider: provider,
			Err: fmt.Errorf("%s names provider %q, which Flux does not know either (generic, aws, azure, gcp)", what, provider)}
	}
	address := cm.Data[meta.KubeConfigKeyAddress]
	if strings.TrimSpace(address) == "" {
		return Config{}, invalid("%s has no %q key: the generic provider needs the API server's address", what, meta.KubeConfigKeyAddress)
	}
	host, err := ParseClusterAddress(address)
	if err != nil {
		return Config{}, invalid("%s: %w", what, err)
	}
	c := Config{Provider: provider, Address: address, Host: host, ServiceAccountName: strings.TrimSpace(cm.Data[meta.KubeConfigKeyServiceAccountName])}
	if ca := cm.Data[meta.KubeConfigKeyCACert]; strings.TrimSpace(ca) != "" {
		if _, err := certutil.ParseCertsPEM([]byte(ca)); err != nil {
			return Config{}, invalid("%s: %q is not PEM certificates: %w", what, meta.KubeConfigKeyCACert, err)
		}
		c.CAData = []byte(ca)
	}
	c.Audiences = strings.FieldsFunc(cm.Data[meta.KubeConfigKeyAudiences], func(r rune) bool {
		return r == ',' || r == ' ' || r == '\t' || r == '\n' || r == '\r'
	})
	if len(c.Audiences) == 0 {
		// Flux's generic provider: the address, as written, is the
		// default audience.
		c.Audiences = []string{address}
	}
	return c, nil
}

// ParseClusterAddress returns an API server address in Flux's canonical
// form, https://<lower-case host>:<port> (port 443 when none is given),
// with Flux's own auth.ParseClusterAddress. An address with a scheme
// other than https is refused first (Flux would take "ftp://host" for a
// host name).
func ParseClusterAddress(address string) (string, error) {
	address = strings.TrimSpace(address)
	if scheme, _, ok := strings.Cut(address, "://"); ok && scheme != "https" {
		return "", fmt.Errorf("the Kubernetes API server address %q must use the https scheme", address)
	}
	host, err := auth.ParseClusterAddress(address)
	if err != nil {
		return "", err
	}
	if strings.HasPrefix(host, "https://:") {
		return "", fmt.Errorf("the Kubernetes API server address %q has no host", address)
	}
	return host, nil
}

// TokenSource obtains the tokens of one ServiceAccount of the hub for
// given audiences with Flux's generic provider (auth.GetRESTConfig with
// generic.Provider): a TokenRequest for the ServiceAccount the ConfigMap
// names (Flux's object-level workload identity), else for the
// controller's own ServiceAccount, which Flux finds in the pod's token.
// It keeps each token until 80% of its lifetime has passed.
type TokenSource struct {
	// Client reads ServiceAccounts from the hub and creates their tokens
	// (serviceaccounts get, serviceaccounts/token create). Its reads must
	// go to the API server, not to an informer cache.
	Client client.Client
	// Config is the ConfigMap's.
	Config Config
	// Namespace is the ConfigMap's: that of the ServiceAccount it names.
	Namespace string
	// Own is the controller's own ServiceAccount, for a ConfigMap that
	// names none; when empty, Flux reads it from the pod's token
	// (TokenFile).
	Own types.NamespacedName
	// Now is the clock; time.Now when nil.
	Now func() time.Time

	mu        sync.Mutex
	token     string
	refreshAt time.Time
	requests  int
}

// enableObjectLevel turns on Flux's ObjectLevelWorkloadIdentity feature
// gate, which Flux's auth package asks for before it issues a token of a
// ServiceAccount a ConfigMap names. Flux controllers leave it to a flag;
// a guard follows what the Flux objects' ConfigMap says. Through a
// sync.Once, every goroutine that reads the gate has seen it set.
var enableObjectLevel sync.Once

// Token returns a token that has at least a fifth of its lifetime left,
// obtaining a new one when the one it holds has not.
func (s *TokenSource) Token(ctx context.Context) (string, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := s.now()
	if s.token != "" && now.Before(s.refreshAt) {
		return s.token, nil
	}
	enableObjectLevel.Do(auth.EnableObjectLevelWorkloadIdentity)
	opts := []auth.Option{
		auth.WithClient(s.Client),
		auth.WithClusterAddress(s.Config.Address),
		auth.WithAudiences(s.Config.Audiences...),
	}
	if len(s.Config.CAData) > 0 {
		opts = append(opts, auth.WithCAData(string(s.Config.CAData)))
	}
	if s.Config.ServiceAccountName != "" {
		opts = append(opts, auth.WithServiceAccountNamespace(s.Namespace), auth.WithServiceAccountName(s.Config.ServiceAccountName))
	}
	rc, err := auth.GetRESTConfig(ctx, generic.Provider{Implementation: ownToken{s.Own}}, opts...)
	if err != nil {
		return "", &Error{Kind: KindCredentials, Err: fmt.Errorf("obtain a token of %s with audiences %v from the hub: %w", s.identity(), s.Config.Audiences, err)}
	}
	s.requests++
	s.token = rc.BearerToken
	// Flux's token cache and the kubelet rotate at 80% of the lifetime.
	s.refreshAt = now.Add(rc.ExpiresAt.Sub(now) * 8 / 10)
	return s.token, nil
}

// identity names the ServiceAccount whose tokens the source obtains.
func (s *TokenSource) identity() string {
	switch {
	case s.Config.ServiceAccountName != "":
		return "ServiceAccount " + s.Namespace + "/" + s.Config.ServiceAccountName
	case s.Own.Name != "":
		return "ServiceAccount " + s.Own.String() + " (fluxgate's own)"
	}
	return "fluxgate's own ServiceAccount"
}

// Requests says how many tokens the source has obtained.
func (s *TokenSource) Requests() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.requests
}

func (s *TokenSource) now() time.Time {
	if s.Now != nil {
		return s.Now()
	}
	return time.Now()
}

// ownToken is the generic.Implementation through which Flux's generic
// provider reads the controller's token to find the controller's
// ServiceAccount (its subject; the token itself is not used). With sa
// known (fluxgate serve's --service-account), it answers with a token
// naming sa, so that a process outside a pod has an identity too;
// otherwise it reads the file, as Flux does.
type ownToken struct{ sa types.NamespacedName }

func (o ownToken) ReadFile(name string) ([]byte, error) {
	if o.sa.Name == "" || name != TokenFile {
		return os.ReadFile(name)
	}
	claims, err := json.Marshal(map[string]any{"sub": "system:serviceaccount:" + o.sa.Namespace + ":" + o.sa.Name})
	if err != nil {
		return nil, err
	}
	enc := base64.RawURLEncoding
	return []byte(enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(claims) + "."), nil
}

// RequestToken asks the hub's TokenRequest API for a token of sa with the
// audiences (the API server's own when none), and returns it with its
// expiry. A refusal is an *Error of KindCredentials.
func RequestToken(ctx context.Context, c client.Client, sa types.NamespacedName, audiences []string) (string, time.Time, error) {
	req := &authnv1.TokenRequest{Spec: authnv1.TokenRequestSpec{Audiences: audiences}}
	obj := &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: sa.Namespace, Name: sa.Name}}
	if err := c.SubResource("token").Create(ctx, obj, req); err != nil {
		return "", time.Time{}, &Error{Kind: KindCredentials,
			Err: fmt.Errorf("request a token of ServiceAccount %s with audiences %v from the hub: %w", sa, audiences, err)}
	}
	if req.Status.Token == "" {
		return "", time.Time{}, &Error{Kind: KindCredentials, Err: fmt.Errorf("the hub returned an empty token for ServiceAccount %s", sa)}
	}
	return req.Status.Token, req.Status.ExpirationTimestamp.Time, nil
}

// CheckAudiences refuses audiences that the hub itself accepts (hub, the
// audiences of a token the hub issues by default), as Flux does: such a
// token would let whoever receives it at the ConfigMap's address act on
// the hub as the ServiceAccount.
func CheckAudiences(audiences, hub []string) error {
	for _, a := range audiences {
		if slices.Contains(hub, a) {
			return invalid("audience %q is not allowed: it is an audience of the hub's own API server, so the token would be valid against the hub", a)
		}
	}
	return nil
}

// RESTConfig returns the configuration of a client of the cluster at
// c.Host, trusting c.CAData, that sends a token from src with every
// request (as Flux's restConfigRoundTripper does), so that a token is
// renewed even in the middle of a long reconcile.
func RESTConfig(c Config, src *TokenSource, timeout time.Duration) *rest.Config {
	cfg := &rest.Config{
		Host:            c.Host,
		TLSClientConfig: rest.TLSClientConfig{CAData: c.CAData},
		Timeout:         timeout,
		UserAgent:       "fluxgate",
	}
	cfg.Wrap(func(base http.RoundTripper) http.RoundTripper {
		return &bearer{base: base, src: src}
	})
	return cfg
}

type bearer struct {
	base http.RoundTripper
	src  *TokenSource
}

func (b *bearer) RoundTrip(req *http.Request) (*http.Response, error) {
	token, err := b.src.Token(req.Context())
	if err != nil {
		return nil, err
	}
	req = req.Clone(req.Context())
	req.Header.Set("Authorization", "Bearer "+token)
	return b.base.RoundTrip(req)
}

// Claims are the claims of a ServiceAccount token this package reads.
type Claims struct {
	Subject   string
	Audiences []string
}

// ParseToken reads the claims of a JWT without verifying it: the token
// comes from the hub's API server or the pod's own token file.
func ParseToken(token string) (Claims, error) {
	parts := strings.Split(token, ".")
	if len(parts) != 3 {
		return Claims{}, errors.New("not a JWT: want three dot-separated parts")
	}
	payload, err := base64.RawURLEncoding.DecodeString(strings.TrimRight(parts[1], "="))
	if err != nil {
		return Claims{}, fmt.Errorf("decode the JWT payload: %w", err)
	}
	var raw struct {
		Sub string          `json:"sub"`
		Aud json.RawMessage `json:"aud"`
	}
	if err := json.Unmarshal(payload, &raw); err != nil {
		return Claims{}, fmt.Errorf("read the JWT claims: %w", err)
	}
	c := Claims{Subject: raw.Sub}
	if len(raw.Aud) > 0 {
		var one string
		if err := json.Unmarshal(raw.Aud, &one); err == nil {
			c.Audiences = []string{one}
		} else if err := json.Unmarshal(raw.Aud, &c.Audiences); err != nil {
			return Claims{}, fmt.Errorf("read the JWT's aud claim: %w", err)
		}
	}
	return c, nil
}

// ServiceAccountFromSubject parses system:serviceaccount:<ns>:<name>.
func ServiceAccountFromSubject(sub string) (types.NamespacedName, error) {
	parts := strings.Split(sub, ":")
	if len(parts) != 4 || parts[0] != "system" || parts[1] != "serviceaccount" || parts[2] == "" || parts[3] == "" {
		return types.NamespacedName{}, fmt.Errorf("subject %q is not system:serviceaccount:<namespace>:<name>", sub)
	}
	return types.NamespacedName{Namespace: parts[2], Name: parts[3]}, nil
}

// ServiceAccountFromTokenFile returns the ServiceAccount of the pod's own
// token (TokenFile), as Flux finds its controller's identity.
func ServiceAccountFromTokenFile(path string) (types.NamespacedName, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return types.NamespacedName{}, fmt.Errorf("read the ServiceAccount token file: %w", err)
	}
	claims, err := ParseToken(strings.TrimSpace(string(b)))
	if err != nil {
		return types.NamespacedName{}, fmt.Errorf("the ServiceAccount token file %s: %w", path, err)
	}
	sa, err := ServiceAccountFromSubject(claims.Subject)
	if err != nil {
		return types.NamespacedName{}, fmt.Errorf("the ServiceAccount token file %s: %w", path, err)
	}
	return sa, nil
}
