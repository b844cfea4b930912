package httpauth

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/http-connector/http-connector/internal/mapping"
)

// Login is a login request whose answer opens a session: a token that
// later requests carry, or a session cookie. However it is printed,
// marshalled or logged, it shows header names without their values, the
// URL without its query, and no body.
type Login struct {
	Method      string      // default POST
	URL         *url.URL    // absolute (already resolved against the endpoint address)
	Header      http.Header // already resolved (secrets substituted)
	Body        []byte      // already resolved; may be nil
	ContentType string      // "application/json", "application/x-www-form-urlencoded", or "" (none)

	// Where the token comes from: at most one of the two. With neither, the
	// session is the cookies the login sets, kept in the jar.

	// TokenJQ runs on the JSON answer and gives one string, e.g.
	// `.result.token`.
	TokenJQ *mapping.Program
	// TokenHeader is a header of the answer, e.g. X-Auth-Token.
	TokenHeader string

	// ErrorJQ, if set, runs on the JSON answer: an output other than null,
	// false or "" means the login failed, with that output (a string or
	// an object, typically) as the message. If nil, a JSON-RPC error
	// answer, {"error":{"code":C,"message":M}}, is a failed login.
	ErrorJQ *mapping.Program

	// How later requests carry the token (not used for a session cookie):
	// in the header UseHeader (default Authorization) with the prefix
	// UsePrefix (default "Bearer " for Authorization, else none), or, if
	// UseQuery is set, as that query parameter.
	UseHeader string
	UsePrefix string
	UseQuery  string

	// When to log in again, besides when a request is refused:
	// Lifetime, if not 0, is how long a session lasts; ExpiresInJQ, if
	// set, gives it in seconds from the JSON answer (null: Lifetime).
	Lifetime    time.Duration
	ExpiresInJQ *mapping.Program
	// ReloginStatus are the statuses that mean the session is over;
	// default 401 and 403.
	ReloginStatus []int
	// ReloginJQ, if set, runs on each 2xx answer whose body is JSON (and
	// at most Options.MaxBody long); an output true means the session is
	// over, e.g. `.error.code? == 2`; a program error means it is not.
	// The body is handed on intact otherwise.
	ReloginJQ *mapping.Program
}

// Validate checks the configuration, without any request.
func (l Login) Validate() error {
	if err := checkURL(l.URL); err != nil {
		return fmt.Errorf("login: URL: %w", err)
	}
	for _, f := range []struct{ name, v string }{{"method", l.Method}, {"token header", l.TokenHeader}, {"use header", l.UseHeader}} {
		if f.v != "" && !isToken(f.v) {
			return fmt.Errorf("login: %s %q: want a token (letters, digits and !#$%%&'*+-.^_`|~)", f.name, f.v)
		}
	}
	if l.TokenJQ != nil && l.TokenHeader != "" {
		return fmt.Errorf("login: the token from TokenJQ or TokenHeader, not both")
	}
	if l.UseHeader != "" && l.UseQuery != "" {
		return fmt.Errorf("login: the token in UseHeader or UseQuery, not both")
	}
	if l.Lifetime < 0 {
		return fmt.Errorf("login: lifetime %v is negative", l.Lifetime)
	}
	for _, c := range l.ReloginStatus {
		if c < 300 || c > 599 {
			return fmt.Errorf("login: relogin status %d: want 300 to 599 (ReloginJQ checks 2xx answers)", c)
		}
	}
	return nil
}

// session reports whether the session is the login's cookies.
func (l Login) session() bool { return l.TokenJQ == nil && l.TokenHeader == "" }

// NewLogin returns a RoundTripper that logs in to the device and sends
// each request within the session: with the token, or with the cookies of
// jar (nil: a new jar). The login goes through base, following redirects
// with the jar's cookies; with a jar, every request carries its cookies
// and keeps those it is sent, token or not. See the package documentation
// for when it logs in again. With an invalid cfg, every request fails with
// the error of Validate.
func NewLogin(cfg Login, base http.RoundTripper, jar http.CookieJar, opts Options) http.RoundTripper {
	opts = opts.withDefaults()
	base = orDefault(base)
	t := &loginTransport{cfg: cfg, opts: opts, desc: cfg.String(), next: base}
	if err := cfg.Validate(); err != nil {
		t.invalid = opts.errorf("%w", err)
		return t
	}
	t.cfg.Header = cfg.Header.Clone()
	t.cfg.Body = bytes.Clone(cfg.Body)
	t.method = cmp.Or(cfg.Method, http.MethodPost)
	t.url = where(cfg.URL)
	if cfg.session() && jar == nil {
		jar = orNewJar(nil)
	}
	if jar != nil {
		t.jar = jar
		t.next = NewCookies(base, jar)
	}
	t.base = base
	t.header = http.CanonicalHeaderKey(cmp.Or(cfg.UseHeader, "Authorization"))
	t.prefix = cfg.UsePrefix
	if t.prefix == "" && t.header == "Authorization" {
		t.prefix = "Bearer "
	}
	t.relogin = cfg.ReloginStatus
	if len(t.relogin) == 0 {
		t.relogin = []int{http.StatusUnauthorized, http.StatusForbidden}
	}
	t.secrets = loginSecrets(cfg)
	t.keeper = keeper{what: "login", opts: opts}
	return t
}

