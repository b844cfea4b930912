// Package httpauth holds the HTTP authentication schemes of a device
// endpoint that need work per request, each an http.RoundTripper around
// the endpoint's own transport (which carries its TLS trust and client
// certificates). Static schemes (Basic, a bearer token, an API key) are
// plain headers and are not here; HTTP Digest is package digest.
//
// One wrapper serves one endpoint, shared by all its assets and
// goroutines: the credential it obtains (a token, a session) is shared by
// all their requests, and only one request at a time obtains it; the
// others wait for that one, each as long as its own context allows.
//
// # OAuth 2.0 client credentials
//
// NewOAuth2 asks the token endpoint for an access token (the client
// credentials grant of RFC 6749 §4.4, through golang.org/x/oauth2) and
// sends it as Authorization: Bearer. The token request goes through the
// endpoint's transport, so its TLS trust applies. A new token is asked for
//
//   - when the token is due to expire: RenewBefore (1 min) ahead of its
//     expires_in, at most half its lifetime ahead. While one request
//     renews it, the others go on with the old token, which is still
//     valid; if renewing fails, it is used until it expires;
//   - when a request is answered 401: the token is dropped, and the
//     request is sent again once with a new one. A token without
//     expires_in is kept until then.
//
// # Failures and back-off
//
// A refused or failed token request fails the requests waiting for it
// with an error that names the step and the URL, in the endpoint's own
// words where it gave any:
//
//	device "hall-3" endpoint "rest": oauth2 token POST https://login.example/oauth/token: invalid_client: Client authentication failed
//
// Then the endpoint is left alone: for 1 s after the first failure,
// doubling with each failure in a row up to 1 min, requests fail at once
// with the same error, and send nothing. A success ends the back-off.
// Options.Observer is told of each token request, not of the requests
// refused within the window.
//
// # What is never printed
//
// No client ID or secret, token, password, cookie or login request body
// appears in an error, an Event or the printed form of a configuration or
// a transport: OAuth2 prints them as <redacted> with every fmt verb, in
// JSON (so in zerolog) and in log/slog. URLs are printed without query or
// user information. Where an error quotes a device's answer (a status
// page, an error description), a secret the device echoes is replaced by
// <redacted>; values shorter than 4 bytes are not searched for.
//
// # Cookies
//
// NewCookies keeps cookies as a browser does: each request carries the
// cookies the device set for its URL, and each answer's Set-Cookie headers
// are kept.
package httpauth
