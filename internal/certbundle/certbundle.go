// Package certbundle reads PEM bundles of certificates: the broker's and
// the devices' trust lists and client certificates, whether they come from
// a file, a folder as Kubernetes mounts it (entries that are symbolic links
// into a ..data folder, which are followed, and ..-named entries, which are
// not read) or a secret's value. Text around the PEM blocks, such as the
// "Bag Attributes" OpenSSL writes, is ignored. It is the one place that
// parses them, so that every mode and every caller accepts the same files.
package certbundle

import (
	"bytes"
	"crypto/x509"
	"encoding/pem"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
)

// Parse returns the certificates of the CERTIFICATE blocks of a PEM bundle;
// a bundle without one is an error.
func Parse(bundle []byte) ([]*x509.Certificate, error) {
	var certs []*x509.Certificate
	rest := bundle
	for {
		var b *pem.Block
		b, rest = pem.Decode(rest)
		if b == nil {
			break
		}
		if b.Type != "CERTIFICATE" {
			continue
		}
		c, err := x509.ParseCertificate(b.Bytes)
		if err != nil {
			return nil, fmt.Errorf("certificate %d: %w", len(certs)+1, err)
		}
		certs = append(certs, c)
	}
	if len(certs) == 0 {
		return nil, errors.New("no PEM certificate found")
	}
	return certs, nil
}

// Pool returns a pool of the certificates of a PEM bundle.
func Pool(bundle []byte) (*x509.CertPool, error) {
	certs, err := Parse(bundle)
	if err != nil {
		return nil, err
	}
	pool := x509.NewCertPool()
	for _, c := range certs {
		pool.AddCert(c)
	}
	return pool, nil
}

// ReadFile reads a PEM bundle file and checks that it holds certificates.
func ReadFile(path string) ([]byte, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("read certificates: %w", err)
	}
	if _, err := Parse(b); err != nil {
		return nil, fmt.Errorf("certificate file %s: %w", path, err)
	}
	return b, nil
}

// ReadDir reads every file of a folder as a PEM bundle, in name order, and
// returns them as one bundle. Entries whose names start with ".."
// (Kubernetes' atomic-writer artefacts) and folders are skipped; symbolic
// links are followed. A folder without a certificate is an error.
func ReadDir(dir string) ([]byte, error) {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("read trust bundle: %w", err)
	}
	var all bytes.Buffer
	for _, e := range entries {
		if strings.HasPrefix(e.Name(), "..") {
			continue
		}
		p := filepath.Join(dir, e.Name())
		fi, err := os.Stat(p)
		if err != nil {
			return nil, fmt.Errorf("read trust bundle: %w", err)
		}
		if fi.IsDir() {
			continue
		}
		b, err := ReadFile(p)
		if err != nil {
			return nil, err
		}
		all.Write(b)
		all.WriteByte('\n')
	}
	if all.Len() == 0 {
		return nil, fmt.Errorf("trust bundle %s holds no certificate", dir)
	}
	return all.Bytes(), nil
}
