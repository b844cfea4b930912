// Package testcert makes certificates for tests: certificate authorities,
// servers for 127.0.0.1 and localhost, and clients, with their keys as PEM.
package testcert

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
	"time"
)

// TB is what the helpers need of a *testing.T.
type TB interface {
	Helper()
	Fatal(args ...any)
}

// Cert is a certificate and its key.
type Cert struct {
	Cert *x509.Certificate
	Key  *ecdsa.PrivateKey
	DER  []byte
}

// CertPEM is the certificate as PEM.
func (c Cert) CertPEM() []byte {
	return pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: c.DER})
}

// KeyPEM is the private key as PKCS #8 PEM.
func (c Cert) KeyPEM(t TB) []byte {
	t.Helper()
	der, err := x509.MarshalPKCS8PrivateKey(c.Key)
	if err != nil {
		t.Fatal(err)
	}
	return pem.EncodeToMemory(&pem.Block{Type: "PRIVATE KEY", Bytes: der})
}

// TLS is the certificate and key for a tls.Config.
func (c Cert) TLS(t TB) tls.Certificate {
	t.Helper()
	pair, err := tls.X509KeyPair(c.CertPEM(), c.KeyPEM(t))
	if err != nil {
		t.Fatal(err)
	}
	return pair
}

// Pool is a pool of the certificates.
func Pool(certs ...Cert) *x509.CertPool {
	p := x509.NewCertPool()
	for _, c := range certs {
		p.AddCert(c.Cert)
	}
	return p
}

// CA makes a self-signed certificate authority.
func CA(t TB, name string) Cert { return New(t, name, nil, true) }

// Leaf makes a server and client certificate for 127.0.0.1 and localhost
// signed by ca, or self-signed when ca is nil.
func Leaf(t TB, name string, ca *Cert) Cert { return New(t, name, ca, false) }

// New makes a certificate signed by parent, or self-signed when parent is
// nil. A CA can sign others; a leaf has 127.0.0.1 and localhost as names
// and serves both as server and client certificate.
func New(t TB, name string, parent *Cert, isCA bool) Cert {
	t.Helper()
	key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		t.Fatal(err)
	}
	serial, err := rand.Int(rand.Reader, big.NewInt(1<<62))
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{
		SerialNumber: serial,
		Subject:      pkix.Name{CommonName: name, Organization: []string{"http-connector tests"}},
		NotBefore:    time.Now().Add(-time.Hour),
		NotAfter:     time.Now().Add(time.Hour),
	}
	if isCA {
		tmpl.IsCA = true
		tmpl.BasicConstraintsValid = true
		tmpl.KeyUsage = x509.KeyUsageCertSign | x509.KeyUsageDigitalSignature
	} else {
		tmpl.KeyUsage = x509.KeyUsageDigitalSignature
		tmpl.ExtKeyUsage = []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth, x509.ExtKeyUsageClientAuth}
		tmpl.IPAddresses = []net.IP{net.ParseIP("127.0.0.1")}
		tmpl.DNSNames = []string{"localhost"}
	}
	signer, signerKey := tmpl, key
	if parent != nil {
		signer, signerKey = parent.Cert, parent.Key
	}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, signer, &key.PublicKey, signerKey)
	if err != nil {
		t.Fatal(err)
	}
	c, err := x509.ParseCertificate(der)
	if err != nil {
		t.Fatal(err)
	}
	return Cert{Cert: c, Key: key, DER: der}
}
