package kafkatest

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"time"
)

// TLSFiles is a throw-away PKI for tests: a CA, a broker certificate for
// 127.0.0.1 and a client certificate, as PEM files, plus the broker's config.
type TLSFiles struct {
	CA, ClientCert, ClientKey string
	// OtherCA is a CA that signed nothing here: trusting it must fail.
	OtherCA string
	Server  *tls.Config
}

// NewTLSFiles writes the PKI into t.TempDir(). With requireClientCert the
// broker config demands a client certificate signed by the CA (mutual TLS).
func NewTLSFiles(t TB, requireClientCert bool) TLSFiles {
	t.Helper()
	dir := t.TempDir()
	caKey, caCert, caDER := newCA(t, "kferry test CA")
	_, _, otherDER := newCA(t, "unrelated CA")
	srvKey, srvDER := leaf(t, caKey, caCert, "kfake broker", x509.ExtKeyUsageServerAuth)
	cliKey, cliDER := leaf(t, caKey, caCert, "kferry client", x509.ExtKeyUsageClientAuth)
	f := TLSFiles{
		CA:         writePEM(t, dir, "ca.pem", "CERTIFICATE", caDER),
		OtherCA:    writePEM(t, dir, "other-ca.pem", "CERTIFICATE", otherDER),
		ClientCert: writePEM(t, dir, "client.pem", "CERTIFICATE", cliDER),
		ClientKey:  writePEM(t, dir, "client-key.pem", "EC PRIVATE KEY", marshalKey(t, cliKey)),
	}
	pool := x509.NewCertPool()
	pool.AddCert(caCert)
	f.Server = &tls.Config{
		MinVersion:   tls.VersionTLS12,
		Certificates: []tls.Certificate{{Certificate: [][]byte{srvDER}, PrivateKey: srvKey}},
		ClientCAs:    pool,
	}
	if requireClientCert {
		f.Server.ClientAuth = tls.RequireAndVerifyClientCert
	}
	return f
}

func newCA(t TB, name string) (*ecdsa.PrivateKey, *x509.Certificate, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano()), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IsCA: true, BasicConstraintsValid: true, KeyUsage: x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature,
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return key, cert, der
}

func leaf(t TB, caKey *ecdsa.PrivateKey, ca *x509.Certificate, name string, usage x509.ExtKeyUsage) (*ecdsa.PrivateKey, []byte) {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: big.NewInt(time.Now().UnixNano() + 1), Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		KeyUsage: x509.KeyUsageDigitalSignature, ExtKeyUsage: []x509.ExtKeyUsage{usage},
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, DNSNames: []string{"localhost"},
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
	if err != nil {
		t.Fatal(err)
	}
	return key, der
}

func marshalKey(t TB, k *ecdsa.PrivateKey) []byte {
	t.Helper()
	der, err := x509.MarshalECPrivateKey(k)
	if err != nil {
		t.Fatal(err)
	}
	return der
}

func writePEM(t TB, dir, name, typ string, der []byte) string {
	t.Helper()
	p := filepath.Join(dir, name)
	if err := os.WriteFile(p, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600); err != nil {
		t.Fatal(err)
	}
	return p
}