type loginTransport struct {
	cfg     Login
	opts    Options
	desc    string
	invalid error
	method  string
	url     string            // the login URL without query
	base    http.RoundTripper // sends the login
	next    http.RoundTripper // sends the requests: base, with the jar's cookies if there is a jar
	jar     http.CookieJar    // nil: none
	header  string            // the token goes into this header, after prefix, unless UseQuery is set
	prefix  string
	relogin []int
	secrets redactor
	keeper  keeper
}

// RoundTrip sends req within the session, logging in first if there is
// none, and once again after a new login if the answer says the session
// is over.
func (t *loginTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	if t.invalid != nil {
		closeBody(req)
		return nil, t.invalid
	}
	ctx := req.Context()
	g, err := t.keeper.get(ctx, t.login)
	if err != nil {
		closeBody(req)
		return nil, err
	}
	resp, err := t.send(req.Clone(ctx), g)
	if err != nil || !t.over(ctx, resp) {
		return resp, err
	}
	t.keeper.drop(g)
	if !canResend(req) {
		return resp, nil
	}
	discard(resp)
	if g, err = t.keeper.get(ctx, t.login); err != nil {
		return nil, err
	}
	r, err := resend(req)
	if err != nil {
		return nil, t.opts.errorf("%s %s: %w", req.Method, where(req.URL), err)
	}
	return t.send(r, g)
}

// send sends r, a copy of the caller's request, with the session of g.
func (t *loginTransport) send(r *http.Request, g *grant) (*http.Response, error) {
	switch {
	case t.cfg.session():
	case t.cfg.UseQuery != "":
		setQuery(r.URL, t.cfg.UseQuery, g.value)
	default:
		r.Header.Set(t.header, t.prefix+g.value)
	}
	return t.next.RoundTrip(r)
}

// over reports whether resp says the session is over. A body it reads to
// tell is put back as it was.
func (t *loginTransport) over(ctx context.Context, resp *http.Response) bool {
	for _, c := range t.relogin {
		if resp.StatusCode == c {
			return true
		}
	}
	if t.cfg.ReloginJQ == nil || resp.StatusCode/100 != 2 {
		return false
	}
	over, body := peekBody(ctx, resp.Body, t.opts.MaxBody, t.cfg.ReloginJQ)
	resp.Body = body
	return over
}

// login makes a login request.
func (t *loginTransport) login(ctx context.Context) (string, time.Duration, error) {
	start := t.opts.Now()
	status, token, lifetime, err := t.attempt(ctx)
	if err != nil {
		err = &Error{Refused: refusal(status), err: t.opts.errorf("login %s %s: %w", t.method, t.url, err)}
	}
	t.opts.observe(Event{Step: "login", Method: t.method, URL: t.url, Status: status, Elapsed: t.opts.Now().Sub(start), Err: err})
	return token, lifetime, err
}

// attempt sends the login request and reads the session from its answer.
func (t *loginTransport) attempt(ctx context.Context) (status int, token string, lifetime time.Duration, err error) {
	var body io.Reader
	if t.cfg.Body != nil {
		body = bytes.NewReader(t.cfg.Body)
	}
	req, err := http.NewRequestWithContext(ctx, t.method, t.cfg.URL.String(), body)
	if err != nil {
		return 0, "", 0, netError(err)
	}
	if t.cfg.Header != nil {
		req.Header = t.cfg.Header.Clone()
	}
	if t.cfg.ContentType != "" && req.Header.Get("Content-Type") == "" {
		req.Header.Set("Content-Type", t.cfg.ContentType)
	}
	rec := &recorder{base: t.base, max: t.opts.MaxBody}
	resp, err := (&http.Client{Transport: rec, Jar: t.jar, Timeout: requestTimeout}).Do(req)
	if err != nil {
		return rec.status, "", 0, netError(err)
	}
	defer resp.Body.Close()
	b, err := readBounded(resp.Body, t.opts.MaxBody)
	if err != nil {
		return resp.StatusCode, "", 0, fmt.Errorf("read the answer: %w", err)
	}
	if resp.StatusCode/100 != 2 {
		return resp.StatusCode, "", 0, statusError(resp.StatusCode, b, t.secrets)
	}
	token, lifetime, err = t.answer(ctx, resp.Header, b, rec.setCookie)
	return resp.StatusCode, token, lifetime, err
}

// isToken reports whether s is an RFC 9110 token, as methods and header
// names are.
func isToken(s string) bool {
	for _, c := range []byte(s) {
		if !('a' <= c && c <= 'z' || 'A' <= c && c <= 'Z' || '0' <= c && c <= '9' || strings.IndexByte("!#$%&'*+-.^_`|~", c) >= 0) {
			return false
		}
	}
	return s != ""
}

// setQuery sets the query parameter name of u to v, in place if it is
// there, else appended, so that the other parameters keep their order.
func setQuery(u *url.URL, name, v string) {
	if q := u.Query(); q.Has(name) {
		q.Set(name, v)
		u.RawQuery = q.Encode()
		return
	}
	if u.RawQuery != "" {
		u.RawQuery += "&"
	}
	u.RawQuery += url.QueryEscape(name) + "=" + url.QueryEscape(v)
}

// CloseIdleConnections closes the idle connections of the base transport.
func (t *loginTransport) CloseIdleConnections() { closeIdle(t.next) }

// String describes the transport without its secrets.
func (t *loginTransport) String() string { return "httpauth.NewLogin(" + t.desc + ")" }

// Format prints String for every verb, so that no verb reaches the
// secrets.
func (t *loginTransport) Format(f fmt.State, verb rune) { io.WriteString(f, t.String()) }
