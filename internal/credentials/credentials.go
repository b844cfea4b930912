// Package credentials turns the secret names of a device endpoint into the
// secrets its HTTP client needs. It is the one resolver of both modes: the
// secrets come from the connector settings standalone and from the mounted
// secret files in Akri mode, through the Secrets each mode gives. Errors
// name the field and the secret, never the value; the fingerprint of what
// was read tells when a secret's content changed, without keeping it.
package credentials

import (
	"bytes"
	"crypto/sha256"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"fmt"
	"hash"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/certbundle"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
)

// Secrets is where the secrets of endpoints are read.
type Secrets interface {
	// Secret returns the value of a named secret. Its error need not name
	// the secret: Resolve does.
	Secret(name string) ([]byte, error)
	// TrustList returns the PEM bundle of the CA certificates the endpoint
	// trusts besides the system roots, or nil when there are none.
	TrustList(ep *plan.Endpoint) ([]byte, error)
}

// Resolved is what an endpoint's secrets resolved to. It prints as its
// Credentials do: redacted.
type Resolved struct {
	fetch.Credentials
	// Secrets are the values of the ${secret:NAME} placeholders of the
	// endpoint's configuration, by name.
	Secrets map[string]string
	// Fingerprint changes whenever the content of a secret read does.
	Fingerprint string
}

// Lookup gives the value of a secret placeholder: ${username} and
// ${password} of the endpoint, ${secret:NAME} of its configuration.
func (r Resolved) Lookup(ref placeholder.Ref) (string, error) {
	switch ref.Name {
	case plan.RefUsername:
		return r.Username, nil
	case plan.RefPassword:
		return r.Password, nil
	case plan.RefSecret:
		if v, ok := r.Secrets[ref.Arg]; ok {
			return v, nil
		}
	}
	return "", placeholder.ErrNoValue
}

// Lookup gives the ${secret:NAME} placeholders the values of Named.
func Lookup(values map[string]string) func(placeholder.Ref) (string, error) {
	return func(ref placeholder.Ref) (string, error) {
		if v, ok := values[ref.Arg]; ok && ref.Name == plan.RefSecret {
			return v, nil
		}
		return "", placeholder.ErrNoValue
	}
}

// Named reads the secrets of names, for the placeholders of requests:
// their values by name and the fingerprint of their content.
func Named(names []string, s Secrets) (map[string]string, string, error) {
	r := reader{s: s, h: sha256.New()}
	values := make(map[string]string, len(names))
	for _, n := range names {
		b, err := r.read("${secret:"+n+"}", n)
		if err != nil {
			return nil, "", err
		}
		values[n] = string(b)
	}
	return values, hex.EncodeToString(r.h.Sum(nil)), nil
}

// Resolve reads the secrets ep's authentication and trust list name.
func Resolve(ep *plan.Endpoint, s Secrets) (Resolved, error) {
	r := reader{s: s, h: sha256.New()}
	var c fetch.Credentials
	a := ep.Auth
	switch a.Method {
	case "", adr.AuthAnonymous:
	case adr.AuthUsernamePassword:
		user, err := r.read("usernameSecretName", a.UsernameSecret)
		if err != nil {
			return Resolved{}, err
		}
		pass, err := r.read("passwordSecretName", a.PasswordSecret)
		if err != nil {
			return Resolved{}, err
		}
		c.Username, c.Password = string(user), string(pass)
	case adr.AuthCertificate:
		cert, err := r.certificate(a)
		if err != nil {
			return Resolved{}, err
		}
		c.Certificate = cert
	default:
		return Resolved{}, fmt.Errorf("authentication: method %q is not supported (want Anonymous, UsernamePassword or Certificate)", a.Method)
	}
	var secrets map[string]string
	if names := plan.SecretNames(ep.Config.Refs()); len(names) > 0 {
		secrets = make(map[string]string, len(names))
		for _, n := range names {
			b, err := r.read("${secret:"+n+"}", n)
			if err != nil {
				return Resolved{}, fmt.Errorf("additionalConfiguration: %w", err)
			}
			secrets[n] = string(b)
		}
	}
	roots, err := r.trust(ep, s)
	if err != nil {
		return Resolved{}, err
	}
	c.RootCAs = roots
	return Resolved{Credentials: c, Secrets: secrets, Fingerprint: hex.EncodeToString(r.h.Sum(nil))}, nil
}

