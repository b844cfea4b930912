package httpauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/httpauth"
)

// printed is v however it may be printed, marshalled or logged.
func printed(v any) []string {
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10.3s", "%d"} {
		out = append(out, fmt.Sprintf(f, v), fmt.Sprintf(f, []any{v}), fmt.Sprintf(f, struct{ C any }{v}))
	}
	j, err := json.Marshal(map[string]any{"c": v})
	out = append(out, string(j), fmt.Sprint(err))
	var logged bytes.Buffer
	zl := zerolog.New(&logged)
	zl.Info().Interface("c", v).Msg("x")
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "c", v)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "c", v)
	return append(out, logged.String())
}

func wantNoSecret(t *testing.T, out []string, secrets ...string) {
	t.Helper()
	for _, s := range out {
		for _, secret := range secrets {
			if secret != "" && strings.Contains(s, secret) {
				t.Errorf("secret %q shows in %s", secret, s)
			}
		}
	}
}

// An OAuth2 configuration shows neither its client ID, its secret, the
// query of its token URL nor the values of its parameters, however it is
// printed, marshalled or logged; nor does the transport made of it.
func TestOAuth2PrintsNoSecret(t *testing.T) {
	u, _ := url.Parse("https://login.example/tenant-7/oauth/token?api-key=qu3ry-k3y")
	cfg := httpauth.OAuth2{TokenURL: u, ClientID: "client-1d-hall-3", ClientSecret: clientSecret, Scopes: []string{"telemetry.read"},
		Params: url.Values{"audience": {"aud1ence-value"}}, RenewBefore: 2 * time.Minute}
	secrets := []string{"client-1d-hall-3", clientSecret, "qu3ry-k3y", "aud1ence-value"}
	wantNoSecret(t, printed(cfg), secrets...)
	wantNoSecret(t, printed(&cfg), secrets...)
	wantNoSecret(t, printed(httpauth.NewOAuth2(cfg, nil, httpauth.Options{})), secrets...)

	want := `OAuth2{token URL:"https://login.example/tenant-7/oauth/token" client ID:<redacted> client secret:<redacted> scopes:["telemetry.read"] params:["audience"] auth style:auto renew before:2m0s}`
	if got := fmt.Sprintf("%v", cfg); got != want {
		t.Errorf("%%v:\ngot  %s\nwant %s", got, want)
	}
	j, _ := json.Marshal(cfg)
	if want := `{"token_url":"https://login.example/tenant-7/oauth/token","client_id":"\u003credacted\u003e","client_secret":"\u003credacted\u003e","scopes":["telemetry.read"],"params":["audience"],"auth_style":"auto","renew_before":"2m0s"}`; string(j) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", j, want)
	}
}

// A Login shows neither its header values, the query of its URL nor its
// body, however it is printed, marshalled or logged; nor does the
// transport made of it.
func TestLoginPrintsNoSecret(t *testing.T) {
	l := plcLogin(t, "https://127.0.0.1:8443", plcPassword)
	l.URL.RawQuery = "key=qu3ry-k3y"
	l.Header = http.Header{"X-Api-Key": {"h3ader-k3y"}}
	secrets := []string{plcPassword, "qu3ry-k3y", "h3ader-k3y"}
	wantNoSecret(t, printed(l), secrets...)
	wantNoSecret(t, printed(&l), secrets...)
	wantNoSecret(t, printed(httpauth.NewLogin(l, nil, nil, httpauth.Options{})), secrets...)
	wantNoSecret(t, printed(httpauth.NewCookies(nil, nil)), secrets...)

	want := `Login{POST "https://127.0.0.1:8443/api/jsonrpc" header:["X-Api-Key"] body:<redacted, 103 bytes> content type:"application/json" token jq:".result.token" use header:"X-Auth-Token" relogin jq:".error.code? == 2"}`
	if got := fmt.Sprintf("%v", l); got != want {
		t.Errorf("%%v:\ngot  %s\nwant %s", got, want)
	}
	j, _ := json.Marshal(l)
	if want := `{"url":"https://127.0.0.1:8443/api/jsonrpc","header":["X-Api-Key"],"body":"\u003credacted\u003e","content_type":"application/json","token_jq":".result.token","use_header":"X-Auth-Token","relogin_jq":".error.code? == 2"}`; string(j) != want {
		t.Errorf("JSON:\ngot  %s\nwant %s", j, want)
	}
}

// No error and no Event of any scheme holds a secret: not the client
// secret, a password, an API key, a token or a session cookie, even from
// devices that echo what they are sent.
func TestNoSecretInErrorsOrEvents(t *testing.T) {
	var seen []string
	opts := httpauth.Options{Name: "endpoint", Observer: func(e httpauth.Event) { seen = append(seen, fmt.Sprintf("%+v %v", e, e.Err)) }}
	run := func(rt http.RoundTripper, method, url, body string) {
		if _, err := send(rt, method, url, body); err != nil {
			seen = append(seen, err.Error(), fmt.Sprintf("%+v", err))
		}
	}
	var secrets []string
	secrets = append(secrets, oauth2Scenarios(t, opts, run)...)
	secrets = append(secrets, loginScenarios(t, opts, run)...)
	if len(seen) < 15 {
		t.Fatalf("only %d errors and events to check: %q", len(seen), seen)
	}
	wantNoSecret(t, seen, secrets...)
}

