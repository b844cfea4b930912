package endpointclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"

	"github.com/http-connector/http-connector/examples/shelly"
	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/credentials"
	"github.com/http-connector/http-connector/internal/endpointclient"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
)

// seen is what a device saw of the requests.
type seen struct {
	mu    sync.Mutex
	reqs  []*http.Request
	bodys []string
}

func (s *seen) last() *http.Request {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.reqs[len(s.reqs)-1]
}

func recordingServer(t *testing.T, handle func(w http.ResponseWriter, r *http.Request) bool) (*httptest.Server, *seen) {
	t.Helper()
	s := &seen{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		s.mu.Lock()
		s.reqs = append(s.reqs, r)
		s.bodys = append(s.bodys, string(body))
		s.mu.Unlock()
		if handle != nil && !handle(w, r) {
			return
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, `{"ok": true}`)
	}))
	t.Cleanup(srv.Close)
	return srv, s
}

// endpoint plans an endpoint at address with a UsernamePassword
// authentication and the configuration config.
func endpoint(t *testing.T, address, config string) *plan.Endpoint {
	t.Helper()
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	d := &adr.Device{Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"rest": {Address: address, EndpointType: "Microsoft.Http", AdditionalConfiguration: config, Authentication: &adr.Authentication{
			Method: adr.AuthUsernamePassword, UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{UsernameSecretName: "u", PasswordSecretName: "p"},
		}},
	}}}
	ep, probs := pl.Endpoint("hall-3", d, "rest")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	return ep
}

// secrets are the secrets of the tests, by name.
type secrets map[string]string

func (s secrets) Secret(name string) ([]byte, error) {
	if v, ok := s[name]; ok {
		return []byte(v), nil
	}
	return nil, errors.New("no such secret")
}

func (secrets) TrustList(*plan.Endpoint) ([]byte, error) { return nil, nil }

