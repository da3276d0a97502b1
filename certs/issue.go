package certs

import (
	"bytes"
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"slices"
	"time"
)

// Keys of the Secret the Rotator keeps.
const (
	// CAKey and CACertKey hold the CA that signs the serving certificate.
	CAKey     = "ca.key"
	CACertKey = "ca.crt"
	// CABundleKey holds the CA certificates clients must trust: the
	// current CA and, after a CA rotation, the previous one until it
	// expires, so replicas still serving the old pair stay trusted.
	CABundleKey = "ca-bundle.crt"
	// TLSCertKey and TLSKeyKey hold the serving pair, as in a
	// kubernetes.io/tls Secret.
	TLSCertKey = "tls.crt"
	TLSKeyKey  = "tls.key"
)

// keyPair is a parsed certificate with its key and their PEM forms.
type keyPair struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
	keyPEM  []byte
}

// issue creates a certificate valid from now for validity, signed by ca
// (self-signed when ca is nil). A CA certificate gets isCA and no hosts.
func issue(ca *keyPair, hosts []string, isCA bool, now time.Time, validity time.Duration) (*keyPair, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate key: %w", err)
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 128))
	if err != nil {
		return nil, fmt.Errorf("generate serial number: %w", err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		// Backdated so that a client whose clock lags a little accepts it.
		NotBefore: now.Add(-time.Hour),
		NotAfter:  now.Add(validity),
	}
	if isCA {
		tmpl.Subject = pkix.Name{CommonName: "fluxgate-webhook-ca"}
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageCRLSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.Subject = pkix.Name{CommonName: hosts[0]}
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}
		for _, h := range hosts {
			if ip := net.ParseIP(h); ip != nil {
				tmpl.IPAddresses = append(tmpl.IPAddresses, ip)
			} else {
				tmpl.DNSNames = append(tmpl.DNSNames, h)
			}
		}
	}
	parent, signer := tmpl, crypto.Signer(key)
	if ca != nil {
		parent, signer = ca.cert, ca.key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, key.Public(), signer)
	if err != nil {
		return nil, fmt.Errorf("sign certificate: %w", err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse issued certificate: %w", err)
	}
	keyDER, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode key: %w", err)
	}
	return &keyPair{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: keyDER}),
	}, nil
}

// parseKeyPair reads a PEM certificate and its PEM private key.
func parseKeyPair(certPEM, keyPEM []byte) (*keyPair, error) {
	pair, err := tls.X509KeyPair(certPEM, keyPEM)
	if err != nil {
		return nil, fmt.Errorf("parse key pair: %w", err)
	}
	signer, ok := pair.PrivateKey.(crypto.Signer)
	if !ok {
		return nil, errors.New("parse key pair: private key cannot sign")
	}
	return &keyPair{cert: pair.Leaf, key: signer, certPEM: certPEM, keyPEM: keyPEM}, nil
}

// parseCerts reads every CERTIFICATE block of a PEM bundle.
func parseCerts(bundle []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	for rest := bundle; ; {
		var block *pem.Block
		block, rest = pem.Decode(rest)
		if block == nil {
			break
		}
		if block.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			return nil, fmt.Errorf("parse CA bundle: %w", err)
		}
		certs = append(certs, c)
	}
	return certs, nil
}

// bundle encodes the CA certificates clients should trust: ca first, then
// those of previous that are other CAs still valid at now.
func bundle(ca *x509.Certificate, previous []*x509.Certificate, now time.Time) []byte {
	var out bytes.Buffer
	kept := []*x509.Certificate{ca}
	_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: ca.Raw})
	for _, c := range previous {
		if now.After(c.NotAfter) || slices.ContainsFunc(kept, c.Equal) {
			continue
		}
		kept = append(kept, c)
		_ = pem.Encode(&out, &pem.Block{Type: "CERTIFICATE", Bytes: c.Raw})
	}
	return out.Bytes()
}

// fresh reports whether c is valid at now and has more than a third of its
// lifetime left, the point where it is renewed (as cert-manager does by
// default).
func fresh(c *x509.Certificate, now time.Time) bool {
	lifetime := c.NotAfter.Sub(c.NotBefore)
	return now.After(c.NotBefore) && c.NotAfter.Sub(now) > lifetime/3
}

// servingProblem says why leaf cannot serve hosts under ca at now, or
// returns "" when it can.
func servingProblem(leaf *x509.Certificate, ca *x509.Certificate, hosts []string, now time.Time) string {
	if err := leaf.CheckSignatureFrom(ca); err != nil {
		return "not signed by the current CA"
	}
	if !fresh(leaf, now) {
		return fmt.Sprintf("expires %s", leaf.NotAfter.UTC().Format(time.RFC3339))
	}
	for _, h := range hosts {
		if err := leaf.VerifyHostname(h); err != nil {
			return fmt.Sprintf("does not cover %s", h)
		}
	}
	names := append(slices.Clone(leaf.DNSNames), ipStrings(leaf.IPAddresses)...)
	for _, n := range names {
		if !slices.Contains(hosts, n) {
			return fmt.Sprintf("covers %s, no longer asked for", n)
		}
	}
	return ""
}

func ipStrings(ips []net.IP) []string {
	out := make([]string, 0, len(ips))
	for _, ip := range ips {
		out = append(out, ip.String())
	}
	return out
}
