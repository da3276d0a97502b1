package certs

import (
	"bytes"
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"sync"
	"time"

	"github.com/go-logr/logr"
	admissionregistrationv1 "k8s.io/api/admissionregistration/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/controller-runtime/pkg/client"
)

// Defaults of a Rotator.
const (
	DefaultCAValidity   = 10 * 365 * 24 * time.Hour
	DefaultCertValidity = 365 * 24 * time.Hour
	DefaultInterval     = time.Minute
)

// Rotator keeps a CA and a serving certificate in a Secret, serves the
// pair and injects the CA bundle into webhook configurations. It is a
// controller-runtime Runnable that runs on every replica.
type Rotator struct {
	// Client reads and writes the Secret and the webhook configurations
	// directly (uncached: it needs get, update and patch on a few named
	// objects only).
	Client client.Client
	// Secret names the Secret holding the certificates. It is created when
	// missing (the chart creates it empty, so no create permission is
	// needed there).
	Secret types.NamespacedName
	// Hosts are the DNS names and IP addresses the serving certificate
	// covers; the first is its common name.
	Hosts []string
	// MutatingWebhooks and ValidatingWebhooks name the webhook
	// configurations whose every webhook gets the CA bundle.
	MutatingWebhooks   []string
	ValidatingWebhooks []string

	// CAValidity, CertValidity and Interval default to DefaultCAValidity,
	// DefaultCertValidity and DefaultInterval. Certificates are renewed
	// with a third of their lifetime left.
	CAValidity, CertValidity, Interval time.Duration
	// Now is the clock; time.Now when nil.
	Now func() time.Time
	Log logr.Logger

	mu       sync.RWMutex
	serving  *tls.Certificate
	bundle   []byte
	injected bool
}

// NeedLeaderElection implements manager.LeaderElectionRunnable: every
// replica serves, so every replica needs the certificate.
func (r *Rotator) NeedLeaderElection() bool { return false }

