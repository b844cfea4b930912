package folder

import (
	"crypto/x509"
	"fmt"

	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/settings"
)

// Credentials resolves an endpoint's credentials and trust list from the
// secrets the settings name, as Run and `try` do.
func Credentials(s *settings.Settings, getenv func(string) (string, bool)) func(ep *plan.Endpoint) (fetch.Credentials, error) {
	return func(ep *plan.Endpoint) (fetch.Credentials, error) {
		c, err := credentials.Resolve(ep.Auth, func(name string) ([]byte, error) { return s.Secrets.Lookup(name, getenv) })
		if err != nil {
			return c, err
		}
		if ep.Trust != "" {
			pem, err := s.Secrets.Lookup(ep.Trust, getenv)
			if err != nil {
				return c, fmt.Errorf("trust list %q: %w", ep.Trust, err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return c, fmt.Errorf("trust list %q: no PEM certificates", ep.Trust)
			}
			c.RootCAs = pool
		}
		return c, nil
	}
}

// FetchOptions are the HTTP limits of the settings.
func FetchOptions(s *settings.Settings) fetch.Options {
	return fetch.Options{MaxResponseBytes: s.MaxResponseBytes, MaxConns: s.MaxConnsPerDevice}
}
