// Package digest is the client side of HTTP Digest access authentication
// (RFC 7616, compatible with RFC 2617 and RFC 2069 servers), as an
// http.RoundTripper.
//
// A Transport sends the first request to an origin as it is. When the
// answer is a 401 with a Digest challenge, it reads the credentials, sends
// the request again once with an Authorization header, and on success
// keeps the challenge for that protection space (origin and realm). Later
// requests to the space are authorized from the start with the kept nonce,
// the nonce count incremented and a fresh client nonce each time, so
// steady polling costs one request per sample.
//
// Supported: algorithms MD5, SHA-256 and SHA-512-256 and their -sess
// variants (SHA-512-256 preferred over SHA-256 over MD5 when a server
// offers several); qop auth and auth-int, and no qop at all (RFC 2069);
// userhash (RFC 7616 §3.4.4); username* for non-ASCII names; stale nonces;
// the domain parameter; nextnonce in Authentication-Info. Not supported:
// proxy authentication (407), checking the server's rspauth.
//
// The password is read through Transport.Credentials on each new challenge
// and not kept: a protection space keeps H(username:realm:password) only.
// Neither it, the password nor a response hash is put into an error.
package digest

import (
	"crypto/rand"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
)

// Transport is an http.RoundTripper that authenticates requests with
// Digest.
//
// For a request in a known protection space, a 401 with stale=true (the
// nonce expired, the credentials were right) makes the transport take the
// new nonce and send the request again once. Any other 401 to a request
// sent with the kept challenge makes it forget the challenge and answer
// the new one once, with the credentials read again: the device may have
// restarted, dropped its nonces, or had its password rotated. A 401 to a
// request answering a fresh challenge means the credentials are refused:
// the transport returns that response, and the caller turns it into an
// error. So one RoundTrip sends a request at most twice.
//
// A request that already carries an Authorization header is passed to Base
// untouched. A request with a body must have GetBody (http.NewRequest sets
// it for the usual readers), as it may be sent twice.
//
// A Transport is safe for concurrent use; requests sharing a protection
// space share its nonce, each with its own nonce count. It must not be
// copied after first use.
type Transport struct {
	// Base sends the requests; nil means http.DefaultTransport.
	Base http.RoundTripper
	// Credentials returns the username and password. It is called on each
	// new challenge, so that rotated secrets apply. Its error is returned
	// wrapped, and must not hold the secret.
	Credentials func() (user, pass string, err error)

	mu     sync.Mutex
	spaces map[string][]*space // by origin; the most recently established last
}

// space is a protection space the transport authenticated in: the kept
// challenge and the secret derived for it.
type space struct {
	origin string
	realm  string
	domain []string
	secret secret

	mu sync.Mutex
	ch challenge
	nc uint32
}

// next returns the challenge to answer and the next nonce count.
func (s *space) next() (challenge, uint32) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.nc++
	return s.ch, s.nc
}

// renew takes the new nonce of a stale challenge. It reports false when the
// challenge is not for the same realm, algorithm and username form, as the
// secret would not fit it.
func (s *space) renew(ch challenge) bool {
	if ch.realm != s.realm {
		return false
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if ch.alg.name != s.ch.alg.name || ch.userhash != s.ch.userhash {
		return false
	}
	if ch.nonce != s.ch.nonce { // other requests may have renewed it already
		s.ch, s.nc = ch, 0
	}
	return true
}

// setNonce takes a nextnonce the server announced.
func (s *space) setNonce(nonce string) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if nonce != s.ch.nonce {
		s.ch.nonce, s.nc = nonce, 0
	}
}

// RoundTrip sends req, authenticating it with Digest.
func (t *Transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if req.Header.Get("Authorization") != "" {
		return t.base().RoundTrip(req)
	}
	if err := t.check(req); err != nil {
		if req.Body != nil {
			req.Body.Close()
		}
		return nil, err
	}
	if sp := t.lookup(req.URL); sp != nil {
		resp, err := t.send(req, sp, false)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.learn(sp, resp)
			return resp, err
		}
		return t.reusedRefused(req, sp, resp)
	}
	resp, err := t.base().RoundTrip(req)
	if err != nil || resp.StatusCode != http.StatusUnauthorized {
		return resp, err
	}
	ch, err := pickChallenge(resp.Header, req.URL)
	if err != nil {
		return unusable(req, resp, err)
	}
	discard(resp)
	return t.answer(req, ch)
}

