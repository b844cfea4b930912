// Package fetch makes the HTTP requests of samples: one client per device
// endpoint with its own credentials, trust and cap on connections, requests
// prepared once, bodies read through a size limit and always closed.
// Plain-http polling requests take a direct path of their own (wire.go);
// the rest go through net/http. Clients can share their connection pools
// (see Transports).
package fetch

import (
	"bytes"
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/http-connector/http-connector/internal/placeholder"
	"github.com/http-connector/http-connector/internal/plan"
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

// MarshalJSON writes the description of String, so that structured logs
// cannot show the secrets either.
func (c Credentials) MarshalJSON() ([]byte, error) { return json.Marshal(c.String()) }

// Options configure a Client.
type Options struct {
	Credentials      Credentials
	MaxResponseBytes int64 // default 4 MiB
	MaxConns         int   // connections to the endpoint at a time; default 4
	UserAgent        string
	// Shared, if set, lends the client a connection pool shared with the
	// other clients of the same Transports whose TLS settings are alike;
	// nil, a client certificate or Dial gives the client a pool of its own.
	Shared *Transports
	// Dial, if set, makes the connections instead of a net.Dialer (tests
	// dial a network in memory).
	Dial func(ctx context.Context, network, addr string) (net.Conn, error)
	// Header holds headers every request carries unless it sets them
	// itself: the endpoint's, a bearer token or an API key. Requests with
	// static headers keep the direct path.
	Header http.Header
	// Query holds query parameters added to every request's URL unless it
	// sets them itself.
	Query url.Values
	// Secrets gives the values of the placeholders of a request's secret
	// headers and query parameters (plan.Request.Secret), when it is
	// prepared. The error must not hold a value.
	Secrets func(placeholder.Ref) (string, error)
	// Redact lists the secret values the client sends (a password, a
	// token, a key): a device that repeats one in an error answer does not
	// get it into an error, a log or try's output.
	Redact []string
	// Wrap, if set, wraps the client's transport with the authentication
	// that needs work per request (Digest, OAuth2, a login, cookies): every
	// request then goes through it, never the direct path.
	Wrap func(http.RoundTripper) http.RoundTripper
}

// Defaults of the options.
const (
	// DefaultMaxResponseBytes bounds a response body when no limit is set.
	DefaultMaxResponseBytes = 4 << 20
	// DefaultMaxConns caps the connections to one endpoint when no cap is set.
	DefaultMaxConns = 4
)

// dialFunc makes a connection, as net.Dialer.DialContext does.
type dialFunc = func(ctx context.Context, network, addr string) (net.Conn, error)

// dialer is dial, or else a net.Dialer's.
func dialer(dial dialFunc) dialFunc {
	if dial != nil {
		return dial
	}
	return (&net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}).DialContext
}

// Connection buffers. A request head and a small JSON response fit; larger
// bodies are read and written past the buffers. net/http's default is 4 KiB
// each, which a connector with thousands of connections pays in megabytes.
const (
	readBufferSize  = 2 << 10
	writeBufferSize = 1 << 10
)

// Client fetches from one device endpoint.
type Client struct {
	hc        *http.Client
	transport *http.Transport
	rt        http.RoundTripper // transport, or Options.Wrap of it
	own       bool              // transport is the client's alone
	slots     chan struct{}     // with a shared transport: caps requests in flight
	auth      string            // Authorization header value, if any
	header    http.Header       // of requests without headers of their own; never modified
	maxBytes  int64
	userAgent string
	responses *sync.Pool  // *Response with their body buffers; shared with the pool's clients
	extra     http.Header // Options.Header
	query     url.Values  // Options.Query
	secrets   func(placeholder.Ref) (string, error)
	redact    redactor
	wire      *wirePool // connections of the direct path (see wire.go); nil with Wrap
	hostsMu   sync.Mutex
	hosts     []*wireHost // of wire, used by the client's requests
}

