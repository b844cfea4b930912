// Package httpauth holds the HTTP authentication schemes of a device
// endpoint that need work per request, each an http.RoundTripper around
// the endpoint's own transport (which carries its TLS trust and client
// certificates). Static schemes (Basic, a bearer token, an API key) are
// plain headers and are not here; HTTP Digest is package digest.
//
// # Cookies
//
// NewCookies keeps cookies as a browser does: each request carries the
// cookies the device set for its URL, and each answer's Set-Cookie headers
// are kept.
package httpauth
