package httpauth_test

import (
	"context"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/http-connector/http-connector/internal/httpauth"
)

const clientSecret = "cl1ent-s3cret-for-hall-3"

// oauth2Config is the configuration of the client for s at base.
func oauth2Config(t *testing.T, base string) httpauth.OAuth2 {
	t.Helper()
	u, err := url.Parse(base + "/oauth/token")
	if err != nil {
		t.Fatal(err)
	}
	return httpauth.OAuth2{TokenURL: u, ClientID: "connector-hall-3", ClientSecret: clientSecret}
}

func wantTokenStats(t *testing.T, s *tokenServer, want tokenStats) {
	t.Helper()
	if got := s.snapshot(); got != want {
		t.Errorf("token server saw %+v, want %+v", got, want)
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	for _, p := range s.problems {
		t.Errorf("token server: %s", p)
	}
}

// In virtual time: twenty requests that start together cost one token
// request; they all wait for it, then all use the token.
func TestOAuth2OneTokenForConcurrentRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTokenServer(clientSecret, time.Hour, time.Now)
		s.hold = make(chan struct{})
		base, tr := memServe(t, s)
		rt := httpauth.NewOAuth2(oauth2Config(t, base), tr, httpauth.Options{})
		var wg sync.WaitGroup
		codes := make([]int, 20)
		for i := range codes {
			wg.Go(func() {
				a, err := send(rt, "GET", base+"/api/v1/telemetry", "")
				if err != nil {
					t.Errorf("request %d: %v", i, err)
				}
				codes[i] = a.status
			})
		}
		synctest.Wait() // every request is waiting, one of them for the token server
		if got := s.snapshot(); got.Tokens != 1 || got.API != 0 {
			t.Errorf("while the token request is answered: %+v, want 1 token request and no other", got)
		}
		close(s.hold)
		wg.Wait()
		for i, c := range codes {
			if c != http.StatusOK {
				t.Errorf("request %d: HTTP %d", i, c)
			}
		}
		wantTokenStats(t, s, tokenStats{Tokens: 1, API: 20})
	})
}

// The token is renewed before it expires, RenewBefore ahead but at most
// half its lifetime ahead, so that the resource never sees an expired one.
func TestOAuth2RenewsBeforeExpiry(t *testing.T) {
	tests := []struct {
		name        string
		lifetime    time.Duration
		renewBefore time.Duration
		renewAfter  time.Duration
	}{
		{"default: a minute ahead", 10 * time.Minute, 0, 9 * time.Minute},
		{"RenewBefore", 10 * time.Minute, 4 * time.Minute, 6 * time.Minute},
		{"at most half the lifetime", time.Minute, 0, 30 * time.Second},
		{"RenewBefore past the lifetime", 20 * time.Second, time.Hour, 10 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			s := newTokenServer(clientSecret, tt.lifetime, clk.Now)
			srv := serve(t, s)
			cfg := oauth2Config(t, srv.URL)
			cfg.RenewBefore = tt.renewBefore
			rt := httpauth.NewOAuth2(cfg, srv.Client().Transport, httpauth.Options{Now: clk.Now})
			get := func() {
				t.Helper()
				if code, body := do(t, rt, "GET", srv.URL+"/api/v1/telemetry", ""); code != http.StatusOK {
					t.Fatalf("HTTP %d %s", code, body)
				}
			}
			get()
			clk.advance(tt.renewAfter - time.Second)
			get()
			wantTokenStats(t, s, tokenStats{Tokens: 1, API: 2})
			clk.advance(2 * time.Second)
			get()
			get()
			wantTokenStats(t, s, tokenStats{Tokens: 2, API: 4})
		})
	}
}

// In virtual time: while one request renews the token, the others go on
// with the one they have, which is still valid; they do not wait.
func TestOAuth2OthersUseTheOldTokenDuringRenewal(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newTokenServer(clientSecret, 10*time.Minute, time.Now)
		base, tr := memServe(t, s)
		rt := httpauth.NewOAuth2(oauth2Config(t, base), tr, httpauth.Options{})
		do(t, rt, "GET", base+"/api/v1/telemetry", "")
		time.Sleep(9*time.Minute + time.Second) // into the renewal minute
		hold := make(chan struct{})
		s.set(func(s *tokenServer) { s.hold = hold })
		renewed := make(chan answer)
		go func() {
			a, err := send(rt, "GET", base+"/api/v1/telemetry", "")
			if err != nil {
				t.Errorf("renewing request: %v", err)
			}
			renewed <- a
		}()
		synctest.Wait() // the renewing request waits for the token server
		for range 3 {
			if code, _ := do(t, rt, "GET", base+"/api/v1/telemetry", ""); code != http.StatusOK {
				t.Errorf("during the renewal: HTTP %d", code)
			}
		}
		close(hold)
		if a := <-renewed; a.status != http.StatusOK {
			t.Errorf("renewing request: HTTP %d", a.status)
		}
		wantTokenStats(t, s, tokenStats{Tokens: 2, API: 5})
	})
}