// New builds a client.
func New(opts Options) *Client {
	if opts.MaxResponseBytes <= 0 {
		opts.MaxResponseBytes = DefaultMaxResponseBytes
	}
	if opts.MaxConns <= 0 {
		opts.MaxConns = DefaultMaxConns
	}
	if opts.UserAgent == "" {
		opts.UserAgent = "http-connector"
	}
	c := &Client{maxBytes: opts.MaxResponseBytes, userAgent: opts.UserAgent, responses: new(sync.Pool)}
	if opts.Shared != nil {
		c.responses = &opts.Shared.responses
	}
	if opts.Shared != nil && opts.Credentials.Certificate == nil && opts.Dial == nil {
		c.transport = opts.Shared.get(opts.Credentials.RootCAs)
		c.slots = make(chan struct{}, opts.MaxConns)
		if opts.Wrap == nil {
			c.wire = opts.Shared.wirePool()
		}
	} else {
		c.transport = newTransport(opts.Credentials, opts.MaxConns, opts.MaxConns, opts.Dial)
		c.own = true
		if opts.Wrap == nil {
			c.wire = newWirePool(opts.MaxConns, opts.Dial)
		}
	}
	c.rt = c.transport
	if opts.Wrap != nil {
		c.rt = opts.Wrap(c.transport)
	}
	c.hc = &http.Client{Transport: c.rt, CheckRedirect: checkRedirect}
	if cr := opts.Credentials; cr.Username != "" || cr.Password != "" {
		c.auth = "Basic " + base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password))
	}
	c.extra, c.query, c.secrets = opts.Header, opts.Query, opts.Secrets
	c.redact.add(opts.Redact...)
	if cr := opts.Credentials; cr.Password != "" {
		c.redact.add(cr.Password, base64.StdEncoding.EncodeToString([]byte(cr.Username+":"+cr.Password)))
	}
	c.header = c.withDefaults(http.Header{})
	if opts.Shared != nil {
		c.header = opts.Shared.intern(c.header)
	}
	return c
}

// newTransport builds a transport with these credentials, keeping up to
// idlePerHost idle connections to a host; maxPerHost > 0 caps its
// connections to a host.
func newTransport(cr Credentials, idlePerHost, maxPerHost int, dial dialFunc) *http.Transport {
	tlsCfg := &tls.Config{MinVersion: tls.VersionTLS12, RootCAs: cr.RootCAs}
	if cert := cr.Certificate; cert != nil {
		tlsCfg.Certificates = []tls.Certificate{*cert}
	}
	return &http.Transport{
		Proxy:                 http.ProxyFromEnvironment,
		DialContext:           dialer(dial),
		TLSClientConfig:       tlsCfg,
		TLSHandshakeTimeout:   10 * time.Second,
		MaxIdleConnsPerHost:   idlePerHost,
		MaxConnsPerHost:       maxPerHost,
		IdleConnTimeout:       90 * time.Second,
		ExpectContinueTimeout: time.Second,
		ForceAttemptHTTP2:     true,
		ReadBufferSize:        readBufferSize,
		WriteBufferSize:       writeBufferSize,
	}
}

// Transports hands out connection pools shared by the clients of endpoints
// with alike TLS settings: no client certificate and the same trust list.
// Endpoints at one host and port (devices behind one gateway, or one server
// answering for many devices) then reuse each other's kept-alive
// connections instead of holding their own. Each client still caps its own
// requests in flight at Options.MaxConns, so a device that hangs holds at
// most that many connections and the other devices at its host go on; all
// of them together open at most SharedConnsPerHost connections to the host.
// The owner calls Close when the clients are done.
type Transports struct {
	mu        sync.Mutex
	shared    []sharedTransport
	headers   map[string]http.Header // see intern
	responses sync.Pool              // of every client of the Transports
	wire      *wirePool              // the direct path's connections, plain http only
}

type sharedTransport struct {
	roots *x509.CertPool // nil: the system roots
	tr    *http.Transport
}

// SharedConnsPerHost caps the connections of a shared pool to one host and
// port, whatever the number of endpoints there: it spares a gateway a
// connection per device, and keeps thousands of endpoints that start at
// once from dialling thousands of connections to it. Requests over the cap
// wait for a connection (under their deadline).
const SharedConnsPerHost = 64

func (t *Transports) get(roots *x509.CertPool) *http.Transport {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.shared {
		if s.roots == roots || (s.roots != nil && roots != nil && s.roots.Equal(roots)) {
			return s.tr
		}
	}
	tr := newTransport(Credentials{RootCAs: roots}, SharedConnsPerHost, SharedConnsPerHost, nil)
	t.shared = append(t.shared, sharedTransport{roots: roots, tr: tr})
	return tr
}

