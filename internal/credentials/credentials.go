// Package credentials turns an endpoint's secret names into the secrets an
// HTTP client needs, reading them through a lookup function: from the
// connector settings in standalone mode, from the mounted secret files in
// Akri mode. Errors name the secret, never its value.
package credentials

import (
	"bytes"
	"crypto/tls"
	"fmt"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
)

// Lookup returns the value of a named secret.
type Lookup func(name string) ([]byte, error)

// Resolve reads the secrets auth names.
func Resolve(auth plan.Auth, lookup Lookup) (fetch.Credentials, error) {
	var c fetch.Credentials
	switch auth.Method {
	case "", adr.AuthAnonymous:
		return c, nil
	case adr.AuthUsernamePassword:
		u, err := lookup(auth.UsernameSecret)
		if err != nil {
			return c, fmt.Errorf("username secret %q: %w", auth.UsernameSecret, err)
		}
		p, err := lookup(auth.PasswordSecret)
		if err != nil {
			return c, fmt.Errorf("password secret %q: %w", auth.PasswordSecret, err)
		}
		c.Username, c.Password = string(u), string(p)
		return c, nil
	case adr.AuthCertificate:
		certPEM, err := lookup(auth.CertificateSecret)
		if err != nil {
			return c, fmt.Errorf("certificate secret %q: %w", auth.CertificateSecret, err)
		}
		keyPEM := certPEM
		if auth.KeySecret != "" {
			if keyPEM, err = lookup(auth.KeySecret); err != nil {
				return c, fmt.Errorf("key secret %q: %w", auth.KeySecret, err)
			}
		}
		chain := certPEM
		if auth.IntermediatesSecret != "" {
			inter, err := lookup(auth.IntermediatesSecret)
			if err != nil {
				return c, fmt.Errorf("intermediate certificates secret %q: %w", auth.IntermediatesSecret, err)
			}
			chain = append(append(bytes.Clone(certPEM), '\n'), inter...)
		}
		cert, err := tls.X509KeyPair(chain, keyPEM)
		if err != nil {
			// The crypto/tls error never contains key material.
			return c, fmt.Errorf("certificate secret %q: %w", auth.CertificateSecret, err)
		}
		c.Certificate = &cert
		return c, nil
	default:
		return c, fmt.Errorf("authentication method %q is not supported", auth.Method)
	}
}