// A token the resource refuses (the server restarted and forgot it) is
// dropped: the request is sent again once with a new token, body and all.
func TestOAuth2RenewsOnceOn401(t *testing.T) {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := serve(t, s)
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), srv.Client().Transport, httpauth.Options{})
	do(t, rt, "GET", srv.URL+"/api/v1/telemetry", "")
	s.revoke()
	code, body := do(t, rt, "POST", srv.URL+"/api/v1/telemetry", `{"setpoint":22}`)
	if want := `{"temperature":21.5,"echo":"{\"setpoint\":22}"}`; code != http.StatusOK || body != want {
		t.Errorf("after the restart: HTTP %d %s, want 200 %s", code, body, want)
	}
	do(t, rt, "GET", srv.URL+"/api/v1/telemetry", "")
	wantTokenStats(t, s, tokenStats{Tokens: 2, API: 4, Expired: 1})
}

// A resource that refuses even a new token gets the request twice, and
// the caller its 401: never a loop.
func TestOAuth2RefusedTwiceIsReturned(t *testing.T) {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := serve(t, s)
	api := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		s.mu.Lock()
		s.stats.API++
		s.mu.Unlock()
		http.Error(w, `{"error":"insufficient_scope"}`, http.StatusUnauthorized)
	}))
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), nil, httpauth.Options{})
	code, body := do(t, rt, "GET", api.URL+"/api/v1/telemetry", "")
	if code != http.StatusUnauthorized || body != "{\"error\":\"insufficient_scope\"}\n" {
		t.Errorf("HTTP %d %q, want the resource's 401", code, body)
	}
	wantTokenStats(t, s, tokenStats{Tokens: 2, API: 2})
}

// A request whose body cannot be read again is not sent again: the
// caller gets the 401, and the next request a new token.
func TestOAuth2BodyThatCannotBeSentAgain(t *testing.T) {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := serve(t, s)
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), srv.Client().Transport, httpauth.Options{})
	do(t, rt, "GET", srv.URL+"/api/v1/telemetry", "")
	s.revoke()
	req, _ := http.NewRequest("POST", srv.URL+"/api/v1/telemetry", io.NopCloser(strings.NewReader(`{"setpoint":22}`)))
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatalf("RoundTrip: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HTTP %d, want the 401 as it is", resp.StatusCode)
	}
	if code, _ := do(t, rt, "GET", srv.URL+"/api/v1/telemetry", ""); code != http.StatusOK {
		t.Errorf("next request: HTTP %d, want 200 with a new token", code)
	}
	wantTokenStats(t, s, tokenStats{Tokens: 2, API: 3, Expired: 1})
}

// A token without expires_in is kept until the resource refuses it.
func TestOAuth2TokenWithoutExpiry(t *testing.T) {
	clk := newClock()
	s := newTokenServer(clientSecret, 0, clk.Now)
	srv := serve(t, s)
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), srv.Client().Transport, httpauth.Options{Now: clk.Now})
	for range 3 {
		do(t, rt, "GET", srv.URL+"/api/v1/telemetry", "")
		clk.advance(24 * time.Hour)
	}
	wantTokenStats(t, s, tokenStats{Tokens: 1, API: 3})
	s.revoke()
	do(t, rt, "GET", srv.URL+"/api/v1/telemetry", "")
	wantTokenStats(t, s, tokenStats{Tokens: 2, API: 5, Expired: 1})
}