// wirePool returns the pool of the direct path's connections, which plain
// http needs only one of, whatever the TLS settings.
func (t *Transports) wirePool() *wirePool {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.wire == nil {
		t.wire = newWirePool(SharedConnsPerHost, nil)
	}
	return t.wire
}

// intern returns a header equal to h that the clients share: most
// endpoints send the same default headers, and thousands of clients need
// not hold a copy each. The header is never modified.
func (t *Transports) intern(h http.Header) http.Header {
	var key strings.Builder
	for _, k := range []string{"Authorization", "User-Agent", "Accept"} {
		key.WriteString(h.Get(k))
		key.WriteByte(0)
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	if shared, ok := t.headers[key.String()]; ok && len(shared) == len(h) {
		return shared
	}
	if t.headers == nil {
		t.headers = map[string]http.Header{}
	}
	t.headers[key.String()] = h
	return h
}

// Close closes the idle connections of the shared pools.
func (t *Transports) Close() {
	t.mu.Lock()
	defer t.mu.Unlock()
	for _, s := range t.shared {
		s.tr.CloseIdleConnections()
	}
	if t.wire != nil {
		t.wire.close()
	}
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

// Close releases the idle connections of the client's own pool; of a
// shared pool, the direct path's connections to hosts no other client
// uses, and the rest with Transports.Close.
func (c *Client) Close() {
	c.hostsMu.Lock()
	hosts := c.hosts
	c.hosts = nil
	c.hostsMu.Unlock()
	for _, h := range hosts {
		c.wire.release(h)
	}
	if c.own {
		c.transport.CloseIdleConnections()
		if c.wire != nil {
			c.wire.close()
		}
	}
}

// Request is a request prepared from a plan.
type Request struct {
	method string
	url    *url.URL    // never modified
	header http.Header // never modified
	body   []byte
	what   string // "GET http://host/path" without credentials or query
	// tmpl is the request for net/http, built by template when first
	// needed: a request on the direct path needs none unless it redirects
	// (or is a HEAD), and thousands of them need not hold one each.
	tmpl     *http.Request
	tmplOnce sync.Once
	// redirects is set once the request was answered with a redirect: from
	// then on it goes through the http.Client, which follows them (see
	// send).
	redirects atomic.Bool
	// wire is the whole request as sent and host where it goes, if it
	// takes the direct path (see wire.go).
	wire []byte
	host *wireHost
	// redact are the secret values the request sends, when it sends some
	// of its own besides the client's.
	redact redactor
}

// Direct reports whether r takes the direct path (see wire.go): Send can
// send it, if a connection is free.
func (r *Request) Direct() bool { return r.host != nil && !r.redirects.Load() }

// String names the request for messages.
func (r *Request) String() string { return r.what }

// URL is a copy of the request's URL, query included: it may hold secrets
// (an API key), so it is for building requests, never for messages.
func (r *Request) URL() *url.URL {
	u := *r.url
	return &u
}

// Again is r sent to u instead, with r's method, headers and body: the next
// page of a paged answer.
func (c *Client) Again(r *Request, u *url.URL) (*Request, error) {
	if len(c.query) > 0 { // the endpoint's, which a next link may leave out
		q := u.Query()
		for k, vs := range c.query {
			if !q.Has(k) {
				q[k] = vs
			}
		}
		cp := *u
		cp.RawQuery = q.Encode()
		u = &cp
	}
	n := &Request{method: r.method, url: u, header: r.header, body: r.body, what: r.method + " " + redact(u)}
	if !c.prepareWire(n, u) {
		n.tmpl = newTemplate(r.method, u, r.header)
	}
	return n, nil
}

// Redact adds secret values r sends, put in by whoever rendered it, to
// those taken out of what a device answers.
func (c *Client) Redact(r *Request, vals ...string) {
	if r.redact == nil {
		r.redact = append(redactor(nil), c.redact...)
	}
	r.redact.add(vals...)
}

// Secret gives the value of a secret placeholder from the client's
// Options.Secrets, for requests rendered for each sample.
func (c *Client) Secret(ref placeholder.Ref) (string, error) {
	if c.secrets == nil {
		return "", placeholder.ErrNoValue
	}
	return c.secrets(ref)
}

// Prepare builds the request template once, with the values of its
// secret headers and query parameters.
func (c *Client) Prepare(p *plan.Request) (*Request, error) { return c.PrepareWith(p, nil) }

// PrepareWith is Prepare, with secrets asked first for the values of the
// placeholders, then the client's Options.Secrets.
func (c *Client) PrepareWith(p *plan.Request, secrets func(placeholder.Ref) (string, error)) (*Request, error) {
	lookup := c.secrets
	if secrets != nil {
		lookup = func(r placeholder.Ref) (string, error) {
			v, err := secrets(r)
			if errors.Is(err, placeholder.ErrNoValue) && c.secrets != nil {
				return c.secrets(r)
			}
			return v, err
		}
	}
	u := p.URL
	h := c.header
	if len(p.Header) > 0 || len(p.Secret) > 0 {
		h = p.Header.Clone()
		if h == nil {
			h = make(http.Header, len(p.Secret))
		}
	}
	var q url.Values
	var secretValues []string
	for _, sp := range p.Secret {
		if lookup == nil {
			return nil, fmt.Errorf("%s: %s: no secrets to fill it in", p.Method+" "+redact(u), sp.Name)
		}
		v, err := sp.Value.Expand(lookup)
		if err != nil {
			return nil, fmt.Errorf("%s: %s: %w", p.Method+" "+redact(u), sp.Name, err)
		}
		secretValues = append(secretValues, v)
		if sp.Query {
			if q == nil {
				q = u.Query()
			}
			q.Set(sp.Name, v)
		} else {
			h.Set(sp.Name, v)
		}
	}
	if len(p.Header) > 0 || len(p.Secret) > 0 {
		h = c.withDefaults(h)
	}
	if len(c.query) > 0 {
		if q == nil {
			q = u.Query()
		}
		for k, vs := range c.query {
			if !q.Has(k) {
				q[k] = vs
			}
		}
	}
	if q != nil {
		cp := *u
		cp.RawQuery = q.Encode()
		u = &cp
	}
	r := &Request{method: p.Method, url: u, header: h, body: p.Body, what: p.Method + " " + redact(u)}
	if len(secretValues) > 0 {
		r.redact = append(redactor(nil), c.redact...)
		r.redact.add(secretValues...)
	}
	if !c.prepareWire(r, u) {
		r.tmpl = newTemplate(p.Method, u, h)
	}
	return r, nil
}

func newTemplate(method string, u *url.URL, h http.Header) *http.Request {
	return &http.Request{
		Method:     method,
		URL:        u,
		Proto:      "HTTP/1.1",
		ProtoMajor: 1,
		ProtoMinor: 1,
		Header:     h,
		Host:       u.Host,
	}
}

// template returns the request for net/http, which must not be modified.
func (r *Request) template() *http.Request {
	r.tmplOnce.Do(func() {
		if r.tmpl == nil {
			r.tmpl = newTemplate(r.method, r.url, r.header)
		}
	})
	return r.tmpl
}

// withDefaults sets the headers h does not set itself: the endpoint's
// credentials, the user agent and what the connector accepts.
func (c *Client) withDefaults(h http.Header) http.Header {
	for k, vs := range c.extra {
		if _, set := h[k]; !set {
			h[k] = vs
		}
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
	return h
}

func redact(u *url.URL) string {
	cp := *u
	cp.User = nil
	cp.RawQuery = ""
	cp.Fragment = ""
	return cp.String()
}

// Response is a fetched response. Call Release when done with it.
type Response struct {
	Status      int
	ContentType string
	Link        string // the Link header (RFC 8288), for paged answers
	Body        []byte
	Elapsed     time.Duration
	buf         []byte     // Body's storage, kept for the next response
	pool        *sync.Pool // where Release puts it
}

// Release returns the response and its body's buffer for reuse; neither may
// be used after.
func (r *Response) Release() {
	if r.Status == 0 {
		return // released already
	}
	pool := r.pool
	if pool == nil || cap(r.buf) > 1<<20 {
		r.buf, r.Body = nil, nil
		return
	}
	*r = Response{buf: r.buf[:0]}
	pool.Put(r)
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
	if _, err := c.acquire(ctx, true); err != nil {
		return nil, fmt.Errorf("%s: waiting for a connection: %w", r.what, unwrapURLError(ctx, err))
	}
	start := time.Now()
	if r.Direct() {
		if _, err := r.host.acquire(ctx, true); err != nil {
			c.release()
			return nil, fmt.Errorf("%s: waiting for a connection: %w", r.what, unwrapURLError(ctx, err))
		}
		wc, reused, err := r.host.send(ctx, r, false)
		return c.receive(ctx, r, wc, reused, err, start)
	}
	defer c.release()
	resp, err := c.send(c.request(ctx, r), r)
	return c.response(ctx, r, resp, nil, err, start)
}

// Pending is a request sent by Send whose response is not read yet.
type Pending struct {
	r      *Request
	wc     *wireConn
	reused bool
	err    error
	start  time.Time
}

// Send sends r and reports true if it takes the direct path (see wire.go)
// and a connection is free at once; Receive then reads the response.
// Otherwise it does nothing and reports false: use Do or DoRetry. A sample
// sends all its requests before it reads a response, so that they are in
// flight together without a goroutine each.
func (c *Client) Send(ctx context.Context, r *Request, p *Pending) bool {
	if !r.Direct() {
		return false
	}
	if ok, _ := c.acquire(ctx, false); !ok {
		return false
	}
	if ok, _ := r.host.acquire(ctx, false); !ok {
		c.release()
		return false
	}
	*p = Pending{r: r, start: time.Now()}
	p.wc, p.reused, p.err = r.host.send(ctx, r, false)
	return true
}

// Receive reads the response of a request Send sent, and retries it as
// DoRetry does if it failed.
func (c *Client) Receive(ctx context.Context, p *Pending, retry Retry) (*Response, error) {
	resp, err := c.receive(ctx, p.r, p.wc, p.reused, p.err, p.start)
	r, began := p.r, p.start
	*p = Pending{}
	return c.retry(ctx, r, retry, began, resp, err)
}

// acquire takes one of the client's slots, if it has a cap of its own on
// requests in flight (a shared pool), waiting under ctx if wait is set.
func (c *Client) acquire(ctx context.Context, wait bool) (bool, error) {
	if c.slots == nil {
		return true, nil
	}
	return takeSlot(ctx, c.slots, wait)
}

// release gives the slot back once the body is read and closed: the
// connection is then back in the pool for the next request to take.
func (c *Client) release() {
	if c.slots != nil {
		<-c.slots
	}
}

// receive reads the response of r, sent on the direct path on wc with the
// error sendErr, and releases the slots. A redirect is followed through
// net/http, and so are later requests of r.
func (c *Client) receive(ctx context.Context, r *Request, wc *wireConn, reused bool, sendErr error, start time.Time) (*Response, error) {
	defer c.release()
	resp, wc, err := r.host.receive(ctx, r, wc, reused, sendErr)
	if err == nil && isRedirect(resp) {
		r.host.done(wc, false)
		r.redirects.Store(true)
		wc = nil
		resp, err = c.send(c.request(ctx, r), r)
	}
	return c.response(ctx, r, resp, wc, err, start)
}

// response reads the body of resp, an answer to r on wc (the direct path)
// or through net/http (wc nil), unless err.
func (c *Client) response(ctx context.Context, r *Request, resp *http.Response, wc *wireConn, err error, start time.Time) (*Response, error) {
	if err != nil {
		return nil, fmt.Errorf("%s: %w", r.what, unwrapURLError(ctx, err))
	}
	out, _ := c.responses.Get().(*Response)
	if out == nil {
		out = new(Response)
	}
	out.pool = c.responses
	out.buf, err = c.readBody(resp, out.buf[:0])
	if wc != nil {
		r.host.done(wc, err == nil && !resp.Close && resp.StatusCode != http.StatusSwitchingProtocols)
		if err != nil {
			err = wireError(ctx, err)
		}
	} else {
		resp.Body.Close()
	}
	out.Status, out.ContentType, out.Elapsed, out.Body = resp.StatusCode, resp.Header.Get("Content-Type"), time.Since(start), out.buf
	if link, ok := resp.Header["Link"]; ok {
		out.Link = strings.Join(link, ", ")
	}
	if errors.Is(err, ErrTooLarge) {
		out.Release()
		return nil, fmt.Errorf("%s: %w: more than %d bytes", r.what, ErrTooLarge, c.maxBytes)
	}
	if err != nil {
		out.Release()
		return nil, fmt.Errorf("%s: reading body: %w", r.what, unwrapURLError(ctx, err))
	}
	if resp.StatusCode < 200 || resp.StatusCode > 299 {
		red := c.redact
		if r.redact != nil {
			red = r.redact
		}
		se := &StatusError{Code: resp.StatusCode, Snippet: snippet([]byte(red.apply(string(out.Body[:min(len(out.Body), 4<<10)])))), RetryAfter: retryAfter(resp.Header.Get("Retry-After"), time.Now())}
		out.Release()
		return nil, fmt.Errorf("%s: %w", r.what, se)
	}
	return out, nil
}

// request is r for net/http, under ctx.
func (c *Client) request(ctx context.Context, r *Request) *http.Request {
	req := r.template().WithContext(ctx)
	if r.body != nil {
		req.Body = io.NopCloser(bytes.NewReader(r.body))
		req.ContentLength = int64(len(r.body))
		req.GetBody = func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(r.body)), nil }
	}
	return req
}

// send makes the request. A request without a body goes straight to the
// transport, which spares the http.Client's work for redirects (a copy of
// the headers, among others) on every sample; if the answer is a redirect
// after all, the request is made again through the http.Client, which
// follows it under checkRedirect, and so is every later request of r. A
// request without a body is a GET or the like: making it twice once is
// harmless. A request with a body always goes through the http.Client.
func (c *Client) send(req *http.Request, r *Request) (*http.Response, error) {
	if r.body != nil || r.redirects.Load() {
		return c.hc.Do(req)
	}
	resp, err := c.rt.RoundTrip(req)
	if err != nil || !isRedirect(resp) {
		return resp, err
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10))
	resp.Body.Close()
	r.redirects.Store(true)
	return c.hc.Do(req)
}