// Start syncs at once and then every Interval until ctx ends. Failures are
// logged and retried sooner; they never stop the process, which keeps
// serving the last good pair.
func (r *Rotator) Start(ctx context.Context) error {
	if len(r.Hosts) == 0 {
		return errors.New("certificate rotator: no hosts to issue the serving certificate for")
	}
	interval := r.interval()
	retry := time.Second
	for {
		wait := interval
		if err := r.Sync(ctx); err != nil {
			r.Log.Error(err, "certificate rotation failed; retrying", "secret", r.Secret.String(), "in", retry.String())
			wait, retry = retry, min(2*retry, interval)
		} else {
			retry = time.Second
		}
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// Sync makes the Secret hold a fresh CA and serving certificate for Hosts,
// loads the pair for serving and injects the CA bundle. A conflicting
// write by another replica is re-read and adopted.
func (r *Rotator) Sync(ctx context.Context) error {
	var err error
	for range 3 {
		if err = r.syncSecret(ctx); !apierrors.IsConflict(err) && !apierrors.IsAlreadyExists(err) {
			break
		}
	}
	if err != nil {
		return err
	}
	return r.inject(ctx)
}

// GetCertificate serves the current pair; it plugs into tls.Config.
func (r *Rotator) GetCertificate(*tls.ClientHelloInfo) (*tls.Certificate, error) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	if r.serving == nil {
		return nil, errors.New("no serving certificate yet")
	}
	return r.serving, nil
}

// Ready reports nil once a certificate is served and its CA bundle is in
// every named webhook configuration that exists.
func (r *Rotator) Ready(*http.Request) error {
	r.mu.RLock()
	defer r.mu.RUnlock()
	switch {
	case r.serving == nil:
		return fmt.Errorf("no serving certificate yet in Secret %s", r.Secret)
	case !r.injected:
		return errors.New("CA bundle not yet in the webhook configurations")
	}
	return nil
}

// syncSecret reads the Secret, renews what needs it, writes it back when
// anything changed and loads the serving pair.
func (r *Rotator) syncSecret(ctx context.Context) error {
	secret := &corev1.Secret{}
	err := r.Client.Get(ctx, r.Secret, secret)
	create := apierrors.IsNotFound(err)
	switch {
	case create:
		secret = &corev1.Secret{ObjectMeta: metaOf(r.Secret), Type: corev1.SecretTypeOpaque}
	case err != nil:
		return fmt.Errorf("read Secret %s: %w", r.Secret, err)
	}
	data, reasons, err := r.renew(secret.Data)
	if err != nil {
		return err
	}
	if len(reasons) > 0 {
		secret.Data = data
		if create {
			err = r.Client.Create(ctx, secret)
		} else {
			// Update carries the resourceVersion just read: a replica that
			// raced us gets a conflict and adopts our pair.
			err = r.Client.Update(ctx, secret)
		}
		if err != nil {
			return fmt.Errorf("write Secret %s: %w", r.Secret, err)
		}
		r.Log.Info("issued webhook certificates", "secret", r.Secret.String(), "why", reasons)
	}
	return r.load(data)
}

// renew returns the Secret data to keep, and why it changed (nil: as is).
func (r *Rotator) renew(old map[string][]byte) (map[string][]byte, []string, error) {
	now := r.now()
	var reasons []string
	trusted, _ := parseCerts(old[CABundleKey])
	ca, err := parseKeyPair(old[CACertKey], old[CAKey])
	switch {
	case err != nil:
		reasons = append(reasons, "no usable CA")
	case !fresh(ca.cert, now):
		reasons = append(reasons, "CA expires "+ca.cert.NotAfter.UTC().Format(time.RFC3339))
		// Replicas still serving a pair from the old CA stay trusted until
		// they load the new one.
		trusted = append(trusted, ca.cert)
	}
	if len(reasons) > 0 {
		if ca, err = issue(nil, nil, true, now, r.caValidity()); err != nil {
			return nil, nil, fmt.Errorf("issue CA: %w", err)
		}
	}
	leaf, err := parseKeyPair(old[TLSCertKey], old[TLSKeyKey])
	problem := "missing or unreadable"
	if err == nil {
		problem = servingProblem(leaf.cert, ca.cert, r.Hosts, now)
	}
	if problem != "" {
		reasons = append(reasons, "serving certificate "+problem)
		if leaf, err = issue(ca, r.Hosts, false, now, r.certValidity()); err != nil {
			return nil, nil, fmt.Errorf("issue serving certificate: %w", err)
		}
	}
	caBundle := bundle(ca.cert, trusted, now)
	if !bytes.Equal(caBundle, old[CABundleKey]) && len(reasons) == 0 {
		reasons = append(reasons, "CA bundle outdated")
	}
	if len(reasons) == 0 {
		return old, nil, nil
	}
	return map[string][]byte{
		CACertKey: ca.certPEM, CAKey: ca.keyPEM, CABundleKey: caBundle,
		TLSCertKey: leaf.certPEM, TLSKeyKey: leaf.keyPEM,
	}, reasons, nil
}

// load parses the serving pair and bundle for GetCertificate and inject.
func (r *Rotator) load(data map[string][]byte) error {
	pair, err := tls.X509KeyPair(data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		return fmt.Errorf("load serving certificate from Secret %s: %w", r.Secret, err)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	r.serving = &pair
	r.bundle = data[CABundleKey]
	return nil
}

// inject writes the CA bundle into every webhook of the named
// configurations that lacks it. A configuration that does not exist yet
// (Helm creates it after the Deployment) is skipped until the next sync.
func (r *Rotator) inject(ctx context.Context) error {
	r.mu.RLock()
	caBundle := r.bundle
	r.mu.RUnlock()
	var errs []error
	for _, name := range r.MutatingWebhooks {
		cfg := &admissionregistrationv1.MutatingWebhookConfiguration{}
		errs = append(errs, r.patchBundle(ctx, "MutatingWebhookConfiguration", name, cfg, caBundle, func() []*[]byte {
			var out []*[]byte
			for i := range cfg.Webhooks {
				out = append(out, &cfg.Webhooks[i].ClientConfig.CABundle)
			}
			return out
		}))
	}
	for _, name := range r.ValidatingWebhooks {
		cfg := &admissionregistrationv1.ValidatingWebhookConfiguration{}
		errs = append(errs, r.patchBundle(ctx, "ValidatingWebhookConfiguration", name, cfg, caBundle, func() []*[]byte {
			var out []*[]byte
			for i := range cfg.Webhooks {
				out = append(out, &cfg.Webhooks[i].ClientConfig.CABundle)
			}
			return out
		}))
	}
	if err := errors.Join(errs...); err != nil {
		return err
	}
	r.mu.Lock()
	r.injected = true
	r.mu.Unlock()
	return nil
}

// patchBundle reads the configuration name into obj and, when any of the
// bundles returns differs, patches them all with an optimistic lock.
func (r *Rotator) patchBundle(ctx context.Context, kind, name string, obj client.Object, caBundle []byte, bundles func() []*[]byte) error {
	if err := r.Client.Get(ctx, types.NamespacedName{Name: name}, obj); err != nil {
		if apierrors.IsNotFound(err) {
			r.Log.V(1).Info("webhook configuration not found; CA bundle not injected", "kind", kind, "name", name)
			return nil
		}
		return fmt.Errorf("read %s %s: %w", kind, name, err)
	}
	orig := obj.DeepCopyObject().(client.Object)
	changed := false
	for _, b := range bundles() {
		if !bytes.Equal(*b, caBundle) {
			*b = caBundle
			changed = true
		}
	}
	if !changed {
		return nil
	}
	if err := r.Client.Patch(ctx, obj, client.MergeFromWithOptions(orig, client.MergeFromWithOptimisticLock{})); err != nil {
		return fmt.Errorf("inject CA bundle into %s %s: %w", kind, name, err)
	}
	r.Log.Info("injected CA bundle", "kind", kind, "name", name)
	return nil
}

func (r *Rotator) now() time.Time {
	if r.Now != nil {
		return r.Now()
	}
	return time.Now()
}

func (r *Rotator) interval() time.Duration {
	if r.Interval > 0 {
		return r.Interval
	}
	return DefaultInterval
}

func (r *Rotator) caValidity() time.Duration {
	if r.CAValidity > 0 {
		return r.CAValidity
	}
	return DefaultCAValidity
}

func (r *Rotator) certValidity() time.Duration {
	if r.CertValidity > 0 {
		return r.CertValidity
	}
	return DefaultCertValidity
}

func metaOf(key types.NamespacedName) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: key.Name, Namespace: key.Namespace}
}
