package httpauth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"
	"unicode/utf8"
)

// DefaultMaxBody bounds the bodies read here when Options.MaxBody is 0.
const DefaultMaxBody = 1 << 20

// requestTimeout bounds one login or token request, redirects included,
// on top of the deadline of the request that waits for it.
const requestTimeout = 30 * time.Second

// Options are shared by the schemes.
type Options struct {
	// Name says whose requests these are, e.g. `device "hall-3" endpoint
	// "rest"`; it is prefixed to errors.
	Name string
	// MaxBody bounds the bodies read here: login and token answers, and the
	// answers a relogin check reads. 0 means DefaultMaxBody.
	MaxBody int64
	// Observer, if set, is told of each login or token request, once it is
	// answered or has failed. It is called on the goroutine of the request
	// that made it, outside any lock, and must not block for long.
	Observer func(Event)
	// Now is the clock of lifetimes and back-off; nil means time.Now.
	Now func() time.Time
}

func (o Options) withDefaults() Options {
	if o.MaxBody <= 0 {
		o.MaxBody = DefaultMaxBody
	}
	if o.Now == nil {
		o.Now = time.Now
	}
	return o
}

// errorf is an error of the scheme, prefixed with the Name.
func (o Options) errorf(format string, args ...any) error {
	err := fmt.Errorf(format, args...)
	if o.Name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", o.Name, err)
}

// Error is a failed login or token request. Refused says that the device,
// or its identity provider, answered and refused (a non-2xx status, an
// error in the answer); otherwise it could not be asked (the network, a
// timeout).
type Error struct {
	Refused bool
	err     error
}

// refusal reports whether an answer of this status to a login or token
// request that failed is a refusal: any answer but none (0) and a server
// error (5xx).
func refusal(status int) bool { return status != 0 && status < 500 }

func (e *Error) Error() string { return e.err.Error() }
func (e *Error) Unwrap() error { return e.err }

func (o Options) observe(e Event) {
	if o.Observer != nil {
		o.Observer(e)
	}
}

// Event is a login or token request, for the operator: it holds no
// secret.
type Event struct {
	Step    string // "login" or "oauth2 token"
	Method  string
	URL     string // without query and user information
	Status  int    // 0 when there was no response
	Elapsed time.Duration
	Err     error // nil on success
}

// where names u in errors and events: scheme, host and path, without
// user information or query, which may hold secrets.
func where(u *url.URL) string {
	if u == nil {
		return "<no URL>"
	}
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return u.Scheme + "://" + u.Host + path
}

// checkURL checks that u is an absolute http or https URL.
func checkURL(u *url.URL) error {
	switch {
	case u == nil:
		return errors.New("no URL")
	case u.Scheme != "http" && u.Scheme != "https":
		return fmt.Errorf("%s: want an http or https URL", where(u))
	case u.Host == "":
		return fmt.Errorf("%s: the URL has no host", where(u))
	}
	return nil
}

// netError is the cause of a failed request without the *url.Error
// around it, which prints the whole URL, query included.
func netError(err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		return ue.Err
	}
	return err
}

func hasBody(req *http.Request) bool { return req.Body != nil && req.Body != http.NoBody }

// canResend reports whether req may be sent a second time.
func canResend(req *http.Request) bool { return !hasBody(req) || req.GetBody != nil }

func closeBody(req *http.Request) {
	if req.Body != nil {
		req.Body.Close()
	}
}

// resend is a copy of req with a new copy of the body, for sending it
// again.
func resend(req *http.Request) (*http.Request, error) {
	r := req.Clone(req.Context())
	if hasBody(req) {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("get the body again: %w", err)
		}
		r.Body = body
	}
	return r, nil
}

// discard reads a little of a response body, so that the connection can
// be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// errTooLarge is a body over Options.MaxBody.
type errTooLarge int64

func (e errTooLarge) Error() string { return fmt.Sprintf("the answer is over %d bytes", int64(e)) }

// readBounded reads r to its end, failing past max bytes.
func readBounded(r io.Reader, max int64) ([]byte, error) {
	b, err := io.ReadAll(io.LimitReader(r, max+1))
	if err != nil {
		return nil, err
	}
	if int64(len(b)) > max {
		return nil, errTooLarge(max)
	}
	return b, nil
}

// boundedBody is a response body that fails past max bytes, rather than
// ending early as io.LimitReader would.
type boundedBody struct {
	io.ReadCloser
	left int64
	max  int64
}

func (b *boundedBody) Read(p []byte) (int, error) {
	if b.left < 0 {
		return 0, errTooLarge(b.max)
	}
	if int64(len(p)) > b.left+1 {
		p = p[:b.left+1]
	}
	n, err := b.ReadCloser.Read(p)
	b.left -= int64(n)
	if b.left < 0 {
		return n, errTooLarge(b.max)
	}
	return n, err
}

// recorder is the transport of a login or token request: it keeps what
// the Event and the checks need of the answers (the last status, whether
// any set a cookie), and bounds the bodies.
type recorder struct {
	base      http.RoundTripper
	max       int64
	status    int
	setCookie bool
}

func (r *recorder) RoundTrip(req *http.Request) (*http.Response, error) {
	resp, err := r.base.RoundTrip(req)
	if err != nil {
		return nil, err
	}
	r.status = resp.StatusCode
	r.setCookie = r.setCookie || len(resp.Header["Set-Cookie"]) > 0
	resp.Body = &boundedBody{ReadCloser: resp.Body, left: r.max, max: r.max}
	return resp, nil
}

// snippetLen bounds the text a device's answer puts into an error.
const snippetLen = 120

// snippet is the start of a body from a device for an error: valid UTF-8,
// whitespace folded, at most snippetLen bytes and an ellipsis.
func snippet(b []byte) string {
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(b[:min(len(b), snippetLen*2)], []byte("?")))), " ")
	return truncate(s, snippetLen)
}

// truncate cuts s to at most n bytes at a character boundary and marks the
// cut with an ellipsis.
func truncate(s string, n int) string {
	if len(s) <= n {
		return s
	}
	i := n
	for i > 0 && !utf8.RuneStart(s[i]) {
		i--
	}
	return s[:i] + "…"
}

// statusError describes a non-2xx answer: the status and the start of the
// body, with the secrets in it redacted.
func statusError(code int, body []byte, r redactor) error {
	s := fmt.Sprintf("HTTP %d %s", code, http.StatusText(code))
	if sn := snippet([]byte(r.redact(string(body)))); sn != "" {
		s += ": " + sn
	}
	return errors.New(s)
}

// minSecret is the length from which a value counts as a secret to be
// searched for in what a device answers: shorter ones would mangle the
// messages and protect nothing.
const minSecret = 4

// redactor removes known secrets from the text a device answers, in case
// it echoes what it was sent.
type redactor []string

// add records the secrets among vals.
func (r *redactor) add(vals ...string) {
	for _, v := range vals {
		if len(v) >= minSecret && !slices.Contains(*r, v) {
			*r = append(*r, v)
		}
	}
	slices.SortStableFunc(*r, func(a, b string) int { return len(b) - len(a) })
}

// redact replaces each known secret in s, longest first, by <redacted>.
func (r redactor) redact(s string) string {
	for _, v := range r {
		s = strings.ReplaceAll(s, v, "<redacted>")
	}
	return s
}
