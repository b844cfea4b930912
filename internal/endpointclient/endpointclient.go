// Package endpointclient builds the HTTP client of a device endpoint from
// its plan and its resolved secrets: the TLS material, the headers and
// query parameters every request carries, and the authentication scheme of
// its configuration. The runtime and the try command build their clients
// here, so that both speak to a device the same way.
//
// Static schemes become headers or query parameters fixed when the client
// is built, so that plain-http requests keep the direct path: HTTP Basic,
// a bearer token, an API key. The others wrap the transport and work per
// request: HTTP Digest (internal/digest), OAuth2 client credentials, a
// login flow and a cookie jar (internal/httpauth).
package endpointclient

import (
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strconv"
	"time"

	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/digest"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/httpauth"
	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
)

// Options configure Build.
type Options struct {
	// Fetch holds the limits and the shared pool; the rest of it is the
	// endpoint's, set by Build.
	Fetch fetch.Options
	// Observer, if set, is told of each login and token request.
	Observer func(httpauth.Event)
	// Now is the clock of token lifetimes and login back-off; default
	// time.Now.
	Now func() time.Time
}

// Build builds the client of ep with the secrets cr. Its error names the
// field whose placeholders could not be filled in, never a value.
func Build(ep *plan.Endpoint, cr credentials.Resolved, o Options) (*fetch.Client, error) {
	opts := o.Fetch
	opts.Credentials = cr.Credentials
	opts.Secrets = cr.Lookup
	c := &ep.Config
	b := builder{lookup: cr.Lookup}
	opts.Header = b.header(c.Header, "headers")
	opts.Query = b.query(c.Query, "query")
	a := &c.Auth
	if a.Type != plan.AuthByMethod && a.Type != plan.AuthBasic {
		// The username and password serve the scheme, not HTTP Basic.
		opts.Credentials.Username, opts.Credentials.Password = "", ""
	}
	name := fmt.Sprintf("device %q endpoint %q", ep.Device, ep.Name)
	hopts := httpauth.Options{Name: name, MaxBody: opts.MaxResponseBytes, Observer: o.Observer, Now: o.Now}
	var jar http.CookieJar
	if c.Cookies || (a.Login != nil && a.Login.TokenJQ == nil && a.Login.TokenHeader == "") {
		jar, _ = cookiejar.New(nil) // never fails without options
	}
	var wrap func(http.RoundTripper) http.RoundTripper
	switch a.Type {
	case plan.AuthBearer:
		token := b.expand(a.Token, "auth.token")
		opts.Header = withHeader(opts.Header, "Authorization", "Bearer "+token)
	case plan.AuthAPIKey:
		key := b.expand(a.KeyValue, "auth.value")
		if a.KeyInQuery {
			opts.Query = withQuery(opts.Query, a.KeyName, key)
		} else {
			opts.Header = withHeader(opts.Header, a.KeyName, key)
		}
	case plan.AuthDigest:
		creds := digest.Credentials{Username: cr.Username, Password: cr.Password}
		wrap = func(base http.RoundTripper) http.RoundTripper {
			return &digest.Transport{Base: base, Credentials: creds.Get}
		}
	case plan.AuthOAuth2:
		cfg := b.oauth2(a.OAuth2)
		wrap = func(base http.RoundTripper) http.RoundTripper { return httpauth.NewOAuth2(cfg, base, hopts) }
	case plan.AuthLogin:
		cfg := b.login(a.Login)
		wrap = func(base http.RoundTripper) http.RoundTripper { return httpauth.NewLogin(cfg, base, jar, hopts) }
	}
	if b.err != nil {
		return nil, fmt.Errorf("%s: additionalConfiguration.%w", name, b.err)
	}
	if jar != nil && a.Type != plan.AuthLogin {
		inner := wrap
		wrap = func(base http.RoundTripper) http.RoundTripper {
			if inner != nil {
				base = inner(base)
			}
			return httpauth.NewCookies(base, jar)
		}
	}
	opts.Wrap = wrap
	opts.Redact = append(b.secrets, cr.Password)
	for _, v := range cr.Secrets {
		opts.Redact = append(opts.Redact, v)
	}
	return fetch.New(opts), nil
}