// Scopes and extra parameters reach the token endpoint, with the client
// authenticated the way it accepts.
func TestOAuth2ScopesParamsAndAuthStyles(t *testing.T) {
	tests := []struct {
		name   string
		accept string
		style  httpauth.AuthStyle
		tokens int // token requests for two tokens
	}{
		{"header", "header", httpauth.AuthStyleHeader, 2},
		{"params", "params", httpauth.AuthStyleParams, 2},
		{"auto, server takes the header", "header", httpauth.AuthStyleAuto, 2},
		{"auto, server takes params: found once, then kept", "params", httpauth.AuthStyleAuto, 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTokenServer("p&ss=w0rd:with/odd+chars", time.Hour, time.Now)
			s.accept, s.scope, s.audience = tt.accept, "telemetry.read telemetry.write", "api://hall-3"
			srv := serve(t, s)
			cfg := oauth2Config(t, srv.URL)
			cfg.ClientSecret = "p&ss=w0rd:with/odd+chars"
			cfg.Scopes = []string{"telemetry.read", "telemetry.write"}
			cfg.Params = url.Values{"audience": {"api://hall-3"}}
			cfg.AuthStyle = tt.style
			rt := httpauth.NewOAuth2(cfg, srv.Client().Transport, httpauth.Options{})
			for range 2 {
				if code, body := do(t, rt, "GET", srv.URL+"/api/v1/telemetry", ""); code != http.StatusOK {
					t.Fatalf("HTTP %d %s", code, body)
				}
				s.revoke()
			}
			if got := s.snapshot(); got.Tokens != tt.tokens {
				t.Errorf("%d token requests for two tokens, want %d", got.Tokens, tt.tokens)
			}
		})
	}
}

// Token requests go through the endpoint's transport, with its TLS trust;
// without it, the certificate error names the step.
func TestOAuth2OverTLS(t *testing.T) {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := httptestTLS(t, s)
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), srv.Client().Transport, httpauth.Options{})
	if code, body := do(t, rt, "GET", srv.URL+"/api/v1/telemetry", ""); code != http.StatusOK {
		t.Errorf("with the endpoint's trust: HTTP %d %s", code, body)
	}
	untrusted := httpauth.NewOAuth2(oauth2Config(t, srv.URL), &http.Transport{}, httpauth.Options{})
	_, err := send(untrusted, "GET", srv.URL+"/api/v1/telemetry", "")
	want := "oauth2 token POST " + srv.URL + "/oauth/token: tls: failed to verify certificate: x509: "
	if err == nil || !strings.HasPrefix(err.Error(), want) {
		t.Errorf("without the trust: %v, want %s…", err, want)
	}
}

// A request with an Authorization header of its own is sent as it is.
func TestOAuth2OwnAuthorizationPassesThrough(t *testing.T) {
	s := newTokenServer(clientSecret, time.Hour, time.Now)
	srv := serve(t, s)
	rt := httpauth.NewOAuth2(oauth2Config(t, srv.URL), srv.Client().Transport, httpauth.Options{})
	req, _ := http.NewRequestWithContext(context.Background(), "GET", srv.URL+"/api/v1/telemetry", nil)
	req.Header.Set("Authorization", "Bearer mine")
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("HTTP %d, want the resource's 401 to the caller's own token", resp.StatusCode)
	}
	wantTokenStats(t, s, tokenStats{API: 1, Expired: 1})
}

// A token endpoint that refuses the client fails the request with an
// error naming the step and the token URL without its query, in the
// endpoint's words, and without any secret.
func TestOAuth2RefusedCredentials(t *testing.T) {
	tests := []struct {
		name  string
		fail  int // the token endpoint's status, if it fails
		style httpauth.AuthStyle
		want  string // after "<name>: oauth2 token POST <url>: "
	}{
		{"header", 0, httpauth.AuthStyleHeader, "invalid_client: Client authentication failed"},
		{"params", 0, httpauth.AuthStyleParams, "invalid_client: Client authentication failed"},
		{"auto, both ways tried", 0, httpauth.AuthStyleAuto, "invalid_client: Client authentication failed"},
		{"endpoint down", http.StatusServiceUnavailable, httpauth.AuthStyleHeader,
			"HTTP 503 Service Unavailable: <html><body><h1>Service Unavailable</h1> <p>The identity provider is down for maintenance.</p></body></html>"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := newTokenServer("the-right-secret", time.Hour, time.Now)
			s.fail = tt.fail
			srv := serve(t, s)
			cfg := oauth2Config(t, srv.URL)
			cfg.TokenURL.RawQuery = "tenant=hall&api-key=k3y-in-the-query"
			cfg.AuthStyle = tt.style
			rt := httpauth.NewOAuth2(cfg, srv.Client().Transport, httpauth.Options{Name: `device "hall-3" endpoint "rest"`})
			_, err := send(rt, "GET", srv.URL+"/api/v1/telemetry", "")
			want := `device "hall-3" endpoint "rest": oauth2 token POST ` + srv.URL + "/oauth/token: " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
			if got := s.snapshot(); got.API != 0 {
				t.Errorf("the resource was asked %d times without a token", got.API)
			}
		})
	}
}

