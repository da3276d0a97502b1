package certs

import (
	"crypto/x509"
	"testing"
	"time"

	"github.com/go-logr/logr"
)

var start = time.Date(2026, 11, 21, 12, 0, 0, 0, time.UTC)

func rotatorAt(now *time.Time, hosts ...string) *Rotator {
	return &Rotator{
		Hosts: hosts, Log: logr.Discard(),
		CAValidity: 300 * 24 * time.Hour, CertValidity: 90 * 24 * time.Hour,
		Now: func() time.Time { return *now },
	}
}

func leafOf(t *testing.T, data map[string][]byte) *x509.Certificate {
	t.Helper()
	p, err := parseKeyPair(data[TLSCertKey], data[TLSKeyKey])
	if err != nil {
		t.Fatalf("serving pair: %v", err)
	}
	return p.cert
}

func caOf(t *testing.T, data map[string][]byte) *x509.Certificate {
	t.Helper()
	p, err := parseKeyPair(data[CACertKey], data[CAKey])
	if err != nil {
		t.Fatalf("CA pair: %v", err)
	}
	return p.cert
}

func bundleOf(t *testing.T, data map[string][]byte) []*x509.Certificate {
	t.Helper()
	certs, err := parseCerts(data[CABundleKey])
	if err != nil {
		t.Fatal(err)
	}
	return certs
}

func mustRenew(t *testing.T, r *Rotator, old map[string][]byte) (map[string][]byte, []string) {
	t.Helper()
	data, reasons, err := r.renew(old)
	if err != nil {
		t.Fatalf("renew: %v", err)
	}
	return data, reasons
}

func TestRenewIssuesEverythingIntoAnEmptySecret(t *testing.T) {
	now := start
	r := rotatorAt(&now, "fluxgate-webhook.fluxgate-system.svc", "127.0.0.1")
	data, reasons := mustRenew(t, r, nil)
	if len(reasons) == 0 {
		t.Fatal("an empty Secret must be filled")
	}
	leaf, ca := leafOf(t, data), caOf(t, data)
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		t.Fatalf("serving certificate not signed by the CA: %v", err)
	}
	if !ca.IsCA || leaf.IsCA {
		t.Fatalf("IsCA: CA %v, leaf %v", ca.IsCA, leaf.IsCA)
	}
	for _, h := range r.Hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			t.Errorf("leaf does not cover %s: %v", h, err)
		}
	}
	if b := bundleOf(t, data); len(b) != 1 || !b[0].Equal(ca) {
		t.Fatalf("bundle = %d certificates, want the CA alone", len(b))
	}
	if _, again := mustRenew(t, r, data); again != nil {
		t.Fatalf("a fresh Secret was renewed again: %v", again)
	}
}

func TestRenewReplacesOnlyWhatNeedsIt(t *testing.T) {
	tests := []struct {
		name      string
		advance   time.Duration
		hosts     []string
		newCA     bool
		newLeaf   bool
		bundleLen int
	}{
		{name: "early in the serving certificate's life", advance: 59 * 24 * time.Hour, bundleLen: 1},
		{name: "a third of the serving lifetime left", advance: 61 * 24 * time.Hour, newLeaf: true, bundleLen: 1},
		{name: "a host added", hosts: []string{"a.svc", "b.svc"}, newLeaf: true, bundleLen: 1},
		{name: "a host removed", hosts: []string{}, newLeaf: true, bundleLen: 1},
		{name: "a third of the CA lifetime left", advance: 201 * 24 * time.Hour, newCA: true, newLeaf: true, bundleLen: 2},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			now := start
			r := rotatorAt(&now, "a.svc", "127.0.0.1")
			before, _ := mustRenew(t, r, nil)
			now = now.Add(tt.advance)
			if tt.hosts != nil {
				r.Hosts = append(tt.hosts, "127.0.0.1")
			}
			after, reasons := mustRenew(t, r, before)
			if got := !caOf(t, after).Equal(caOf(t, before)); got != tt.newCA {
				t.Errorf("new CA = %v, want %v (reasons %v)", got, tt.newCA, reasons)
			}
			if got := !leafOf(t, after).Equal(leafOf(t, before)); got != tt.newLeaf {
				t.Errorf("new serving certificate = %v, want %v (reasons %v)", got, tt.newLeaf, reasons)
			}
			if got := len(bundleOf(t, after)); got != tt.bundleLen {
				t.Errorf("bundle holds %d CAs, want %d", got, tt.bundleLen)
			}
			if err := leafOf(t, after).CheckSignatureFrom(caOf(t, after)); err != nil {
				t.Errorf("serving certificate not signed by the current CA: %v", err)
			}
		})
	}
}

func TestRenewDropsThePreviousCAOnceItExpires(t *testing.T) {
	now := start
	r := rotatorAt(&now, "a.svc")
	first, _ := mustRenew(t, r, nil)
	now = now.Add(201 * 24 * time.Hour)
	second, _ := mustRenew(t, r, first)
	if n := len(bundleOf(t, second)); n != 2 {
		t.Fatalf("after a CA rotation the bundle holds %d CAs, want 2", n)
	}
	now = caOf(t, first).NotAfter.Add(time.Minute)
	third, reasons := mustRenew(t, r, second)
	if b := bundleOf(t, third); len(b) != 1 || !b[0].Equal(caOf(t, second)) {
		t.Fatalf("after the old CA expired the bundle holds %d CAs, want the new one alone (reasons %v)", len(b), reasons)
	}
}

func TestRenewRegeneratesUnreadableData(t *testing.T) {
	tests := map[string]map[string][]byte{
		"garbage":               {CACertKey: []byte("x"), CAKey: []byte("y"), TLSCertKey: []byte("z"), TLSKeyKey: []byte("w")},
		"CA without its key":    {CACertKey: []byte("-----BEGIN CERTIFICATE-----\n-----END CERTIFICATE-----\n")},
		"a user's tls.crt only": {TLSCertKey: []byte("not pem")},
	}
	for name, old := range tests {
		t.Run(name, func(t *testing.T) {
			now := start
			r := rotatorAt(&now, "a.svc")
			data, reasons := mustRenew(t, r, old)
			if len(reasons) == 0 {
				t.Fatal("unreadable data kept")
			}
			if err := leafOf(t, data).CheckSignatureFrom(caOf(t, data)); err != nil {
				t.Fatal(err)
			}
		})
	}
}