// isRedirect reports whether the http.Client would follow resp.
func isRedirect(resp *http.Response) bool {
	switch resp.StatusCode {
	case http.StatusMovedPermanently, http.StatusFound, http.StatusSeeOther,
		http.StatusTemporaryRedirect, http.StatusPermanentRedirect:
		return resp.Header.Get("Location") != ""
	}
	return false
}

// readBody appends resp's body to b, up to the size limit: past it the
// error is ErrTooLarge. With a Content-Length the buffer is sized at once,
// so that the body and its end arrive in one read.
func (c *Client) readBody(resp *http.Response, b []byte) ([]byte, error) {
	if cl := resp.ContentLength; cl >= 0 && cl < c.maxBytes {
		b = slices.Grow(b, int(cl)+1)
	}
	for {
		if len(b) == cap(b) {
			if int64(len(b)) > c.maxBytes {
				return b, ErrTooLarge
			}
			b = slices.Grow(b, int(min(int64(max(cap(b), 512)), c.maxBytes+1-int64(len(b)))))
		}
		n, err := resp.Body.Read(b[len(b):cap(b)])
		b = b[:len(b)+n]
		if int64(len(b)) > c.maxBytes {
			return b, ErrTooLarge
		}
		if err == io.EOF {
			return b, nil
		}
		if err != nil {
			return b, err
		}
	}
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

// redactor holds secret values to take out of what a device answers.
type redactor []string

// minSecret is the length from which a value is searched for: shorter ones
// would mangle the messages and protect nothing.
const minSecret = 4

func (r *redactor) add(vals ...string) {
	for _, v := range vals {
		if len(v) >= minSecret && !slices.Contains(*r, v) {
			*r = append(*r, v)
		}
	}
	slices.SortStableFunc(*r, func(a, b string) int { return len(b) - len(a) })
}

// apply replaces each secret of r in s by <redacted>, longest first.
func (r redactor) apply(s string) string {
	for _, v := range r {
		s = strings.ReplaceAll(s, v, "<redacted>")
	}
	return s
}

func snippet(b []byte) string {
	const limit = 120
	s := strings.Join(strings.Fields(string(bytes.ToValidUTF8(b[:min(len(b), limit*2)], []byte("?")))), " ")
	if len(s) > limit {
		s = s[:limit] + "…"
	}
	return s
}
