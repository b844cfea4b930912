package httpauth

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	"golang.org/x/oauth2"
	"golang.org/x/oauth2/clientcredentials"
)

// DefaultRenewBefore is OAuth2.RenewBefore when it is 0.
const DefaultRenewBefore = time.Minute

// AuthStyle is how the client authenticates to the token endpoint.
type AuthStyle int

const (
	// AuthStyleAuto tries HTTP Basic first, then the form, and keeps the
	// one that worked.
	AuthStyleAuto AuthStyle = iota
	// AuthStyleHeader sends client_id and client_secret as HTTP Basic.
	AuthStyleHeader
	// AuthStyleParams sends them as form parameters.
	AuthStyleParams
)

// String is the style's name: auto, header or params.
func (s AuthStyle) String() string {
	switch s {
	case AuthStyleAuto:
		return "auto"
	case AuthStyleHeader:
		return "header"
	case AuthStyleParams:
		return "params"
	}
	return "AuthStyle(" + strconv.Itoa(int(s)) + ")"
}

// OAuth2 is an OAuth 2.0 client credentials grant (RFC 6749 §4.4).
// However it is printed, marshalled or logged, the client ID and secret
// show as <redacted>, the token URL without its query, and the extra
// parameters by name only.
type OAuth2 struct {
	TokenURL     *url.URL
	ClientID     string // secret: never printed
	ClientSecret string // secret: never printed
	Scopes       []string
	// Params are extra token request parameters (audience, resource …).
	Params    url.Values
	AuthStyle AuthStyle
	// RenewBefore renews a token this long before it expires: 0 means
	// DefaultRenewBefore; it is at most half the token's lifetime.
	RenewBefore time.Duration
}

// Validate checks the configuration, without any request.
func (c OAuth2) Validate() error {
	if err := checkURL(c.TokenURL); err != nil {
		return fmt.Errorf("oauth2: token URL: %w", err)
	}
	if c.ClientID == "" {
		return errors.New("oauth2: no client ID")
	}
	for _, p := range []string{"scope", "client_id", "client_secret"} {
		if _, ok := c.Params[p]; ok {
			return fmt.Errorf("oauth2: params: %s is set by the client, not a parameter", p)
		}
	}
	if c.RenewBefore < 0 {
		return fmt.Errorf("oauth2: renew before: %v is negative", c.RenewBefore)
	}
	if c.AuthStyle < AuthStyleAuto || c.AuthStyle > AuthStyleParams {
		return fmt.Errorf("oauth2: unknown auth style %d", int(c.AuthStyle))
	}
	return nil
}

// NewOAuth2 returns a RoundTripper that authorizes each request with an
// access token of the client credentials grant, sent as Authorization:
// Bearer. The token is obtained through base, so the endpoint's TLS trust
// applies, and shared by all requests; see the package documentation for
// when it is renewed. A request that carries an Authorization header of
// its own is sent as it is. With an invalid cfg, every request fails with
// the error of Validate.
func NewOAuth2(cfg OAuth2, base http.RoundTripper, opts Options) http.RoundTripper {
	opts = opts.withDefaults()
	t := &oauth2Transport{base: orDefault(base), opts: opts, desc: cfg.String()}
	if err := cfg.Validate(); err != nil {
		t.invalid = opts.errorf("%w", err)
		return t
	}
	t.url = where(cfg.TokenURL)
	t.conf = &clientcredentials.Config{
		ClientID:       cfg.ClientID,
		ClientSecret:   cfg.ClientSecret,
		TokenURL:       cfg.TokenURL.String(),
		Scopes:         slices.Clone(cfg.Scopes),
		EndpointParams: cloneValues(cfg.Params),
		AuthStyle:      [...]oauth2.AuthStyle{oauth2.AuthStyleAutoDetect, oauth2.AuthStyleInHeader, oauth2.AuthStyleInParams}[cfg.AuthStyle],
	}
	basic := url.QueryEscape(cfg.ClientID) + ":" + url.QueryEscape(cfg.ClientSecret)
	t.secrets.add(cfg.ClientID, cfg.ClientSecret, url.QueryEscape(cfg.ClientSecret), base64.StdEncoding.EncodeToString([]byte(basic)))
	early := cfg.RenewBefore
	if early == 0 {
		early = DefaultRenewBefore
	}
	t.keeper = keeper{what: "oauth2 token", opts: opts, early: early}
	return t
}