func get(t *testing.T, ep *plan.Endpoint, s secrets, path string) (*fetch.Response, error) {
	t.Helper()
	cr, err := credentials.Resolve(ep, s)
	if err != nil {
		t.Fatal(err)
	}
	c, err := endpointclient.Build(ep, cr, endpointclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	u := *ep.Address
	u.Path = path
	r, err := c.Prepare(&plan.Request{Method: "GET", URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	return c.Do(context.Background(), r)
}

// The static schemes are headers and query parameters of every request,
// from the secrets, and the request keeps the direct path.
func TestStaticSchemes(t *testing.T) {
	srv, dev := recordingServer(t, nil)
	s := secrets{"u": "alice", "p": "tok-123", "api/key": "k-456"}
	tests := []struct {
		config string
		check  func(r *http.Request) string
	}{
		{"", func(r *http.Request) string {
			if u, p, ok := r.BasicAuth(); !ok || u != "alice" || p != "tok-123" {
				return "want HTTP Basic by default"
			}
			return ""
		}},
		{`{"auth": {"type": "bearer"}}`, func(r *http.Request) string {
			if r.Header.Get("Authorization") != "Bearer tok-123" {
				return "want the password as bearer token, got " + r.Header.Get("Authorization")
			}
			return ""
		}},
		{`{"auth": {"type": "apiKey", "name": "X-API-Key", "value": "${secret:api/key}"}}`, func(r *http.Request) string {
			if r.Header.Get("X-API-Key") != "k-456" || r.Header.Get("Authorization") != "" {
				return "want the key in X-API-Key and no Basic"
			}
			return ""
		}},
		{`{"auth": {"type": "apiKey", "in": "query", "name": "api_key"}, "query": {"site": "hall ${username}"}}`, func(r *http.Request) string {
			if r.URL.Query().Get("api_key") != "tok-123" || r.URL.Query().Get("site") != "hall alice" {
				return "want api_key and site in the query, got " + r.URL.RawQuery
			}
			return ""
		}},
		{`{"headers": {"hue-application-key": "${password}"}}`, func(r *http.Request) string {
			if r.Header.Get("hue-application-key") != "tok-123" {
				return "want the endpoint header"
			}
			return ""
		}},
	}
	for _, tt := range tests {
		resp, err := get(t, endpoint(t, srv.URL, tt.config), s, "/x")
		if err != nil {
			t.Errorf("%s: %v", tt.config, err)
			continue
		}
		resp.Release()
		if msg := tt.check(dev.last()); msg != "" {
			t.Errorf("%s: %s", tt.config, msg)
		}
	}
}

// Digest against the simulated Shelly: the first request answers the
// challenge, the next reuse its nonce.
func TestDigest(t *testing.T) {
	dev := shelly.New(shelly.Options{Password: "s3cret"})
	srv := httptest.NewServer(dev.Handler())
	t.Cleanup(srv.Close)
	ep := endpoint(t, srv.URL, `{"auth": {"type": "digest"}}`)
	s := secrets{"u": shelly.User, "p": "s3cret"}
	cr, _ := credentials.Resolve(ep, s)
	c, err := endpointclient.Build(ep, cr, endpointclient.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	u := *ep.Address
	u.Path, u.RawQuery = "/rpc/Switch.GetStatus", "id=0"
	r, err := c.Prepare(&plan.Request{Method: "GET", URL: &u})
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		resp, err := c.Do(context.Background(), r)
		if err != nil {
			t.Fatal(err)
		}
		var v map[string]any
		if err := json.Unmarshal(resp.Body, &v); err != nil || v["output"] == nil {
			t.Errorf("status %s, %v", resp.Body, err)
		}
		resp.Release()
	}
	if st := dev.Stats(); st.Unauthorized != 1 {
		t.Errorf("%d challenges for 3 requests, want 1 (the nonce reused): %+v", st.Unauthorized, st)
	}
}

// A login through the client: the token goes where the configuration says.
func TestLogin(t *testing.T) {
	srv, dev := recordingServer(t, func(w http.ResponseWriter, r *http.Request) bool {
		if r.URL.Path == "/login" {
			w.Header().Set("Content-Type", "application/json")
			io.WriteString(w, `{"result": {"token": "session-789"}}`)
			return false
		}
		if r.Header.Get("X-Auth-Token") != "session-789" {
			http.Error(w, "no", http.StatusUnauthorized)
			return false
		}
		return true
	})
	ep := endpoint(t, srv.URL, `{"auth": {"type": "login", "request": {"path": "/login", "body": {"user": "${username}", "password": "${password}", "note": "a&b"}},
		"token": {"jq": ".result.token"}, "use": {"header": "X-Auth-Token"}}}`)
	resp, err := get(t, ep, secrets{"u": "alice", "p": `pw"with<quotes>`}, "/data")
	if err != nil {
		t.Fatal(err)
	}
	resp.Release()
	dev.mu.Lock()
	defer dev.mu.Unlock()
	if len(dev.bodys) != 2 || dev.bodys[0] != `{"note":"a&b","password":"pw\"with<quotes>","user":"alice"}` {
		t.Errorf("login bodies %q", dev.bodys)
	}
}

// A placeholder without a secret fails the build with the field, never a
// value.
func TestMissingSecret(t *testing.T) {
	ep := endpoint(t, "http://127.0.0.1:1", `{"headers": {"X-Key": "${secret:missing}"}}`)
	_, err := credentials.Resolve(ep, secrets{"u": "alice", "p": "tok-123"})
	if err == nil || !strings.Contains(err.Error(), `${secret:missing} "missing"`) {
		t.Errorf("resolve: %v", err)
	}
	cr := credentials.Resolved{Credentials: fetch.Credentials{Username: "alice", Password: "tok-123"}}
	_, err = endpointclient.Build(ep, cr, endpointclient.Options{})
	if want := `device "hall-3" endpoint "rest": additionalConfiguration.headers.X-Key: ${secret:missing}: no value`; err == nil || err.Error() != want {
		t.Errorf("build: %v, want %s", err, want)
	}
	if err != nil && strings.Contains(err.Error(), "tok-123") {
		t.Error(fmt.Sprint("the error shows a secret: ", err))
	}
}

// Static schemes keep plain-http requests on the direct path; schemes that
// work per request take net/http.
func TestDirectPath(t *testing.T) {
	s := secrets{"u": "alice", "p": "tok-123"}
	for config, direct := range map[string]bool{
		``:                             true,
		`{"auth": {"type": "bearer"}}`: true,
		`{"auth": {"type": "apiKey", "in": "query", "name": "k"}}`: true,
		`{"auth": {"type": "digest"}}`:                             false,
		`{"cookies": true}`:                                        false,
	} {
		ep := endpoint(t, "http://127.0.0.1:8080", config)
		cr, err := credentials.Resolve(ep, s)
		if err != nil {
			t.Fatal(err)
		}
		c, err := endpointclient.Build(ep, cr, endpointclient.Options{})
		if err != nil {
			t.Fatal(err)
		}
		u := *ep.Address
		r, err := c.Prepare(&plan.Request{Method: "GET", URL: &u})
		if err != nil {
			t.Fatal(err)
		}
		if r.Direct() != direct {
			t.Errorf("%q: direct path %v, want %v", config, r.Direct(), direct)
		}
		c.Close()
	}
}
