package httpauth_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"strings"
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