// ConnectorTrust is what Secrets may add: the CA certificates every device
// endpoint trusts (Akri mode's connector-level trust list), on top of the
// endpoint's own trust list or the system roots.
type ConnectorTrust interface {
	ConnectorTrust() ([]byte, error)
}

// trust is the pool an endpoint's server certificate is checked against:
// its trust list, or the system roots, plus the connector's trust list;
// nil means the system roots alone.
func (r *reader) trust(ep *plan.Endpoint, s Secrets) (*x509.CertPool, error) {
	device, err := s.TrustList(ep)
	if err != nil {
		return nil, err
	}
	var conn []byte
	if ct, ok := s.(ConnectorTrust); ok {
		if conn, err = ct.ConnectorTrust(); err != nil {
			return nil, fmt.Errorf("connector trust list: %w", err)
		}
	}
	if device == nil && conn == nil {
		return nil, nil
	}
	var pool *x509.CertPool
	if device != nil {
		if pool, err = certbundle.Pool(device); err != nil {
			return nil, fmt.Errorf("trust list %q: %w", ep.Trust, err)
		}
		fmt.Fprintf(r.h, "trust %d\x00", len(device))
		r.h.Write(device)
	} else if pool, err = x509.SystemCertPool(); err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if conn != nil {
		certs, err := certbundle.Parse(conn)
		if err != nil {
			return nil, fmt.Errorf("connector trust list: %w", err)
		}
		for _, c := range certs {
			pool.AddCert(c)
		}
		fmt.Fprintf(r.h, "connector trust %d\x00", len(conn))
		r.h.Write(conn)
	}
	return pool, nil
}

// reader reads secrets and hashes what it read.
type reader struct {
	s Secrets
	h hash.Hash
}

func (r *reader) read(field, name string) ([]byte, error) {
	if name == "" {
		return nil, fmt.Errorf("%s: empty secret name", field)
	}
	b, err := r.s.Secret(name)
	if err != nil {
		return nil, fmt.Errorf("%s %q: %w", field, name, err)
	}
	fmt.Fprintf(r.h, "%s %d\x00", field, len(b))
	r.h.Write(b)
	return b, nil
}

// certificate reads a client certificate, its key (in its own secret or
// after the certificate in the same one) and intermediate certificates.
func (r *reader) certificate(a plan.Auth) (*tls.Certificate, error) {
	certPEM, err := r.read("certificateSecretName", a.CertificateSecret)
	if err != nil {
		return nil, err
	}
	if _, err := certbundle.Parse(certPEM); err != nil {
		return nil, fmt.Errorf("certificateSecretName %q: %w", a.CertificateSecret, err)
	}
	keyPEM, keyFrom := certPEM, fmt.Sprintf("certificateSecretName %q", a.CertificateSecret)
	if a.KeySecret != "" {
		if keyPEM, err = r.read("keySecretName", a.KeySecret); err != nil {
			return nil, err
		}
		keyFrom = fmt.Sprintf("keySecretName %q", a.KeySecret)
	}
	chain := certPEM
	if a.IntermediatesSecret != "" {
		inter, err := r.read("intermediateCertificatesSecretName", a.IntermediatesSecret)
		if err != nil {
			return nil, err
		}
		if _, err := certbundle.Parse(inter); err != nil {
			return nil, fmt.Errorf("intermediateCertificatesSecretName %q: %w", a.IntermediatesSecret, err)
		}
		chain = append(append(bytes.Clone(certPEM), '\n'), inter...)
	}
	cert, err := tls.X509KeyPair(chain, keyPEM)
	if err != nil {
		// The crypto/tls errors describe the problem, never the key.
		return nil, fmt.Errorf("certificateSecretName %q with key from %s: %w", a.CertificateSecret, keyFrom, err)
	}
	return &cert, nil
}
