package workloadidentity

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/base64"
	"encoding/json"
	"encoding/pem"
	"errors"
	"maps"
	"math/big"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	authnv1 "k8s.io/api/authentication/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/rest"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/client/fake"
	"sigs.k8s.io/controller-runtime/pkg/client/interceptor"
)

// testCA is a self-signed certificate in PEM, for ca.crt.
func testCA(t *testing.T) string {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "workload-ca"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(time.Hour), IsCA: true, BasicConstraintsValid: true}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	return string(pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}))
}

func cm(data map[string]string) *corev1.ConfigMap {
	return &corev1.ConfigMap{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: "prod"}, Data: data}
}

// What a kubeConfig ConfigMap says, and each way it cannot work, as Flux
// reads the same keys.
func TestParse(t *testing.T) {
	ca := testCA(t)
	for _, tc := range []struct {
		name     string
		data     map[string]string
		want     Config
		kind     Kind
		provider string
		errHas   string
	}{
		{
			name: "generic, all keys",
			data: map[string]string{"provider": "generic", "address": "https://API.Example.com:6443", "ca.crt": ca,
				"audiences": "aud-1\naud-2", "serviceAccountName": "prod-deployer", "cluster": "ignored"},
			want: Config{Provider: "generic", Address: "https://API.Example.com:6443", Host: "https://api.example.com:6443", CAData: []byte(ca),
				Audiences: []string{"aud-1", "aud-2"}, ServiceAccountName: "prod-deployer"},
		},
		{
			name: "generic, the address is the default audience, as written",
			data: map[string]string{"provider": "generic", "address": "api.example.com"},
			want: Config{Provider: "generic", Address: "api.example.com", Host: "https://api.example.com:443", Audiences: []string{"api.example.com"}},
		},
		{
			name: "audiences separated by commas and spaces",
			data: map[string]string{"provider": "generic", "address": "https://10.0.0.1:6443", "audiences": " a, b  c,\n"},
			want: Config{Provider: "generic", Address: "https://10.0.0.1:6443", Host: "https://10.0.0.1:6443", Audiences: []string{"a", "b", "c"}},
		},
		{name: "no provider", data: map[string]string{"address": "https://api:6443"}, kind: KindInvalid, errHas: `no "provider" key`},
		{name: "aws", data: map[string]string{"provider": "aws", "cluster": "arn:aws:eks:eu-west-1:123:cluster/prod"}, kind: KindProviderNotSupported, provider: "aws", errHas: `provider "aws"`},
		{name: "azure", data: map[string]string{"provider": "azure"}, kind: KindProviderNotSupported, provider: "azure", errHas: "generic provider only"},
		{name: "gcp", data: map[string]string{"provider": "gcp"}, kind: KindProviderNotSupported, provider: "gcp", errHas: "generic provider only"},
		{name: "unknown provider", data: map[string]string{"provider": "vault", "address": "https://api:6443"}, kind: KindProviderNotSupported, provider: "vault", errHas: "does not know"},
		{name: "generic without address", data: map[string]string{"provider": "generic"}, kind: KindInvalid, errHas: `no "address" key`},
		{name: "http address", data: map[string]string{"provider": "generic", "address": "http://api:6443"}, kind: KindInvalid, errHas: "must use the https scheme"},
		{name: "unparsable address", data: map[string]string{"provider": "generic", "address": "https://api:port"}, kind: KindInvalid, errHas: "parse Kubernetes API server address"},
		{name: "ca.crt not PEM", data: map[string]string{"provider": "generic", "address": "https://api:6443", "ca.crt": "not a certificate"}, kind: KindInvalid, errHas: `"ca.crt" is not PEM certificates`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			got, err := Parse(cm(tc.data))
			if tc.errHas == "" {
				if err != nil {
					t.Fatal(err)
				}
				if g, w := mustJSON(t, got), mustJSON(t, tc.want); g != w {
					t.Fatalf("got %s\nwant %s", g, w)
				}
				return
			}
			var e *Error
			if !errors.As(err, &e) {
				t.Fatalf("error %v (%T), want an *Error", err, err)
			}
			if e.Kind != tc.kind || e.Provider != tc.provider || !strings.Contains(err.Error(), tc.errHas) || !strings.Contains(err.Error(), "fleet/prod") {
				t.Fatalf("error kind %d provider %q %q; want kind %d provider %q, containing %q and the ConfigMap", e.Kind, e.Provider, err, tc.kind, tc.provider, tc.errHas)
			}
		})
	}
}

