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
// # Login
//
// NewLogin logs in to a device with a request of its own, then sends the
// requests within that session. Two kinds of device are typical:
//
//   - a JSON API such as the Web API of a Siemens S7-1500: Api.Login by
//     JSON-RPC answers {"result":{"token":"…"}}; TokenJQ `.result.token`
//     takes the token, UseHeader X-Auth-Token sends it back;
//   - a web UI of a router or an inverter: a form POST sets a session
//     cookie, kept in the jar and sent with every request.
//
// The login follows redirects, with the cookies; its answer must end 2xx,
// and a JSON answer must not say the login failed: by ErrorJQ, or by
// default a JSON-RPC error member, {"error":{"code":C,"message":M}}.
// It logs in again
//
//   - when the session is as old as its lifetime (Lifetime, or
//     ExpiresInJQ from the login answer), before the device refuses it;
//   - when an answer has a ReloginStatus (401 or 403), or when ReloginJQ
//     yields true on a 2xx JSON answer, as the S7 answers an expired token
//     with HTTP 200 and {"error":{"code":2,"message":"Permission
//     denied"}}: then the request is sent again once after a new login.
//     An answer the check reads but that is no expiry reaches the caller
//     intact, and a body over Options.MaxBody is not checked.
//
// Without a lifetime, a session lasts until the device refuses it. A
// request is sent at most twice, never in a loop: the answer to the second
// is the caller's, whatever it is. A request with a body is sent again
// only if it has GetBody (http.NewRequest sets it for the usual readers).
//
// # Failures and back-off
//
// A failed login or token request fails the requests waiting for it with
// an error that names the step and the URL, in the device's own words
// where it gave any:
//
//	device "hall-3" endpoint "rest": login POST https://10.0.0.7/api/jsonrpc: JSON-RPC error 100 "Login failed"
//	device "hall-3" endpoint "rest": oauth2 token POST https://login.example/oauth/token: invalid_client: Client authentication failed
//
// Then the device is left alone: for 1 s after the first failure,
// doubling with each failure in a row up to 1 min, requests fail at once
// with the same error, and send nothing. A success ends the back-off. A
// request that gives up (its context ends) while it logs in fails alone:
// the next waiting request logs in, and no back-off starts.
// Options.Observer is told of each login and token request, not of the
// requests refused within the window.
//
// # What is never printed
//
// No client ID or secret, token, password, cookie or login request body
// appears in an error, an Event or the printed form of a configuration or
// a transport: OAuth2 and Login print them as <redacted> (headers by name,
// the body by length) with every fmt verb, in JSON (so in zerolog) and in
// log/slog. URLs are printed without query or user information. Where an
// error quotes a device's answer (a status page, an error message), the
// values of the login request, the client ID and secret are replaced by
// <redacted> should the device echo them; values shorter than 4 bytes are
// not searched for. A jq error on a login answer shows no string of the
// answer.
//
// # Cookies
//
// NewCookies keeps cookies as a browser does: each request carries the
// cookies the device set for its URL, and each answer's Set-Cookie headers
// are kept. NewLogin does the same with its jar.
package httpauth