// builder fills in placeholders, keeping the first error.
type builder struct {
	lookup  func(placeholder.Ref) (string, error)
	err     error
	secrets []string // the values placeholders gave: redacted from answers
}

func (b *builder) expand(t placeholder.Text, field string) string {
	v, err := t.Expand(b.lookup)
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("%s: %w", field, err)
	}
	if !t.Static() {
		b.secrets = append(b.secrets, v)
	}
	return v
}

func (b *builder) header(ps []plan.Param, field string) http.Header {
	if len(ps) == 0 {
		return nil
	}
	h := make(http.Header, len(ps))
	for _, p := range ps {
		h.Set(p.Name, b.expand(p.Value, field+"."+p.Name))
	}
	return h
}

func (b *builder) query(ps []plan.Param, field string) url.Values {
	if len(ps) == 0 {
		return nil
	}
	q := make(url.Values, len(ps))
	for _, p := range ps {
		q.Set(p.Name, b.expand(p.Value, field+"."+p.Name))
	}
	return q
}

func (b *builder) oauth2(o *plan.OAuth2Config) httpauth.OAuth2 {
	cfg := httpauth.OAuth2{
		TokenURL:     o.TokenURL,
		ClientID:     b.expand(o.ClientID, "auth.clientId"),
		ClientSecret: b.expand(o.ClientSecret, "auth.clientSecret"),
		Scopes:       o.Scopes,
		RenewBefore:  o.RenewBefore,
	}
	switch o.AuthStyle {
	case "header":
		cfg.AuthStyle = httpauth.AuthStyleHeader
	case "params":
		cfg.AuthStyle = httpauth.AuthStyleParams
	}
	if len(o.Params) > 0 {
		cfg.Params = b.query(o.Params, "auth.params")
	}
	return cfg
}

func (b *builder) login(l *plan.LoginConfig) httpauth.Login {
	cfg := httpauth.Login{
		Method:        l.Method,
		URL:           l.URL,
		Header:        b.header(l.Header, "auth.request.headers"),
		TokenJQ:       l.TokenJQ,
		TokenHeader:   l.TokenHeader,
		ErrorJQ:       l.ErrorJQ,
		UseHeader:     l.UseHeader,
		UsePrefix:     l.UsePrefix,
		UseQuery:      l.UseQuery,
		Lifetime:      l.Lifetime,
		ExpiresInJQ:   l.ExpiresInJQ,
		ReloginStatus: l.Relogin,
		ReloginJQ:     l.ReloginJQ,
	}
	switch {
	case l.Body != nil:
		cfg.Body = b.body(l)
		cfg.ContentType = "application/json"
	case len(l.Form) > 0:
		cfg.Body = []byte(b.query(l.Form, "auth.request.form").Encode())
		cfg.ContentType = "application/x-www-form-urlencoded"
	}
	return cfg
}

// body is the login body with its placeholders filled in, each string in
// place, so that a value is JSON-escaped whatever it holds.
func (b *builder) body(l *plan.LoginConfig) []byte {
	out, err := plan.FillJSON(l.Body, l.BodyTexts, func(t plan.Text) (string, error) {
		return b.expand(t.Value, "auth.request.body"+jsonPath(t.Path)), nil
	})
	if err != nil && b.err == nil {
		b.err = fmt.Errorf("auth.request.body: %w", err)
	}
	return out
}

func jsonPath(path []any) string {
	s := ""
	for _, p := range path {
		switch p := p.(type) {
		case string:
			s += "." + p
		case int:
			s += "[" + strconv.Itoa(p) + "]"
		}
	}
	return s
}

func withHeader(h http.Header, name, value string) http.Header {
	if h == nil {
		h = http.Header{}
	}
	h.Set(name, value)
	return h
}

func withQuery(q url.Values, name, value string) url.Values {
	if q == nil {
		q = url.Values{}
	}
	q.Set(name, value)
	return q
}
