// Package fetch makes the HTTP requests of samples: one client per device
// endpoint with its own connection pool, credentials and trust, request
// templates prepared once, bodies read through a size limit and always
// closed.
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/http-connector/http-connector/engine/plan"
)

// Credentials are an endpoint's resolved secrets. They print redacted.
type Credentials struct {
	Username    string
	Password    string
	Certificate *tls.Certificate // client certificate for mTLS
	RootCAs     *x509.CertPool   // trust list; nil: the system roots
}

// String never shows the secrets.
func (c Credentials) String() string {
	var parts []string
	if c.Username != "" || c.Password != "" {
		parts = append(parts, fmt.Sprintf("username:%q password:<redacted>", c.Username))
	}
	if c.Certificate != nil {
		parts = append(parts, "certificate:<redacted>")
	}
	if c.RootCAs != nil {
		parts = append(parts, "trust list")
	}
	return "Credentials{" + strings.Join(parts, " ") + "}"
}

// GoString keeps %#v from printing secrets too.
func (c Credentials) GoString() string { return c.String() }

// Options configure a Client.
type Options struct {
	Credentials      Credentials
	MaxResponseBytes int64 // default 4 MiB
	MaxConns         int   // connections per host; default 4
	UserAgent        string
}

// DefaultMaxResponseBytes bounds a response body when no limit is set.
const DefaultMaxResponseBytes = 4 << 20

// Client fetches from one device endpoint.
type Client struct {
	hc        *http.Client
	transport *http.Transport
	auth      string // Authorization header value, if any
	maxBytes  int64
	userAgent string
	buffers   sync.Pool
}

// New builds a client.
func New(opts Options) *Client {
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = 4
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "http-connector"
	}
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: opts.Credentials.RootCAs}
	if cert := opts.Credentials.Certificate; cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	tr := &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext,
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConns:          opts.MaxConns,
		MaxIdleConnsPerHost:   opts.MaxConns,
		MaxConnsPerHost:       opts.MaxConns,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
	}
	c := &Client{transport: tr, maxBytes: opts.MaxResponseBytes, userAgent: opts.UserAgent}
	c.hc = &http.Client{Transport: tr, CheckRedirect: checkRedirect}
	if cr := opts.Credentials; cr.Username != "" || cr.Password != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password))
	}
	c.buffers.New = func() any { return new(bytes.Buffer) }
	return c
}

// checkRedirect follows at most 5 redirects and never sends credentials to
// another host: net/http drops Authorization on a host change, and we refuse
// a downgrade from https to http.
func checkRedirect(req *http.Request, via []*http.Request) error {
	if len(via) >= 5 {
		return errors.New("stopped after 5 redirects")
	}
	if via[0].URL.Scheme == "https" && req.URL.Scheme != "https" {
		return fmt.Errorf("refused redirect from https to %s", redact(req.URL))
	}
	return nil
}

// Close releases idle connections.
func (c *Client) Close() { c.transport.CloseIdleConnections() }

// Request is a request prepared from a plan.
type Request struct {
	tmpl *http.Request
	body []byte
	what string // "GET http://host/path" without credentials or query
}

// String names the request for messages.
func (r *Request) String() string { return r.what }

// Prepare builds the request template once.
func (c *Client) Prepare(p *plan.Request) (*Request, error) {
	u, err := url.Parse(p.URL)
	if err != nil {
		return nil, fmt.Errorf("request URL: %w", err)
	}
	h := p.Header.Clone()
	if h == nil {
		h = http.Header{}
	}
	if c.auth != "" && h.Get("Authorization") == "" {
		h.Set("Authorization", c.auth)
	}
	if h.Get("User-Agent") == "" {
		h.Set("User-Agent", c.userAgent)
	}
	if h.Get("Accept") == "" {
		h.Set("Accept", "application/json, */*;q=0.5")
	}
	tmpl := &http.Request{
		Method:     p.Method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       u.Host,
	}
	return &Request{tmpl: tmpl, body: p.Body, what: p.Method + " " + redact(u)}, nil
}

func redact(u *url.URL) string {
	cp := *u
	cp.User = nil
	cp.RawQuery = ""
	cp.Fragment = ""
	return cp.String()
}

// Response is a fetched response. Call Release when done with Body.
type Response struct {
	Status      int
	ContentType string
	Body        []byte
	Elapsed     time.Duration
	buf         *bytes.Buffer
	client      *Client
}

// Release returns the body's buffer for reuse; Body must not be used after.
func (r *Response) Release() {
	if r.buf != nil && r.buf.Cap() <= 1<<20 {
		r.buf.Reset()
		r.client.buffers.Put(r.buf)
	}
	r.buf, r.Body = nil, nil
}

// StatusError is a response with a non-2xx status.
type StatusError struct {
	Code    int
	Snippet string // start of the body, for the operator
	// RetryAfter is the delay the Retry-After header asks for; 0 if none.
	RetryAfter time.Duration
}

func (e *StatusError) Error() string {
	s := fmt.Sprintf("HTTP %d %s", e.Code, http.StatusText(e.Code))
	if e.Snippet != "" {
		s += ": " + e.Snippet
	}
	return s
}

// ErrTooLarge is returned for a body over the size limit.
var ErrTooLarge = errors.New("response body too large")

// Do performs the request under ctx, which should carry the per-request
// timeout. A non-2xx status is a *StatusError.
func (c *Client) Do(ctx context.Context, r *Request) (*Response, error) {
	req := r.tmpl.WithContext(ctx)
	if r.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(r.body))
		req.ContentLength = int64(len(r.body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(r.body)), nil }
	}
	start := time.Now()
	resp, err := c.hc.Do(req)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, unwrapURLError(ctx, err))
	}
	defer resp.Body.Close()
	buf := c.buffers.Get().(*bytes.Buffer)
	if resp.ContentLength > 0 && resp.ContentLength <= c.maxBytes {
		buf.Grow(int(resp.ContentLength))
	}
	n, err := buf.ReadFrom(io.LimitReader(resp.Body, c.maxBytes+1))
	out := &Response{Status: resp.StatusCode, ContentType: resp.Header.Get("Content-Type"), Elapsed: time.Since(start), buf: buf, client: c}
	out.Body = buf.Bytes()
	if err != nil {
		out.Release()
		return nil, fmt.Errorf("%s: reading body: %w", r.what, unwrapURLError(ctx, err))
	}
	if n > c.maxBytes {
		out.Release()
		return nil, fmt.Errorf("%s: %w: more than %d bytes", r.what, ErrTooLarge, c.maxBytes)
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		se := &StatusError{Code: resp.StatusCode, Snippet: snippet(out.Body), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
		out.Release()
		return nil, fmt.Errorf("%s: %w", r.what, se)
	}
	return out, nil
}

func unwrapURLError(ctx context.Context, err error) error {
	var ue *url.Error
	if errors.As(err, &ue) {
		err = ue.Err
	}
	if errors.Is(err, context.DeadlineExceeded) || errors.Is(ctx.Err(), context.DeadlineExceeded) {
		return fmt.Errorf("no complete response in time: %w", context.DeadlineExceeded)
	}
	return err
}

func snippet(b []byte) string {
	const limit = 120
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(b[:min(len(b), limit*2)], []byte("?")))), " ")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
