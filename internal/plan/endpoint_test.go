package plan_test

import (
	"strconv"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/plan"
)

func endpointWith(t *testing.T, method adr.AuthMethod, config string) (*plan.Endpoint, []string) {
	t.Helper()
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	auth := &adr.Authentication{Method: method}
	switch method {
	case adr.AuthUsernamePassword:
		auth.UsernamePasswordCredentials = &adr.UsernamePasswordCredentials{UsernameSecretName: "dev/user", PasswordSecretName: "dev/pass"}
	case adr.AuthCertificate:
		auth.X509Credentials = &adr.X509Credentials{CertificateSecretName: "dev/cert"}
	}
	d := &adr.Device{Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"rest": {Address: "https://127.0.0.1:8443/base", EndpointType: "Microsoft.Http", Authentication: auth, AdditionalConfiguration: config},
	}}}
	ep, probs := pl.Endpoint("hall-3", d, "rest")
	var got []string
	for _, p := range probs {
		got = append(got, p.Error())
	}
	return ep, got
}

func TestEndpointConfigurationSchemes(t *testing.T) {
	ep, probs := endpointWith(t, adr.AuthUsernamePassword, `{"auth": {"type": "bearer"}, "headers": {"X-Site": "hall ${secret:site/name}"}, "query": {"k": "v"}}`)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	a := ep.Config.Auth
	if a.Type != plan.AuthBearer || a.Token.Source() != "${password}" {
		t.Errorf("bearer token defaults to the password: %+v", a)
	}
	if names := plan.SecretNames(ep.Config.Refs()); strings.Join(names, ",") != "site/name" {
		t.Errorf("secret names %v", names)
	}

	ep, probs = endpointWith(t, adr.AuthUsernamePassword, `{"auth": {"type": "login",
		"request": {"path": "/api/jsonrpc", "body": {"jsonrpc": "2.0", "method": "Api.Login", "params": {"user": "${username}", "password": "${password}"}, "id": 1}},
		"token": {"jq": ".result.token"}, "use": {"header": "X-Auth-Token"}, "relogin": {"jq": ".error.code? == 2"}}}`)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	l := ep.Config.Auth.Login
	if l.Method != "POST" || l.URL.String() != "https://127.0.0.1:8443/base/api/jsonrpc" || l.UseHeader != "X-Auth-Token" || l.UsePrefix != "" ||
		l.TokenJQ == nil || l.ReloginJQ == nil || len(l.BodyTexts) != 2 || strings.Join(intsOf(l.Relogin), ",") != "401,403" {
		t.Errorf("login: %+v", l)
	}

	ep, probs = endpointWith(t, adr.AuthUsernamePassword, `{"auth": {"type": "oauth2", "tokenUrl": "https://127.0.0.1:9443/oauth/token", "scopes": ["read"], "params": {"audience": "api"}}}`)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if o := ep.Config.Auth.OAuth2; o.ClientID.Source() != "${username}" || o.ClientSecret.Source() != "${password}" || o.AuthStyle != "auto" || o.RenewBefore.Seconds() != 60 {
		t.Errorf("oauth2 defaults: %+v", o)
	}
}

func intsOf(xs []int) []string {
	var out []string
	for _, x := range xs {
		out = append(out, strconv.Itoa(x))
	}
	return out
}

// Every mistake is reported with its field, and secrets are refused where
// they cannot come from.
func TestEndpointConfigurationProblems(t *testing.T) {
	const at = "spec.endpoints.inbound.rest.additionalConfiguration"
	tests := []struct {
		method adr.AuthMethod
		config string
		want   string
	}{
		{adr.AuthAnonymous, `{"auth": {"type": "bearer"}}`,
			at + `.auth.token: at offset 0: ${password} needs the endpoint's authentication method UsernamePassword (it is Anonymous)`},
		{adr.AuthCertificate, `{"auth": {"type": "digest"}}`,
			at + `.auth.type: digest needs the endpoint's authentication method UsernamePassword for the username and password (it is Certificate)`},
		{adr.AuthAnonymous, `{"headers": {"X-Key": "${secret:../etc/passwd}"}}`,
			at + `.headers.X-Key: at offset 0: ${secret:../etc/passwd}: a secret name has no empty, . or .. parts`},
		{adr.AuthAnonymous, `{"query": {"k": "${token}"}}`,
			at + `.query.k: at offset 0: unknown placeholder ${token}: want ${username}, ${password} or ${secret:NAME}`},
		{adr.AuthUsernamePassword, `{"auth": {"type": "bearer", "tokenUrl": "https://x"}}`,
			at + `.auth.tokenUrl: not a setting of auth type bearer`},
		{adr.AuthUsernamePassword, `{"auth": {"type": "apiKey"}}`,
			at + `.auth: missing properties: 'name'`},
		{adr.AuthUsernamePassword, `{"auth": {"type": "login", "request": {"path": "/login", "form": {"u": "${username}"}}, "use": {"header": "X-T"}}}`,
			at + `.auth.use: a session cookie carries itself: use needs a token`},
		{adr.AuthUsernamePassword, `{"auth": {"type": "login", "request": {"path": "/login"}, "token": {"jq": ".token |"}}}`,
			at + `.auth.token.jq: jq syntax error at line 1, column 9: unexpected end of input`},
		{adr.AuthUsernamePassword, `{"auth": {"type": "bearer"}, "headers": {"Authorization": "x"}}`,
			at + `.headers.Authorization: set by auth: give one or the other`},
	}
	for _, tt := range tests {
		_, probs := endpointWith(t, tt.method, tt.config)
		if strings.Join(probs, "\n") != tt.want {
			t.Errorf("%s:\n got %q\nwant %q", tt.config, probs, tt.want)
		}
	}
}

// A device written for another connector keeps working: the members that
// are not ours are left alone and noted.
func TestEndpointConfigurationOfOtherConnectors(t *testing.T) {
	ep, probs := endpointWith(t, adr.AuthAnonymous, `{"key1": "value1", "nested": {"a": 1}, "cookies": true}`)
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	if strings.Join(ep.Config.Ignored, ",") != "key1,nested" || !ep.Config.Cookies {
		t.Errorf("config %+v", ep.Config)
	}
}

// A data point's header or query value may name a secret; it is kept as a
// placeholder in the plan, never as a value.
func TestDataPointSecretParameters(t *testing.T) {
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	ep, probs := endpointWith(t, adr.AuthUsernamePassword, "")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	a := &adr.Asset{Datasets: []adr.Dataset{{Name: "s", DataSource: "/x", DataPoints: []adr.DataPoint{{
		Name: "p", DataSource: "/p",
		DataPointConfiguration: `{"headers": {"X-Key": "${secret:api/key}", "X-Plain": "cost $$5"}, "query": {"user": "${username}"}}`,
	}}, Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "t"}}}}}}
	asset, aprobs := pl.Asset("a", a, ep)
	if len(aprobs) > 0 {
		t.Fatal(aprobs)
	}
	r := asset.Datasets[0].Requests[0]
	if r.Header.Get("X-Plain") != "cost $5" || r.Header.Get("X-Key") != "" || strings.Contains(r.URL.RawQuery, "user") {
		t.Errorf("request %+v", r)
	}
	if len(r.Secret) != 2 || strings.Join(asset.SecretNames(), ",") != "api/key" {
		t.Errorf("secret parameters %+v, names %v", r.Secret, asset.SecretNames())
	}
}
