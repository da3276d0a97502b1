package certs

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net/http"
	"os"
	"sync"
	"testing"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/controller-runtime/pkg/client"
	"sigs.k8s.io/controller-runtime/pkg/envtest"

	"github.com/fluxgate/fluxgate/internal/testenv"
)

// The rotator's suite runs against a real kube-apiserver (envtest).
var k8s client.Client

func TestMain(m *testing.M) {
	os.Exit(runSuite(m))
}

func runSuite(m *testing.M) int {
	assets, err := testenv.Assets()
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	env := &envtest.Environment{BinaryAssetsDirectory: assets}
	cfg, err := env.Start()
	if err != nil {
		fmt.Fprintln(os.Stderr, "start envtest:", err)
		return 1
	}
	defer func() { _ = env.Stop() }()
	if k8s, err = client.New(cfg, client.Options{}); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return 1
	}
	return m.Run()
}

// namespace creates a namespace of its own for one test.
func namespace(t *testing.T) string {
	t.Helper()
	ns := &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{GenerateName: "certs-"}}
	if err := k8s.Create(context.Background(), ns); err != nil {
		t.Fatal(err)
	}
	return ns.Name
}

func webhookConfigs(t *testing.T, name string) {
	t.Helper()
	ctx := context.Background()
	url := "https://127.0.0.1:9443/validate"
	none := admissionregistrationv1.SideEffectClassNone
	rules := []admissionregistrationv1.RuleWithOperations{{
		Operations: []admissionregistrationv1.OperationType{admissionregistrationv1.Create},
		Rule: admissionregistrationv1.Rule{APIGroups: []string{"apps"}, APIVersions: []string{"v1"},
			Resources: []string{"deployments"}, Scope: ptr.To(admissionregistrationv1.NamespacedScope)},
	}}
	mutating := &admissionregistrationv1.MutatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.MutatingWebhook{{
			Name: "mutate.fluxgate.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			FailurePolicy: ptr.To(admissionregistrationv1.Ignore),
			// Matches nothing: the suite never calls it.
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "true"}},
		}},
	}
	validating := &admissionregistrationv1.ValidatingWebhookConfiguration{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Webhooks: []admissionregistrationv1.ValidatingWebhook{{
			Name: "validate.fluxgate.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			FailurePolicy:     ptr.To(admissionregistrationv1.Ignore),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "true"}},
		}, {
			Name: "validate-pdb.fluxgate.dev", ClientConfig: admissionregistrationv1.WebhookClientConfig{URL: &url},
			Rules: rules, SideEffects: &none, AdmissionReviewVersions: []string{"v1"},
			FailurePolicy:     ptr.To(admissionregistrationv1.Ignore),
			NamespaceSelector: &metav1.LabelSelector{MatchLabels: map[string]string{"never": "true"}},
		}},
	}
	for _, obj := range []client.Object{mutating, validating} {
		if err := k8s.Create(ctx, obj); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { _ = k8s.Delete(context.Background(), obj) })
	}
}

func newRotator(ns, webhooks string) *Rotator {
	r := &Rotator{
		Client: k8s, Secret: types.NamespacedName{Namespace: ns, Name: "fluxgate-webhook-tls"},
		Hosts: []string{"fluxgate-webhook." + ns + ".svc", "127.0.0.1"}, Log: logr.Discard(),
	}
	if webhooks != "" {
		r.MutatingWebhooks, r.ValidatingWebhooks = []string{webhooks}, []string{webhooks}
	}
	return r
}

func injectedBundles(t *testing.T, name string) [][]byte {
	t.Helper()
	ctx := context.Background()
	var out [][]byte
	m := &admissionregistrationv1.MutatingWebhookConfiguration{}
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8s.Get(ctx, types.NamespacedName{Name: name}, m); err != nil {
		t.Fatal(err)
	}
	if err := k8s.Get(ctx, types.NamespacedName{Name: name}, v); err != nil {
		t.Fatal(err)
	}
	for _, w := range m.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	for _, w := range v.Webhooks {
		out = append(out, w.ClientConfig.CABundle)
	}
	return out
}