type oauth2Transport struct {
	base    http.RoundTripper
	opts    Options
	desc    string
	invalid error
	url     string // the token URL without query
	conf    *clientcredentials.Config
	secrets redactor
	keeper  keeper
}

// RoundTrip sends req with the kept token, obtaining one first if needed,
// and sends it again once with a new token if the answer is 401.
func (t *oauth2Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.invalid != nil {
		closeBody(req)
		return nil, t.invalid
	}
	if req.Header.Get("Authorization") != "" {
		return t.base.RoundTrip(req)
	}
	ctx := req.Context()
	g, err := t.keeper.get(ctx, t.fetch)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req.Clone(ctx), g)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	t.keeper.drop(g)
	if !canResend(req) {
		return resp, nil
	}
	discard(resp)
	if g, err = t.keeper.get(ctx, t.fetch); err != nil {
		return nil, err
	}
	r, err := resend(req)
	if err != nil {
		return nil, t.opts.errorf("%s %s: %w", req.Method, where(req.URL), err)
	}
	return t.send(r, g)
}

// send sends r, a copy of the caller's request, with the token of g.
func (t *oauth2Transport) send(r *http.Request, g *grant) (*http.Response, error) {
	r.Header.Set("Authorization", g.value)
	return t.base.RoundTrip(r)
}

// fetch makes a token request.
func (t *oauth2Transport) fetch(ctx context.Context) (string, time.Duration, error) {
	start := t.opts.Now()
	rec := &recorder{base: t.base, max: t.opts.MaxBody}
	client := &http.Client{Transport: rec, Timeout: requestTimeout}
	tok, err := t.conf.Token(context.WithValue(ctx, oauth2.HTTPClient, client))
	if err != nil {
		err = &Error{Refused: refusal(rec.status), err: t.opts.errorf("oauth2 token POST %s: %w", t.url, t.describe(err))}
	}
	t.opts.observe(Event{Step: "oauth2 token", Method: http.MethodPost, URL: t.url, Status: rec.status, Elapsed: t.opts.Now().Sub(start), Err: err})
	if err != nil {
		return "", 0, err
	}
	return tok.Type() + " " + tok.AccessToken, lifetimeOf(tok), nil
}

// describe says why a token request failed, in the words of the token
// endpoint where it gave any, without the secrets.
func (t *oauth2Transport) describe(err error) error {
	var re *oauth2.RetrieveError
	if errors.As(err, &re) {
		if re.ErrorCode == "" {
			return statusError(re.Response.StatusCode, re.Body, t.secrets)
		}
		s := re.ErrorCode
		if re.ErrorDescription != "" {
			s += ": " + re.ErrorDescription
		}
		return errors.New(snippet([]byte(t.secrets.redact(s))))
	}
	if ne := netError(err); ne != err {
		return ne
	}
	return errors.New(strings.TrimPrefix(err.Error(), "oauth2: "))
}

func cloneValues(v url.Values) url.Values {
	if v == nil {
		return nil
	}
	c := make(url.Values, len(v))
	for k, vs := range v {
		c[k] = slices.Clone(vs)
	}
	return c
}

// lifetimeOf is the lifetime the token endpoint gave the token in
// expires_in (a number, or a string as some endpoints send); 0 if none.
func lifetimeOf(tok *oauth2.Token) time.Duration {
	var secs float64
	switch v := tok.Extra("expires_in").(type) {
	case float64:
		secs = v
	case int64:
		secs = float64(v)
	case string:
		secs, _ = strconv.ParseFloat(strings.TrimSpace(v), 64)
	}
	if !(secs > 0) {
		return 0
	}
	return time.Duration(min(secs, math.MaxInt32) * float64(time.Second))
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *oauth2Transport) CloseIdleConnections() { closeIdle(t.base) }

// String describes the transport without its secrets.
func (t *oauth2Transport) String() string { return "httpauth.NewOAuth2(" + t.desc + ")" }

// Format prints String for every verb, so that no verb reaches the
// secrets.
func (t *oauth2Transport) Format(f fmt.State, verb rune) { io.WriteString(f, t.String()) }