// oauth2Scenarios runs OAuth2 through a success, a restart, a refusal and
// a failing endpoint; it returns the secrets involved.
func oauth2Scenarios(t *testing.T, opts httpauth.Options, run func(http.RoundTripper, string, string, string)) []string {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := serve(t, s)
	cfg := oauth2Config(t, srv.URL)
	cfg.TokenURL.RawQuery = "key=qu3ry-k3y-0auth"
	ok := httpauth.NewOAuth2(cfg, nil, opts)
	run(ok, "GET", srv.URL+"/api/v1/telemetry", "")
	s.revoke()
	run(ok, "GET", srv.URL+"/api/v1/telemetry", "")
	s.set(func(s *tokenServer) { s.secret = "another" })
	s.revoke()
	run(ok, "GET", srv.URL+"/api/v1/telemetry", "")
	down := newTokenServer(clientSecret, time.Hour, time.Now)
	down.fail = http.StatusInternalServerError
	run(httpauth.NewOAuth2(oauth2Config(t, serve(t, down).URL), nil, opts), "GET", srv.URL, "")
	for _, style := range []httpauth.AuthStyle{httpauth.AuthStyleHeader, httpauth.AuthStyleParams} {
		c := oauth2Config(t, serve(t, echoing(func(r *http.Request, body []byte) string {
			return r.Header.Get("Authorization") + " " + string(body)
		})).URL)
		c.AuthStyle = style
		run(httpauth.NewOAuth2(c, nil, opts), "GET", srv.URL, "")
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	return append([]string{clientSecret, cfg.ClientID, "qu3ry-k3y-0auth"}, s.issued...)
}

// loginScenarios runs the logins of the PLC, the router and the gateway
// through successes, expiries and refusals, and one to a device that
// echoes the request; it returns the secrets involved.
func loginScenarios(t *testing.T, opts httpauth.Options, run func(http.RoundTripper, string, string, string)) []string {
	clk := newClock()
	opts.Now = clk.Now
	p := newPLC(plcPassword, clk.Now)
	plcSrv := serve(t, p)
	plcRT := httpauth.NewLogin(plcLogin(t, plcSrv.URL, plcPassword), nil, nil, opts)
	run(plcRT, "POST", plcSrv.URL+"/api/jsonrpc", plcRead)
	clk.advance(5 * time.Minute)
	run(plcRT, "POST", plcSrv.URL+"/api/jsonrpc", plcRead)
	l := plcLogin(t, plcSrv.URL, plcPassword)
	l.TokenJQ = jq(t, ".result.token.value")
	run(httpauth.NewLogin(l, nil, nil, opts), "POST", plcSrv.URL+"/api/jsonrpc", plcRead)
	run(httpauth.NewLogin(plcLogin(t, plcSrv.URL, "wrong-"+plcPassword), nil, nil, opts), "POST", plcSrv.URL+"/api/jsonrpc", plcRead)

	rtr := newRouter(routerPassword, time.Minute, clk.Now)
	routerSrv := serve(t, rtr)
	routerRT := httpauth.NewLogin(routerLogin(t, routerSrv.URL, routerPassword), nil, nil, opts)
	run(routerRT, "GET", routerSrv.URL+"/api/status", "")
	clk.advance(5 * time.Minute)
	run(routerRT, "GET", routerSrv.URL+"/api/status", "")
	run(httpauth.NewLogin(routerLogin(t, routerSrv.URL, "wrong-"+routerPassword), nil, nil, opts), "GET", routerSrv.URL+"/api/status", "")

	g := newGateway(gatewayPass, clk.Now)
	gwSrv := serve(t, g)
	gl := gatewayLogin(t, gwSrv.URL)
	gl.UseHeader, gl.UseQuery = "", "token"
	run(httpauth.NewLogin(gl, nil, nil, opts), "GET", gwSrv.URL+"/api/values", "")
	gl.Body = []byte(`{"user":"installer","pass":"wrong-` + gatewayPass + `"}`)
	run(httpauth.NewLogin(gl, nil, nil, opts), "GET", gwSrv.URL+"/api/values", "")

	for _, echo := range []func(*http.Request, []byte) string{
		func(r *http.Request, body []byte) string { return string(body) },
		func(r *http.Request, body []byte) string { return r.URL.RawQuery + " " + r.Header.Get("X-Api-Key") },
	} {
		el := plcLogin(t, serve(t, echoing(echo)).URL, plcPassword)
		el.Header = http.Header{"X-Api-Key": {"h3ader-k3y-l0gin"}}
		el.URL.RawQuery = "key=qu3ry-k3y-l0gin"
		run(httpauth.NewLogin(el, nil, nil, opts), "GET", el.URL.String(), "")
	}

	secrets := []string{plcPassword, routerPassword, gatewayPass, "h3ader-k3y-l0gin", "qu3ry-k3y-l0gin"}
	for _, mu := range []*sync.Mutex{&p.mu, &rtr.mu, &g.mu} {
		mu.Lock()
		defer mu.Unlock()
	}
	secrets = append(secrets, p.issued...)
	secrets = append(secrets, rtr.cookies...)
	return append(secrets, g.issued...)
}

// echoing is a device that answers 400 with what it was sent, as echo
// picks it from the request.
func echoing(echo func(r *http.Request, body []byte) string) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		w.WriteHeader(http.StatusBadRequest)
		fmt.Fprintf(w, "bad request: %s", echo(r, body))
	})
}
