package cluster

import (
	"crypto"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"fmt"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// pki holds the paths of the certificates and keys the control plane uses,
// all generated in Go under <Dir>/pki.
type pki struct {
	dir string

	caCert, caKey                 string // cluster CA: serving and client certificates
	servingCert, servingKey       string // kube-apiserver's, for 127.0.0.1 and localhost
	frontProxyCA                  string // signs the front proxy's client certificate
	frontProxyCert, frontProxyKey string // kube-apiserver's client certificate for aggregated APIs
	saKey, saPub                  string // service account token signing key pair

	ca, frontCA *authority
}

// authority is a CA in memory, to sign certificates with.
type authority struct {
	cert    *x509.Certificate
	key     crypto.Signer
	certPEM []byte
}

// clientCert is a PEM client certificate and key.
type clientCert struct {
	certPEM, keyPEM []byte
}

// newPKI generates the CAs, the serving and front-proxy certificates and
// the service-account key pair into dir.
func newPKI(dir string) (*pki, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("create %s: %w", dir, err)
	}
	p := &pki{
		dir:            dir,
		caCert:         filepath.Join(dir, "ca.crt"),
		caKey:          filepath.Join(dir, "ca.key"),
		servingCert:    filepath.Join(dir, "apiserver.crt"),
		servingKey:     filepath.Join(dir, "apiserver.key"),
		frontProxyCA:   filepath.Join(dir, "front-proxy-ca.crt"),
		frontProxyCert: filepath.Join(dir, "front-proxy-client.crt"),
		frontProxyKey:  filepath.Join(dir, "front-proxy-client.key"),
		saKey:          filepath.Join(dir, "sa.key"),
		saPub:          filepath.Join(dir, "sa.pub"),
	}
	var err error
	if p.ca, err = newAuthority("fluxgate-e2e-ca"); err != nil {
		return nil, err
	}
	if p.frontCA, err = newAuthority("fluxgate-e2e-front-proxy-ca"); err != nil {
		return nil, err
	}
	serving, err := p.ca.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: "kube-apiserver"},
		DNSNames:    []string{"localhost", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local"},
		IPAddresses: []net.IP{net.IPv4(127, 0, 0, 1), net.IPv6loopback, net.IPv4(10, 96, 0, 1)},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth},
	})
	if err != nil {
		return nil, err
	}
	front, err := p.frontCA.issueClient("front-proxy-client")
	if err != nil {
		return nil, err
	}
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return nil, fmt.Errorf("generate the service account key: %w", err)
	}
	saKeyPEM, err := keyPEM(saKey)
	if err != nil {
		return nil, err
	}
	saPubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return nil, fmt.Errorf("encode the service account public key: %w", err)
	}
	caKeyPEM, err := keyPEM(p.ca.key)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{
		p.caCert:         p.ca.certPEM,
		p.caKey:          caKeyPEM,
		p.servingCert:    serving.certPEM,
		p.servingKey:     serving.keyPEM,
		p.frontProxyCA:   p.frontCA.certPEM,
		p.frontProxyCert: front.certPEM,
		p.frontProxyKey:  front.keyPEM,
		p.saKey:          saKeyPEM,
		p.saPub:          pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: saPubDER}),
	}
	for path, data := range files {
		if err := os.WriteFile(path, data, 0o600); err != nil {
			return nil, fmt.Errorf("write %s: %w", path, err)
		}
	}
	return p, nil
}

// newAuthority generates a self-signed CA.
func newAuthority(name string) (*authority, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the key of %s: %w", name, err)
	}
	tmpl := &x509.Certificate{
		SerialNumber:          serial(),
		Subject:               pkix.Name{CommonName: name},
		NotBefore:             time.Now().Add(-time.Hour),
		NotAfter:              time.Now().Add(7 * 24 * time.Hour),
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
		BasicConstraintsValid: true,
		IsCA:                  true,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, key.Public(), key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, fmt.Errorf("parse %s: %w", name, err)
	}
	return &authority{
		cert:    cert,
		key:     key,
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
	}, nil
}

// issue signs a certificate from tmpl (subject, names, extended key
// usages), with a fresh key.
func (a *authority) issue(tmpl *x509.Certificate) (*clientCert, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, fmt.Errorf("generate the key of %s: %w", tmpl.Subject.CommonName, err)
	}
	tmpl.SerialNumber = serial()
	tmpl.NotBefore = time.Now().Add(-time.Hour)
	tmpl.NotAfter = time.Now().Add(7 * 24 * time.Hour)
	tmpl.KeyUsage = x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment
	der, err := x509.CreateCertificate(rand.Reader, tmpl, a.cert, key.Public(), a.key)
	if err != nil {
		return nil, fmt.Errorf("sign %s: %w", tmpl.Subject.CommonName, err)
	}
	k, err := keyPEM(key)
	if err != nil {
		return nil, err
	}
	return &clientCert{
		certPEM: pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der}),
		keyPEM:  k,
	}, nil
}

// issueClient signs a client certificate for user, member of groups.
func (a *authority) issueClient(user string, groups ...string) (*clientCert, error) {
	return a.issue(&x509.Certificate{
		Subject:     pkix.Name{CommonName: user, Organization: groups},
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth},
	})
}

// keyPEM encodes a private key as PKCS #8 PEM.
func keyPEM(key crypto.Signer) ([]byte, error) {
	der, err := x509.MarshalPKCS8PrivateKey(key)
	if err != nil {
		return nil, fmt.Errorf("encode a private key: %w", err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der}), nil
}

// serial returns a random certificate serial number.
func serial() *big.Int {
	n, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return big.NewInt(time.Now().UnixNano())
	}
	return n
}