// CloseIdleConnections closes the idle connections of Base.
func (t *Transport) CloseIdleConnections() {
	if c, ok := t.base().(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}

// String describes the transport without its secrets.
func (t *Transport) String() string {
	t.mu.Lock()
	n := 0
	for _, l := range t.spaces {
		n += len(l)
	}
	t.mu.Unlock()
	return fmt.Sprintf("digest.Transport{protection spaces: %d}", n)
}

// Format prints String for every verb, so that no verb reaches the kept
// secrets.
func (t *Transport) Format(f fmt.State, verb rune) { io.WriteString(f, t.String()) }

func (t *Transport) base() http.RoundTripper {
	if t.Base != nil {
		return t.Base
	}
	return http.DefaultTransport
}

func (t *Transport) check(req *http.Request) error {
	if t.Credentials == nil {
		return fmt.Errorf("digest: %s %s: the transport has no Credentials function", method(req), where(req.URL))
	}
	if hasBody(req) && req.GetBody == nil {
		return fmt.Errorf("digest: %s %s: the body cannot be sent again after a challenge: the request has no GetBody", method(req), where(req.URL))
	}
	return nil
}

// reusedRefused handles a 401 to a request sent with a kept challenge.
func (t *Transport) reusedRefused(req *http.Request, sp *space, resp *http.Response) (*http.Response, error) {
	ch, err := pickChallenge(resp.Header, req.URL)
	if err != nil {
		t.forget(sp)
		return unusable(req, resp, err)
	}
	discard(resp)
	if ch.stale && sp.renew(ch) {
		resp, err := t.send(req, sp, true)
		if err != nil || resp.StatusCode != http.StatusUnauthorized {
			t.learn(sp, resp)
			return resp, err
		}
		t.final(req, sp, resp)
		return resp, nil
	}
	t.forget(sp)
	return t.answer(req, ch)
}

// answer answers a fresh challenge with credentials read now.
func (t *Transport) answer(req *http.Request, ch challenge) (*http.Response, error) {
	user, pass, err := t.Credentials()
	if err != nil {
		return nil, fmt.Errorf("digest: credentials for %s: %w", where(req.URL), err)
	}
	sp := &space{origin: originOf(req.URL), realm: ch.realm, domain: ch.domain, secret: newSecret(ch, user, pass), ch: ch}
	resp, err := t.send(req, sp, true)
	if err != nil {
		return nil, err
	}
	if resp.StatusCode != http.StatusUnauthorized {
		t.store(sp)
		t.learn(sp, resp)
		return resp, nil
	}
	t.final(req, sp, resp)
	return resp, nil
}

// final handles a 401 to the last request a RoundTrip may send: it is
// returned as it is. A stale nonce tells the credentials were right, so the
// space is kept with the new nonce; anything else means they were refused.
func (t *Transport) final(req *http.Request, sp *space, resp *http.Response) {
	if ch, err := pickChallenge(resp.Header, req.URL); err == nil && ch.stale && sp.renew(ch) {
		t.store(sp)
		return
	}
	t.forget(sp)
}

// send sends req authorized with the space's challenge; replay takes a new
// copy of the body, the first one having been sent.
func (t *Transport) send(req *http.Request, sp *space, replay bool) (*http.Response, error) {
	r := req.Clone(req.Context())
	if replay && hasBody(req) {
		body, err := req.GetBody()
		if err != nil {
			return nil, fmt.Errorf("digest: %s %s: get the body again: %w", method(req), where(req.URL), err)
		}
		r.Body = body
	}
	ch, n := sp.next()
	rq := request{method: method(req), uri: req.URL.RequestURI(), nc: n, cnonce: rand.Text()}
	if ch.qop == "auth-int" {
		h, err := bodyHash(req, ch.alg)
		if err != nil {
			if r.Body != nil {
				r.Body.Close()
			}
			return nil, fmt.Errorf("digest: %s %s: hash the body for qop auth-int: %w", method(req), where(req.URL), err)
		}
		rq.bodyHash = h
	}
	r.Header.Set("Authorization", authorization(ch, sp.secret, rq))
	return t.base().RoundTrip(r)
}

// learn takes the nextnonce of a successful response's Authentication-Info.
func (t *Transport) learn(sp *space, resp *http.Response) {
	if resp == nil || resp.StatusCode == http.StatusUnauthorized {
		return
	}
	v := resp.Header.Get("Authentication-Info")
	if v == "" {
		return
	}
	if p, err := parseParams(v); err == nil && p["nextnonce"] != "" {
		sp.setNonce(p["nextnonce"])
	}
}

// lookup finds the protection space of u: the one whose domain holds u
// with the longest prefix, else the latest without a domain.
func (t *Transport) lookup(u *url.URL) *space {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	t.mu.Lock()
	defer t.mu.Unlock()
	var best, whole *space
	bestLen := -1
	for _, sp := range t.spaces[originOf(u)] {
		if len(sp.domain) == 0 {
			whole = sp
			continue
		}
		for _, d := range sp.domain {
			if strings.HasPrefix(path, d) && len(d) > bestLen {
				best, bestLen = sp, len(d)
			}
		}
	}
	if best != nil {
		return best
	}
	return whole
}

// store keeps sp, replacing the space of the same realm.
func (t *Transport) store(sp *space) {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.spaces == nil {
		t.spaces = map[string][]*space{}
	}
	list := t.spaces[sp.origin]
	kept := list[:0:0]
	for _, o := range list {
		if o.realm != sp.realm {
			kept = append(kept, o)
		}
	}
	t.spaces[sp.origin] = append(kept, sp)
}

// forget drops sp, if it is still kept.
func (t *Transport) forget(sp *space) {
	t.mu.Lock()
	defer t.mu.Unlock()
	list := t.spaces[sp.origin]
	for i, o := range list {
		if o == sp {
			t.spaces[sp.origin] = append(list[:i:i], list[i+1:]...)
			return
		}
	}
}

// unusable answers a 401 whose challenges the transport cannot answer:
// without any Digest challenge it is not the transport's to handle and is
// returned as it is; a Digest challenge it cannot answer is an error.
func unusable(req *http.Request, resp *http.Response, err error) (*http.Response, error) {
	if errors.Is(err, errNoDigest) {
		return resp, nil
	}
	discard(resp)
	return nil, fmt.Errorf("digest: challenge from %s: %w", where(req.URL), err)
}

// bodyHash is H(entity-body) for qop auth-int, read from a copy of the body.
func bodyHash(req *http.Request, a algorithm) (string, error) {
	d := a.new()
	if hasBody(req) {
		body, err := req.GetBody()
		if err != nil {
			return "", err
		}
		defer body.Close()
		if _, err := io.Copy(d, body); err != nil {
			return "", err
		}
	}
	return fmt.Sprintf("%x", d.Sum(nil)), nil
}

func hasBody(req *http.Request) bool { return req.Body != nil && req.Body != http.NoBody }

func method(req *http.Request) string {
	if req.Method == "" {
		return http.MethodGet
	}
	return req.Method
}

// discard reads a little of a response body, so that the connection can
// be reused, and closes it.
func discard(resp *http.Response) {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 64<<10))
	resp.Body.Close()
}

// originOf is the web origin of u (RFC 6454), with the port made explicit.
func originOf(u *url.URL) string {
	scheme := strings.ToLower(u.Scheme)
	port := u.Port()
	if port == "" {
		switch scheme {
		case "http":
			port = "80"
		case "https":
			port = "443"
		}
	}
	return scheme + "://" + strings.ToLower(u.Hostname()) + ":" + port
}

// where names u in errors: scheme, host and path, without user
// information or query, which may hold secrets.
func where(u *url.URL) string {
	path := u.EscapedPath()
	if path == "" {
		path = "/"
	}
	return u.Scheme + "://" + u.Host + path
}