func TestReplicasRacingOnAnEmptyNamespaceAgreeOnOnePair(t *testing.T) {
	ns := namespace(t)
	rotators := []*Rotator{newRotator(ns, ""), newRotator(ns, ""), newRotator(ns, "")}
	var wg sync.WaitGroup
	errs := make([]error, len(rotators))
	for i, r := range rotators {
		wg.Go(func() { errs[i] = r.Sync(context.Background()) })
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			t.Fatalf("replica %d: %v", i, err)
		}
	}
	// A replica that lost the race adopts the winner's pair on its next
	// read, as every replica does each interval.
	for _, r := range rotators {
		if err := r.Sync(context.Background()); err != nil {
			t.Fatal(err)
		}
	}
	secret := &corev1.Secret{}
	if err := k8s.Get(context.Background(), rotators[0].Secret, secret); err != nil {
		t.Fatal(err)
	}
	for i, r := range rotators {
		served, err := r.GetCertificate(nil)
		if err != nil {
			t.Fatal(err)
		}
		if !served.Leaf.Equal(leafOf(t, secret.Data)) {
			t.Errorf("replica %d serves a certificate that is not the Secret's", i)
		}
	}
}

func TestCABundleIsInjectedAndRestored(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	webhookConfigs(t, ns)
	r := newRotator(ns, ns)
	if err := r.Ready(nil); err == nil {
		t.Fatal("ready before any certificate")
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(nil); err != nil {
		t.Fatalf("not ready after a sync: %v", err)
	}
	secret := &corev1.Secret{}
	if err := k8s.Get(ctx, r.Secret, secret); err != nil {
		t.Fatal(err)
	}
	for i, b := range injectedBundles(t, ns) {
		if string(b) != string(secret.Data[CABundleKey]) {
			t.Fatalf("webhook %d has no CA bundle or a wrong one", i)
		}
	}

	// Someone (a re-applied manifest) blanks a bundle: the next sync puts
	// it back.
	v := &admissionregistrationv1.ValidatingWebhookConfiguration{}
	if err := k8s.Get(ctx, types.NamespacedName{Name: ns}, v); err != nil {
		t.Fatal(err)
	}
	v.Webhooks[1].ClientConfig.CABundle = nil
	if err := k8s.Update(ctx, v); err != nil {
		t.Fatal(err)
	}
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	for i, b := range injectedBundles(t, ns) {
		if string(b) != string(secret.Data[CABundleKey]) {
			t.Fatalf("webhook %d not restored", i)
		}
	}
}

func TestMissingWebhookConfigurationIsNotAnError(t *testing.T) {
	r := newRotator(namespace(t), "not-installed-yet")
	if err := r.Sync(context.Background()); err != nil {
		t.Fatal(err)
	}
	if err := r.Ready(nil); err != nil {
		t.Fatal(err)
	}
}

func TestServedPairVerifiesAgainstTheInjectedBundle(t *testing.T) {
	ctx := context.Background()
	ns := namespace(t)
	webhookConfigs(t, ns)
	r := newRotator(ns, ns)
	if err := r.Sync(ctx); err != nil {
		t.Fatal(err)
	}
	// httptest's StartTLS would add its own certificate, which Go prefers
	// when the client sends no server name (an IP address).
	ln, err := tls.Listen("tcp", "127.0.0.1:0", &tls.Config{GetCertificate: r.GetCertificate})
	if err != nil {
		t.Fatal(err)
	}
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_, _ = w.Write([]byte("ok"))
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	defer srv.Close()
	url := "https://" + ln.Addr().String()

	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(injectedBundles(t, ns)[0]) {
		t.Fatal("injected bundle holds no certificate")
	}
	for _, host := range []string{"127.0.0.1", "fluxgate-webhook." + ns + ".svc"} {
		c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool, ServerName: host}}}
		resp, err := c.Get(url)
		if err != nil {
			t.Fatalf("as %s: %v", host, err)
		}
		_ = resp.Body.Close()
	}
}
