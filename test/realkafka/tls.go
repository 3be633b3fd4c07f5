package realkafka

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/tls"
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

// TLSFiles is a cluster's throw-away PKI, PEM files in its folder: one CA
// signs the brokers' certificate (IP SAN 127.0.0.1, DNS localhost) and a
// client certificate. The SSL listener requires a client certificate signed by
// the CA (mutual TLS).
type TLSFiles struct {
	// CA is the CA certificate: the brokers' truststore and the clients' root.
	CA string
	// ClientCert and ClientKey (PKCS#8) are the client's certificate and key.
	ClientCert, ClientKey string
	// BrokerKeystore holds the brokers' PKCS#8 key followed by their
	// certificate and the CA's, the one-file form of ssl.keystore.type=PEM.
	BrokerKeystore string
}

// ClientConfig returns a TLS config that trusts the CA and presents the
// client certificate.
func (f *TLSFiles) ClientConfig() (*tls.Config, error) {
	cert, err := tls.LoadX509KeyPair(f.ClientCert, f.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("client certificate: %w", err)
	}
	ca, err := os.ReadFile(f.CA)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(ca) {
		return nil, fmt.Errorf("%s: no certificate", f.CA)
	}
	return &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: pool, Certificates: []tls.Certificate{cert}}, nil
}

// newTLSFiles writes a fresh PKI into dir.
func newTLSFiles(dir string) (*TLSFiles, error) {
	caKey, ca, err := newCert("kferry realkafka test CA", nil, nil, nil)
	if err != nil {
		return nil, err
	}
	brokerKey, broker, err := newCert("kafka broker", ca, caKey, []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth})
	if err != nil {
		return nil, err
	}
	clientKey, client, err := newCert("kferry client", ca, caKey, []x509.ExtKeyUsage{x509.ExtKeyUsageClientAuth})
	if err != nil {
		return nil, err
	}
	f := &TLSFiles{
		CA:             filepath.Join(dir, "ca.pem"),
		ClientCert:     filepath.Join(dir, "client.pem"),
		ClientKey:      filepath.Join(dir, "client-key.pem"),
		BrokerKeystore: filepath.Join(dir, "broker-keystore.pem"),
	}
	brokerPKCS8, err := x509.MarshalPKCS8PrivateKey(brokerKey)
	if err != nil {
		return nil, err
	}
	clientPKCS8, err := x509.MarshalPKCS8PrivateKey(clientKey)
	if err != nil {
		return nil, err
	}
	for path, blocks := range map[string][]*pem.Block{
		f.CA:             {{Type: "CERTIFICATE", Bytes: ca.Raw}},
		f.ClientCert:     {{Type: "CERTIFICATE", Bytes: client.Raw}},
		f.ClientKey:      {{Type: "PRIVATE KEY", Bytes: clientPKCS8}},
		f.BrokerKeystore: {{Type: "PRIVATE KEY", Bytes: brokerPKCS8}, {Type: "CERTIFICATE", Bytes: broker.Raw}, {Type: "CERTIFICATE", Bytes: ca.Raw}},
	} {
		var b []byte
		for _, blk := range blocks {
			b = append(b, pem.EncodeToMemory(blk)...)
		}
		if err := os.WriteFile(path, b, 0o600); err != nil {
			return nil, err
		}
	}
	return f, nil
}

// newCert makes a P-256 key and a certificate for it: a self-signed CA when
// parent is nil, else a leaf for 127.0.0.1 and localhost signed by parent.
func newCert(name string, parent *x509.Certificate, parentKey *ecdsa.PrivateKey, usage []x509.ExtKeyUsage) (*ecdsa.PrivateKey, *x509.Certificate, error) {
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return nil, nil, err
	}
	serial, err := rand.Int(rand.Reader, new(big.Int).Lsh(big.NewInt(1), 62))
	if err != nil {
		return nil, nil, err
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial, Subject: pkix.Name{CommonName: name},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(7 * 24 * time.Hour),
	}
	if parent == nil {
		tmpl.IsCA, tmpl.BasicConstraintsValid = true, true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
		parent, parentKey = tmpl, key
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = usage
		tmpl.IPAddresses = []net.IP{net.IPv4(127, 0, 0, 1)}
		tmpl.DNSNames = []string{"localhost"}
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, parent, &key.PublicKey, parentKey)
	if err != nil {
		return nil, nil, fmt.Errorf("certificate %s: %w", name, err)
	}
	cert, err := x509.ParseCertificate(der)
	if err != nil {
		return nil, nil, err
	}
	return key, cert, nil
}
