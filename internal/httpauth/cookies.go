package httpauth

import (
	"fmt"
	"io"
	"net/http"
	"net/http/cookiejar"
)

// NewCookies returns a RoundTripper that keeps cookies in jar as
// http.Client does: each request carries the jar's cookies for its URL,
// besides any Cookie header of its own, and the Set-Cookie headers of each
// answer go into the jar. A nil jar means a new one without a public
// suffix list (devices are addressed by IP or LAN names).
//
// It exists because the fetch client calls its transport's RoundTrip
// directly, so http.Client.Jar does not apply.
func NewCookies(base http.RoundTripper, jar http.CookieJar) http.RoundTripper {
	return &cookies{base: orDefault(base), jar: orNewJar(jar)}
}

type cookies struct {
	base http.RoundTripper
	jar  http.CookieJar
}

// RoundTrip sends req with the jar's cookies and keeps those it is sent.
func (c *cookies) RoundTrip(req *http.Request) (*http.Response, error) {
	r := req
	if cs := c.jar.Cookies(req.URL); len(cs) > 0 {
		r = req.Clone(req.Context())
		for _, ck := range cs {
			r.AddCookie(ck)
		}
	}
	resp, err := c.base.RoundTrip(r)
	if err != nil {
		return nil, err
	}
	if cs := resp.Cookies(); len(cs) > 0 {
		c.jar.SetCookies(req.URL, cs)
	}
	return resp, nil
}

// CloseIdleConnections closes the idle connections of the base transport.
func (c *cookies) CloseIdleConnections() { closeIdle(c.base) }

// String describes the transport without the cookies, which are secrets.
func (c *cookies) String() string { return "httpauth.Cookies{}" }

// Format prints String for every verb, so that no verb reaches the jar.
func (c *cookies) Format(f fmt.State, verb rune) { io.WriteString(f, c.String()) }

func orDefault(base http.RoundTripper) http.RoundTripper {
	if base == nil {
		return http.DefaultTransport
	}
	return base
}

func orNewJar(jar http.CookieJar) http.CookieJar {
	if jar != nil {
		return jar
	}
	j, _ := cookiejar.New(nil) // never fails without options
	return j
}

func closeIdle(rt http.RoundTripper) {
	if c, ok := rt.(interface{ CloseIdleConnections() }); ok {
		c.CloseIdleConnections()
	}
}