func mustJSON(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// Flux's canonical form of an address.
func TestParseClusterAddress(t *testing.T) {
	for in, want := range map[string]string{
		"https://API.example.com":      "https://api.example.com:443",
		"api.example.com:6443":         "https://api.example.com:6443",
		"https://127.0.0.1:6443/path":  "https://127.0.0.1:6443",
		"https://[::1]:6443":           "https://[::1]:6443",
		"  https://api.example.com  ":  "https://api.example.com:443",
		"http://api.example.com:80":    "",
		"":                             "",
		"https://":                     "",
		"ftp://api.example.com:6443/x": "",
	} {
		got, err := ParseClusterAddress(in)
		if want == "" {
			if err == nil {
				t.Errorf("%q: %q, want an error", in, got)
			}
			continue
		}
		if err != nil || got != want {
			t.Errorf("%q: %q, %v; want %q", in, got, err, want)
		}
	}
}

func jwt(t *testing.T, claims map[string]any) string {
	t.Helper()
	b, err := json.Marshal(claims)
	if err != nil {
		t.Fatal(err)
	}
	enc := base64.RawURLEncoding
	return enc.EncodeToString([]byte(`{"alg":"none"}`)) + "." + enc.EncodeToString(b) + "." + enc.EncodeToString([]byte("sig"))
}

func TestParseToken(t *testing.T) {
	c, err := ParseToken(jwt(t, map[string]any{"sub": "system:serviceaccount:fluxgate-system:fluxgate", "aud": []string{"https://kubernetes.default.svc", "k3s"}}))
	if err != nil || c.Subject != "system:serviceaccount:fluxgate-system:fluxgate" || strings.Join(c.Audiences, ",") != "https://kubernetes.default.svc,k3s" {
		t.Errorf("claims %+v, %v", c, err)
	}
	if c, err := ParseToken(jwt(t, map[string]any{"aud": "one"})); err != nil || len(c.Audiences) != 1 || c.Audiences[0] != "one" {
		t.Errorf("a single aud string: %+v, %v", c, err)
	}
	for _, bad := range []string{"", "a.b", "a.!!!.c", "a." + base64.RawURLEncoding.EncodeToString([]byte("[]")) + ".c", jwt(t, map[string]any{"aud": 3})} {
		if _, err := ParseToken(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestServiceAccountFromSubject(t *testing.T) {
	if sa, err := ServiceAccountFromSubject("system:serviceaccount:flux-system:kustomize-controller"); err != nil || sa != (types.NamespacedName{Namespace: "flux-system", Name: "kustomize-controller"}) {
		t.Errorf("%v, %v", sa, err)
	}
	for _, bad := range []string{"", "system:serviceaccount:ns", "system:node:n1:x", "system:serviceaccount::name", "admin"} {
		if _, err := ServiceAccountFromSubject(bad); err == nil {
			t.Errorf("%q: no error", bad)
		}
	}
}

func TestServiceAccountFromTokenFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "token")
	if err := os.WriteFile(path, []byte(jwt(t, map[string]any{"sub": "system:serviceaccount:fluxgate-system:fluxgate"})+"\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	if sa, err := ServiceAccountFromTokenFile(path); err != nil || sa.String() != "fluxgate-system/fluxgate" {
		t.Errorf("%v, %v", sa, err)
	}
	if _, err := ServiceAccountFromTokenFile(filepath.Join(t.TempDir(), "none")); err == nil {
		t.Error("a missing token file: no error")
	}
}

func TestCheckAudiences(t *testing.T) {
	hub := []string{"https://kubernetes.default.svc.cluster.local", "k3s"}
	if err := CheckAudiences([]string{"https://prod.example.com:6443"}, hub); err != nil {
		t.Error(err)
	}
	err := CheckAudiences([]string{"prod", "k3s"}, hub)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindInvalid || !strings.Contains(err.Error(), `"k3s"`) {
		t.Errorf("an audience of the hub: %v", err)
	}
}

// tokenServer answers TokenRequests like the hub's API: tokens of the
// lifetime given, numbered, with their expiry in the exp claim, as the
// API server writes it; a ServiceAccount named missing does not exist.
type tokenServer struct {
	mu       sync.Mutex
	lifetime time.Duration
	now      func() time.Time
	issued   []string // namespace/name audiences
}

func (s *tokenServer) client(t *testing.T) client.Client {
	var sas []client.Object
	for _, name := range []string{"prod-deployer", "fluxgate"} {
		sas = append(sas, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Namespace: "fleet", Name: name}})
	}
	return fake.NewClientBuilder().WithObjects(sas...).WithInterceptorFuncs(interceptor.Funcs{
		SubResourceCreate: func(_ context.Context, _ client.Client, sub string, obj client.Object, req client.Object, _ ...client.SubResourceCreateOption) error {
			s.mu.Lock()
			defer s.mu.Unlock()
			tr := req.(*authnv1.TokenRequest)
			if sub != "token" {
				t.Errorf("subresource %q", sub)
			}
			if obj.GetName() == "missing" {
				return apierrors.NewNotFound(schema.GroupResource{Resource: "serviceaccounts"}, obj.GetName())
			}
			s.issued = append(s.issued, obj.GetNamespace()+"/"+obj.GetName()+" "+strings.Join(tr.Spec.Audiences, ","))
			exp := s.now().Add(s.lifetime)
			tr.Status.Token = jwt(t, map[string]any{"sub": "system:serviceaccount:" + obj.GetNamespace() + ":" + obj.GetName(),
				"n": len(s.issued), "aud": tr.Spec.Audiences, "exp": exp.Unix()})
			tr.Status.ExpirationTimestamp = metav1.NewTime(exp)
			return nil
		},
	}).Build()
}

func source(t *testing.T, srv *tokenServer, data map[string]string, own string, clock func() time.Time) *TokenSource {
	t.Helper()
	base := map[string]string{"provider": "generic", "address": "https://workload.example.com:6443", "audiences": "prod"}
	maps.Copy(base, data)
	cfg, err := Parse(cm(base))
	if err != nil {
		t.Fatal(err)
	}
	src := &TokenSource{Client: srv.client(t), Config: cfg, Namespace: "fleet", Now: clock}
	if own != "" {
		src.Own = types.NamespacedName{Namespace: "fleet", Name: own}
	}
	return src
}

// A token is kept until 80% of its lifetime has passed, then renewed;
// Flux's generic provider requests it for the ServiceAccount the
// ConfigMap names, or for the controller's own.
func TestTokenSourceRenewsBeforeExpiry(t *testing.T) {
	now := time.Now()
	clock := func() time.Time { return now }
	srv := &tokenServer{lifetime: time.Hour, now: clock}
	src := source(t, srv, map[string]string{"serviceAccountName": "prod-deployer"}, "", clock)
	ctx := context.Background()
	first, err := src.Token(ctx)
	if err != nil {
		t.Fatal(err)
	}
	now = now.Add(47 * time.Minute)
	if again, _ := src.Token(ctx); again != first || src.Requests() != 1 {
		t.Fatalf("at 47 of 60 minutes: a new token (requests %d), want the same", src.Requests())
	}
	now = now.Add(2 * time.Minute) // 49 minutes: past 80%
	renewed, err := src.Token(ctx)
	if err != nil || renewed == first || src.Requests() != 2 {
		t.Fatalf("at 49 of 60 minutes: renewed %v, requests %d, err %v; want a new token", renewed != first, src.Requests(), err)
	}
	if strings.Join(srv.issued, ";") != "fleet/prod-deployer prod;fleet/prod-deployer prod" {
		t.Errorf("requests %q, want two of fleet/prod-deployer with audience prod", srv.issued)
	}

	// No serviceAccountName: the controller's own ServiceAccount.
	srv.issued = nil
	own := source(t, srv, nil, "fluxgate", clock)
	if _, err := own.Token(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Join(srv.issued, ";") != "fleet/fluxgate prod" {
		t.Errorf("requests %q, want one of fleet/fluxgate with audience prod", srv.issued)
	}

	// The default audience: the address as written.
	srv.issued = nil
	if _, err := source(t, srv, map[string]string{"audiences": "", "serviceAccountName": "prod-deployer"}, "", clock).Token(ctx); err != nil {
		t.Fatal(err)
	}
	if strings.Join(srv.issued, ";") != "fleet/prod-deployer https://workload.example.com:6443" {
		t.Errorf("requests %q, want the address as the audience", srv.issued)
	}

	_, err = source(t, srv, map[string]string{"serviceAccountName": "missing"}, "", clock).Token(ctx)
	var e *Error
	if !errors.As(err, &e) || e.Kind != KindCredentials || !apierrors.IsNotFound(err) || !strings.Contains(err.Error(), "fleet/missing") {
		t.Errorf("a missing ServiceAccount: %v", err)
	}
}

// Every request to the remote cluster carries the source's current token
// and goes to the ConfigMap's address.
func TestRESTConfigSendsTheToken(t *testing.T) {
	var mu sync.Mutex
	var seen []string
	api := httptest.NewTLSServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		seen = append(seen, r.Header.Get("Authorization"))
		mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write([]byte(`{"kind":"NodeList","apiVersion":"v1","metadata":{},"items":[]}`))
	}))
	defer api.Close()
	now := time.Now()
	clock := func() time.Time { return now }
	srv := &tokenServer{lifetime: time.Hour, now: clock}
	src := source(t, srv, map[string]string{"address": api.URL, "ca.crt": string(pemOf(t, api)), "serviceAccountName": "prod-deployer"}, "", clock)
	rc := RESTConfig(src.Config, src, 5*time.Second)
	hc, err := rest.HTTPClientFor(rc)
	if err != nil {
		t.Fatal(err)
	}
	list := func() {
		t.Helper()
		resp, err := hc.Get(rc.Host + "/api/v1/nodes")
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
	}
	list()
	now = now.Add(50 * time.Minute)
	list()
	mu.Lock()
	defer mu.Unlock()
	if len(seen) != 2 || seen[0] == seen[len(seen)-1] || !strings.HasPrefix(seen[0], "Bearer ") {
		t.Fatalf("Authorization headers %q: want a bearer token, renewed after 50 minutes", seen)
	}
	if rc.Host != api.URL || rc.Timeout != 5*time.Second {
		t.Errorf("rest.Config host %s timeout %s", rc.Host, rc.Timeout)
	}
}

func pemOf(t *testing.T, s *httptest.Server) []byte {
	t.Helper()
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: s.Certificate().Raw})
}