// After a failed token request the endpoint is left alone for a while:
// requests within the back-off window (1 s doubling to 1 min) fail at once
// with the same error, and a success resets the window.
func TestOAuth2BacksOff(t *testing.T) {
	clk := newClock()
	s := newTokenServer("rotated-on-the-server", time.Hour, clk.Now)
	srv := serve(t, s)
	var events []httpauth.Event
	cfg := oauth2Config(t, srv.URL)
	cfg.AuthStyle = httpauth.AuthStyleHeader // one request per attempt
	rt := httpauth.NewOAuth2(cfg, srv.Client().Transport, httpauth.Options{
		Now:      clk.Now,
		Observer: func(e httpauth.Event) { events = append(events, e) },
	})
	attempt := func(wantTokens int) error {
		t.Helper()
		_, err := send(rt, "GET", srv.URL+"/api/v1/telemetry", "")
		if got := s.snapshot().Tokens; got != wantTokens {
			t.Fatalf("after %v: %d token requests, want %d", clk.Now().Format(time.TimeOnly), got, wantTokens)
		}
		return err
	}
	first := attempt(1)
	if first == nil {
		t.Fatal("no error with a refused secret")
	}
	for i, window := range []time.Duration{time.Second, 2 * time.Second, 4 * time.Second} {
		clk.advance(window - time.Millisecond)
		if err := attempt(i + 1); err == nil || err.Error() != first.Error() {
			t.Errorf("within the window: %v, want the last error %v", err, first)
		}
		clk.advance(time.Millisecond)
		attempt(i + 2)
	}
	s.set(func(s *tokenServer) { s.secret = clientSecret })
	clk.advance(8 * time.Second)
	if err := attempt(5); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	s.revoke()
	s.set(func(s *tokenServer) { s.secret = "rotated-again" })
	attempt(6) // 401, a new token refused
	clk.advance(time.Second)
	attempt(7) // the window is 1 s again
	if len(events) != 7 {
		t.Fatalf("%d events for 7 token requests: %+v", len(events), events)
	}
	want := httpauth.Event{Step: "oauth2 token", Method: "POST", URL: srv.URL + "/oauth/token", Status: http.StatusUnauthorized}
	for i, e := range events {
		w := want
		if i == 4 {
			w.Status = http.StatusOK
		}
		gotErr := e.Err
		e.Err = nil
		if e != w || (gotErr == nil) != (i == 4) {
			t.Errorf("event %d: %+v %v, want %+v", i, e, gotErr, w)
		}
	}
}

// An invalid configuration fails every request with the reason, and
// sends nothing.
func TestOAuth2InvalidConfig(t *testing.T) {
	u := func(s string) *url.URL { v, _ := url.Parse(s); return v }
	tests := []struct {
		name string
		cfg  httpauth.OAuth2
		want string
	}{
		{"no URL", httpauth.OAuth2{ClientID: "c"}, "oauth2: token URL: no URL"},
		{"relative", httpauth.OAuth2{TokenURL: u("/oauth/token"), ClientID: "c"}, `oauth2: token URL: :///oauth/token: want an http or https URL`},
		{"no host", httpauth.OAuth2{TokenURL: u("https:///token"), ClientID: "c"}, "oauth2: token URL: https:///token: the URL has no host"},
		{"no client", httpauth.OAuth2{TokenURL: u("https://127.0.0.1/token")}, "oauth2: no client ID"},
		{"scope as a param", httpauth.OAuth2{TokenURL: u("https://127.0.0.1/token"), ClientID: "c", Params: url.Values{"scope": {"x"}}},
			"oauth2: params: scope is set by the client, not a parameter"},
		{"negative RenewBefore", httpauth.OAuth2{TokenURL: u("https://127.0.0.1/token"), ClientID: "c", RenewBefore: -time.Second}, "oauth2: renew before: -1s is negative"},
		{"auth style", httpauth.OAuth2{TokenURL: u("https://127.0.0.1/token"), ClientID: "c", AuthStyle: 7}, "oauth2: unknown auth style 7"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.cfg.Validate(); err == nil || err.Error() != tt.want {
				t.Errorf("Validate: %v, want %s", err, tt.want)
			}
			var hits int
			srv := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
			rt := httpauth.NewOAuth2(tt.cfg, nil, httpauth.Options{Name: "endpoint"})
			if _, err := send(rt, "GET", srv.URL, ""); err == nil || err.Error() != "endpoint: "+tt.want || hits != 0 {
				t.Errorf("request: %v after %d requests, want endpoint: %s after none", err, hits, tt.want)
			}
		})
	}
}
