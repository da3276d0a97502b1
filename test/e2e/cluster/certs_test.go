package cluster

import (
	"crypto/x509"
	"encoding/pem"
	"os"
	"reflect"
	"testing"

	"k8s.io/client-go/tools/clientcmd"
)

// parseCert reads the first certificate of a PEM file.
func parseCert(t *testing.T, path string) *x509.Certificate {
	t.Helper()
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	block, _ := pem.Decode(data)
	if block == nil {
		t.Fatalf("%s: no PEM block", path)
	}
	cert, err := x509.ParseCertificate(block.Bytes)
	if err != nil {
		t.Fatal(err)
	}
	return cert
}

func TestPKI(t *testing.T) {
	dir := t.TempDir()
	p, err := newPKI(dir)
	if err != nil {
		t.Fatal(err)
	}
	roots := x509.NewCertPool()
	roots.AddCert(parseCert(t, p.caCert))
	serving := parseCert(t, p.servingCert)
	for _, name := range []string{"127.0.0.1", "localhost"} {
		if _, err := serving.Verify(x509.VerifyOptions{Roots: roots, DNSName: name}); err != nil {
			t.Errorf("the serving certificate does not verify for %s: %v", name, err)
		}
	}
	frontRoots := x509.NewCertPool()
	frontRoots.AddCert(parseCert(t, p.frontProxyCA))
	front := parseCert(t, p.frontProxyCert)
	if _, err := front.Verify(x509.VerifyOptions{Roots: frontRoots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
		t.Errorf("the front proxy certificate does not verify: %v", err)
	}

	paths, err := writeKubeconfigs(dir, "https://127.0.0.1:6443", p)
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range kubeconfigUsers {
		cfg, err := clientcmd.BuildConfigFromFlags("", paths[u.file])
		if err != nil {
			t.Fatal(err)
		}
		block, _ := pem.Decode(cfg.CertData)
		cert, err := x509.ParseCertificate(block.Bytes)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := cert.Verify(x509.VerifyOptions{Roots: roots, KeyUsages: []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth}}); err != nil {
			t.Errorf("%s: the client certificate does not verify: %v", u.file, err)
		}
		if cert.Subject.CommonName != u.user || !reflect.DeepEqual(cert.Subject.Organization, u.groups) {
			t.Errorf("%s: subject %s, want user %s groups %v", u.file, cert.Subject, u.user, u.groups)
		}
	}
}

func TestMergeFlags(t *testing.T) {
	got := mergeFlags([]string{"--a=1", "--b=2", "--c"}, []string{"--b=3", "--d=4", "--c=false"})
	want := []string{"--a=1", "--b=3", "--c=false", "--d=4"}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("mergeFlags = %v, want %v", got, want)
	}
}
