package httpauth_test

import (
	"context"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/http-connector/http-connector/internal/httpauth"
	"github.com/http-connector/http-connector/internal/mapping"
)

const (
	plcPassword    = "plc-pa55word-7"
	routerPassword = "r0uter-pa55"
	gatewayPass    = "gw-inst4ller-pw"
)

func jq(t *testing.T, src string) *mapping.Program {
	t.Helper()
	p, err := mapping.Compile(src, mapping.Options{})
	if err != nil {
		t.Fatalf("compile %s: %v", src, err)
	}
	return p
}

func mustURL(t *testing.T, s string) *url.URL {
	t.Helper()
	u, err := url.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return u
}

// plcLogin is the login of the S7 Web API at base.
func plcLogin(t *testing.T, base, password string) httpauth.Login {
	return httpauth.Login{
		URL:         mustURL(t, base+"/api/jsonrpc"),
		Body:        []byte(`{"jsonrpc":"2.0","method":"Api.Login","params":{"user":"connector","password":"` + password + `"},"id":1}`),
		ContentType: "application/json",
		TokenJQ:     jq(t, ".result.token"),
		UseHeader:   "X-Auth-Token",
		ReloginJQ:   jq(t, ".error.code? == 2"),
	}
}

const plcRead = `{"jsonrpc":"2.0","method":"PlcProgram.Read","params":{"var":"\"DB1\".temperature"},"id":7}`

// routerLogin is the form login of the router at base: a session cookie.
func routerLogin(t *testing.T, base, password string) httpauth.Login {
	return httpauth.Login{
		URL:         mustURL(t, base+"/login"),
		Body:        []byte(url.Values{"username": {"admin"}, "password": {password}}.Encode()),
		ContentType: "application/x-www-form-urlencoded",
	}
}

func wantPLC(t *testing.T, p *plc, want plcStats) {
	t.Helper()
	if got := p.snapshot(); got != want {
		t.Errorf("PLC saw %+v, want %+v", got, want)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, s := range p.problems {
		t.Errorf("PLC: %s", s)
	}
}

// The PLC's token is taken from the login answer and sent in
// X-Auth-Token; when it has expired the PLC says so with error 2 in an
// HTTP 200, and the read is sent again once after a new login.
func TestLoginS7TokenExpiresAndIsRenewed(t *testing.T) {
	clk := newClock()
	p := newPLC(plcPassword, clk.Now)
	srv := serve(t, p)
	rt := httpauth.NewLogin(plcLogin(t, srv.URL, plcPassword), srv.Client().Transport, nil, httpauth.Options{Now: clk.Now})
	want := `{"id":7,"jsonrpc":"2.0","result":21.5}` + "\n"
	for range 2 {
		if code, body := do(t, rt, "POST", srv.URL+"/api/jsonrpc", plcRead); code != http.StatusOK || body != want {
			t.Fatalf("read: HTTP %d %s, want 200 %s", code, body, want)
		}
		clk.advance(100 * time.Second) // used within the 120 s: still valid
	}
	wantPLC(t, p, plcStats{Logins: 1, Reads: 2})
	clk.advance(30 * time.Second)
	if code, body := do(t, rt, "POST", srv.URL+"/api/jsonrpc", plcRead); code != http.StatusOK || body != want {
		t.Errorf("read after expiry: HTTP %d %s, want 200 %s", code, body, want)
	}
	wantPLC(t, p, plcStats{Logins: 2, Reads: 4, Denied: 1})
}

// An answer that the relogin check reads but that is no expired session
// reaches the caller byte for byte: another JSON-RPC error, a body that
// is not JSON, a body over MaxBody.
func TestLoginReloginCheckHandsTheBodyBack(t *testing.T) {
	long := `{"result":"` + strings.Repeat("x", 300) + `","error":{"code":2}}`
	tests := []struct{ name, body string }{
		{"another error", `{"jsonrpc":"2.0","id":7,"error":{"code":4,"message":"Invalid params"}}`},
		{"not JSON", "<html>maintenance mode</html>"},
		{"over MaxBody, unchecked", long},
		{"empty", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p := newPLC(plcPassword, time.Now)
			logins := serve(t, p)
			device := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.body))
			}))
			rt := httpauth.NewLogin(plcLogin(t, logins.URL, plcPassword), nil, nil, httpauth.Options{MaxBody: 256})
			code, body := do(t, rt, "POST", device.URL+"/api/jsonrpc", plcRead)
			if code != http.StatusOK || body != tt.body {
				t.Errorf("HTTP %d %q, want 200 %q", code, body, tt.body)
			}
			wantPLC(t, p, plcStats{Logins: 1})
		})
	}
}

// In virtual time: twenty reads that start together cost one login; they
// all wait for it, then all read with its token.
func TestLoginOneLoginForConcurrentRequests(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPLC(plcPassword, time.Now)
		p.hold = make(chan struct{})
		base, tr := memServe(t, p)
		rt := httpauth.NewLogin(plcLogin(t, base, plcPassword), tr, nil, httpauth.Options{})
		var wg sync.WaitGroup
		bodies := make([]string, 20)
		for i := range bodies {
			wg.Go(func() {
				a, err := send(rt, "POST", base+"/api/jsonrpc", plcRead)
				if err != nil {
					t.Errorf("read %d: %v", i, err)
				}
				bodies[i] = a.body
			})
		}
		synctest.Wait() // every read is waiting, one of them for the login
		if got := p.snapshot(); got.Logins != 1 || got.Reads != 0 {
			t.Errorf("during the login: %+v, want 1 login and no read", got)
		}
		close(p.hold)
		wg.Wait()
		for i, b := range bodies {
			if !strings.Contains(b, `"result":21.5`) {
				t.Errorf("read %d: %s", i, b)
			}
		}
		wantPLC(t, p, plcStats{Logins: 1, Reads: 20})
	})
}

// A router's form login sets a session cookie after a redirect; the
// requests carry it, and when the session has expired (401) the request
// is sent again once after a new login.
func TestLoginSessionCookie(t *testing.T) {
	clk := newClock()
	rtr := newRouter(routerPassword, 10*time.Minute, clk.Now)
	srv := serve(t, rtr)
	rt := httpauth.NewLogin(routerLogin(t, srv.URL, routerPassword), srv.Client().Transport, nil, httpauth.Options{Now: clk.Now})
	for _, step := range []struct {
		advance time.Duration
		want    routerStats
	}{
		{0, routerStats{Logins: 1, Pages: 2}}, // the redirect to /index.html, then the status
		{9 * time.Minute, routerStats{Logins: 1, Pages: 3}},
		{2 * time.Minute, routerStats{Logins: 2, Pages: 6}}, // 401, the redirect after the login, the status again
	} {
		clk.advance(step.advance)
		if code, body := do(t, rt, "GET", srv.URL+"/api/status", ""); code != http.StatusOK {
			t.Fatalf("after %v: HTTP %d %s", step.advance, code, body)
		}
		if got := rtr.stats(); got != step.want {
			t.Errorf("after %v: router saw %+v, want %+v", step.advance, got, step.want)
		}
	}
	rtr.mu.Lock()
	defer rtr.mu.Unlock()
	for _, p := range rtr.problems {
		t.Errorf("router: %s", p)
	}
}

// A session cookie for a path the login URL is not under still counts:
// the login set it, and the requests under the path carry it.
func TestLoginSessionCookieForAPath(t *testing.T) {
	rtr := newRouter(routerPassword, 0, time.Now)
	rtr.cookiePath = "/api"
	srv := serve(t, rtr)
	rt := httpauth.NewLogin(routerLogin(t, srv.URL, routerPassword), nil, nil, httpauth.Options{})
	if code, body := do(t, rt, "GET", srv.URL+"/api/status", ""); code != http.StatusOK {
		t.Errorf("HTTP %d %s", code, body)
	}
	if got := rtr.stats(); got != (routerStats{Logins: 1, Pages: 1}) {
		t.Errorf("router saw %+v", got)
	}
}

// A session is renewed when it is as old as its lifetime, given or read
// from the login answer, before the device refuses it.
func TestLoginLifetime(t *testing.T) {
	tests := []struct {
		name     string
		lifetime time.Duration
		jq       string
		renew    time.Duration // the new login comes this long after the first
	}{
		{"from the answer", 0, ".data.expiresIn", 300 * time.Second},
		{"given", 200 * time.Second, "", 200 * time.Second},
		{"answer says null: given", 200 * time.Second, ".data.lifetime", 200 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			g := newGateway(gatewayPass, clk.Now)
			srv := serve(t, g)
			l := gatewayLogin(t, srv.URL)
			l.Lifetime = tt.lifetime
			if tt.jq != "" {
				l.ExpiresInJQ = jq(t, tt.jq)
			}
			rt := httpauth.NewLogin(l, srv.Client().Transport, nil, httpauth.Options{Now: clk.Now})
			do(t, rt, "GET", srv.URL+"/api/values", "")
			clk.advance(tt.renew - time.Second)
			do(t, rt, "GET", srv.URL+"/api/values", "")
			if got := g.snapshot(); got.Logins != 1 {
				t.Errorf("before the lifetime: %d logins, want 1", got.Logins)
			}
			clk.advance(time.Second)
			do(t, rt, "GET", srv.URL+"/api/values", "")
			if got := g.snapshot(); got != (gatewayStats{Logins: 2, Values: 3}) {
				t.Errorf("at the lifetime: gateway saw %+v, want 2 logins and 3 requests, none refused", got)
			}
		})
	}
}

// gatewayLogin is the login of the gateway at base: the token from
// X-Session-Token, sent back in the same header; refusals in an HTTP 200.
func gatewayLogin(t *testing.T, base string) httpauth.Login {
	return httpauth.Login{
		URL:         mustURL(t, base+"/api/auth"),
		Body:        []byte(`{"user":"installer","pass":"` + gatewayPass + `"}`),
		ContentType: "application/json",
		TokenHeader: "X-Session-Token",
		ErrorJQ:     jq(t, `if .status == "error" then .message else null end`),
		UseHeader:   "X-Session-Token",
	}
}

// The token can be carried in a query parameter, appended after the
// request's own; an expired one (403 from the gateway) means a new login.
func TestLoginTokenInQueryAndReloginOn403(t *testing.T) {
	clk := newClock()
	g := newGateway(gatewayPass, clk.Now)
	srv := serve(t, g)
	l := gatewayLogin(t, srv.URL)
	l.UseHeader, l.UseQuery = "", "token"
	rt := httpauth.NewLogin(l, srv.Client().Transport, nil, httpauth.Options{Now: clk.Now})
	want := `{"power":1234,"params":"channel,avg,token"}`
	if code, body := do(t, rt, "GET", srv.URL+"/api/values?channel=3&avg=60", ""); code != http.StatusOK || body != want {
		t.Errorf("HTTP %d %s, want 200 %s", code, body, want)
	}
	clk.advance(301 * time.Second)
	if code, body := do(t, rt, "GET", srv.URL+"/api/values?channel=3&avg=60", ""); code != http.StatusOK || body != want {
		t.Errorf("after expiry: HTTP %d %s, want 200 %s", code, body, want)
	}
	if got := g.snapshot(); got != (gatewayStats{Logins: 2, Values: 3, Expired: 1}) {
		t.Errorf("gateway saw %+v", got)
	}
}

// A device that refuses even a fresh session gets the request twice and
// the caller its answer: never a loop. A body that cannot be read again is
// not sent again.
func TestLoginReloginsOnce(t *testing.T) {
	rtr := newRouter(routerPassword, 0, time.Now)
	srv := serve(t, rtr)
	refusing := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rtr.mu.Lock()
		rtr.pages++
		rtr.mu.Unlock()
		http.Error(w, "forbidden", http.StatusForbidden)
	}))
	rt := httpauth.NewLogin(routerLogin(t, srv.URL, routerPassword), nil, nil, httpauth.Options{})
	if code, body := do(t, rt, "GET", refusing.URL+"/api/status", ""); code != http.StatusForbidden || body != "forbidden\n" {
		t.Errorf("HTTP %d %q, want the device's 403", code, body)
	}
	if got := rtr.stats(); got != (routerStats{Logins: 2, Pages: 4}) {
		t.Errorf("devices saw %+v, want 2 logins (each with its redirect) and 2 requests", got)
	}

	req, _ := http.NewRequest("POST", refusing.URL+"/api/status", struct{ *strings.Reader }{strings.NewReader("{}")})
	resp, err := rt.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if got := rtr.stats(); resp.StatusCode != http.StatusForbidden || got != (routerStats{Logins: 2, Pages: 5}) {
		t.Errorf("without GetBody: HTTP %d after %+v, want the 403 after one more request", resp.StatusCode, got)
	}
}

// A refused login fails the request with an error naming the step, in
// the device's words, with the password redacted where the device echoes
// it.
func TestLoginRefused(t *testing.T) {
	p := newPLC("the-right-one", time.Now)
	plcSrv := serve(t, p)
	rtr := newRouter("the-right-one", 0, time.Now)
	routerSrv := serve(t, rtr)
	g := newGateway("the-right-one", time.Now)
	gwSrv := serve(t, g)
	tests := []struct {
		name   string
		login  httpauth.Login
		device string
		want   string
	}{
		{"JSON-RPC", plcLogin(t, plcSrv.URL, plcPassword), plcSrv.URL + "/api/jsonrpc",
			"login POST " + plcSrv.URL + `/api/jsonrpc: JSON-RPC error 100 "Login failed"`},
		{"status, the password echoed", routerLogin(t, routerSrv.URL, routerPassword), routerSrv.URL + "/api/status",
			"login POST " + routerSrv.URL + `/login: HTTP 401 Unauthorized: <html><body>Wrong password "<redacted>" for user "<redacted>"</body></html>`},
		{"ErrorJQ", gatewayLogin(t, gwSrv.URL), gwSrv.URL + "/api/values",
			"login POST " + gwSrv.URL + `/api/auth: the device refused: "Invalid credentials"`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := httpauth.NewLogin(tt.login, nil, nil, httpauth.Options{Name: `device "hall-3" endpoint "rest"`})
			_, err := send(rt, "POST", tt.device, plcRead)
			if want := `device "hall-3" endpoint "rest": ` + tt.want; err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
	if p.snapshot().Reads != 0 || rtr.stats().Pages != 0 || g.snapshot().Values != 0 {
		t.Errorf("a device was asked for data without a session")
	}
}

// After a failed login the device is left alone: within the back-off
// window (1 s doubling to 1 min) requests fail at once with the same
// error; a success resets the window. The observer hears of each login.
func TestLoginBacksOff(t *testing.T) {
	clk := newClock()
	p := newPLC("changed-on-the-plc", clk.Now)
	srv := serve(t, p)
	var events []httpauth.Event
	rt := httpauth.NewLogin(plcLogin(t, srv.URL, plcPassword), srv.Client().Transport, nil, httpauth.Options{
		Now: clk.Now, Observer: func(e httpauth.Event) { events = append(events, e) },
	})
	attempt := func(logins int) error {
		t.Helper()
		_, err := send(rt, "POST", srv.URL+"/api/jsonrpc", plcRead)
		if got := p.snapshot().Logins; got != logins {
			t.Fatalf("after %v: %d logins, want %d", clk.Now().Format(time.TimeOnly), got, logins)
		}
		return err
	}
	first := attempt(1)
	windows := []time.Duration{1, 2, 4, 8, 16, 32, 60, 60}
	for i, w := range windows {
		clk.advance(w*time.Second - time.Millisecond)
		if err := attempt(i + 1); err == nil || err.Error() != first.Error() {
			t.Errorf("within the window: %v, want %v", err, first)
		}
		clk.advance(time.Millisecond)
		attempt(i + 2)
	}
	p.mu.Lock()
	p.password = plcPassword
	p.mu.Unlock()
	clk.advance(time.Minute)
	if err := attempt(10); err != nil {
		t.Fatalf("after the fix: %v", err)
	}
	if len(events) != 10 {
		t.Fatalf("%d events for 10 logins", len(events))
	}
	for i, e := range events {
		want := httpauth.Event{Step: "login", Method: "POST", URL: srv.URL + "/api/jsonrpc", Status: 200}
		gotErr := e.Err
		e.Err = nil
		if e != want || (gotErr == nil) != (i == 9) {
			t.Errorf("event %d: %+v %v, want %+v", i, e, gotErr, want)
		}
	}
}

// A login answer the configuration cannot read a session from fails the
// login with what is wrong, and never with the token or the body.
func TestLoginAnswerErrors(t *testing.T) {
	const tok = "t0ken-n0t-t0-sh0w"
	tests := []struct {
		name  string
		login func(*httpauth.Login)
		body  string
		want  string
	}{
		{"not JSON", nil, "<html>" + tok + "</html>", "the answer is not JSON: invalid character '<' looking for beginning of value"},
		{"two values", nil, `{"result":{"token":"` + tok + `"}} {}`, "the answer is not JSON: more than one JSON value"},
		{"no token", nil, `{"result":{}}`, `token ".result.token": got null, want a non-empty string`},
		{"empty token", nil, `{"result":{"token":""}}`, `token ".result.token": got an empty string, want a non-empty string`},
		{"token not a string", nil, `{"result":{"token":{"value":"` + tok + `"}}}`, `token ".result.token": got an object, want a non-empty string`},
		{"program error quotes no value", func(l *httpauth.Login) { l.TokenJQ = jq(t, ".result.token.value") }, `{"result":{"token":"` + tok + `"}}`,
			`token ".result.token.value": jq: expected an object but got: string ("…")`},
		{"over MaxBody", nil, `{"result":{"token":"` + strings.Repeat("x", 200) + `"}}`, "read the answer: the answer is over 128 bytes"},
		{"no header", func(l *httpauth.Login) { l.TokenJQ, l.TokenHeader = nil, "X-Auth-Token" }, `{}`, "the answer has no X-Auth-Token header"},
		{"no cookie", func(l *httpauth.Login) { l.TokenJQ = nil }, `{}`, "the answer set no cookie"},
		{"lifetime not a number", func(l *httpauth.Login) { l.ExpiresInJQ = jq(t, ".result.expires") }, `{"result":{"token":"` + tok + `","expires":"soon"}}`,
			`expires in ".result.expires": got a string, want a positive number of seconds`},
		{"lifetime zero", func(l *httpauth.Login) { l.ExpiresInJQ = jq(t, ".result.expires") }, `{"result":{"token":"` + tok + `","expires":0}}`,
			`expires in ".result.expires": got a number, want a positive number of seconds`},
		{"ErrorJQ object", func(l *httpauth.Login) { l.ErrorJQ = jq(t, ".failure") }, `{"failure":{"reason":"locked","retry":300}}`,
			`the device refused: {"reason":"locked","retry":300}`},
		{"ErrorJQ false is success", func(l *httpauth.Login) { l.ErrorJQ = jq(t, ".failure // false") }, `{"error":{"code":1}}`,
			`token ".result.token": got null, want a non-empty string`},
		{"JSON-RPC error without message", nil, `{"error":{"code":-32601}}`, "JSON-RPC error -32601"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header().Set("Content-Type", "application/json")
				w.Write([]byte(tt.body))
			}))
			l := plcLogin(t, srv.URL, plcPassword)
			if tt.login != nil {
				tt.login(&l)
			}
			rt := httpauth.NewLogin(l, nil, nil, httpauth.Options{MaxBody: 128})
			_, err := send(rt, "GET", srv.URL+"/data", "")
			if want := "login POST " + srv.URL + "/api/jsonrpc: " + tt.want; err == nil || err.Error() != want {
				t.Errorf("got  %v\nwant %s", err, want)
			}
		})
	}
}

// An invalid configuration fails every request with the reason, and
// sends nothing.
func TestLoginInvalidConfig(t *testing.T) {
	u := mustURL(t, "http://127.0.0.1/login")
	tests := []struct {
		name  string
		login httpauth.Login
		want  string
	}{
		{"no URL", httpauth.Login{}, "login: URL: no URL"},
		{"relative URL", httpauth.Login{URL: mustURL(t, "/login")}, "login: URL: :///login: want an http or https URL"},
		{"method", httpauth.Login{URL: u, Method: "GET /"}, "login: method \"GET /\": want a token (letters, digits and !#$%&'*+-.^_`|~)"},
		{"header", httpauth.Login{URL: u, UseHeader: "X-Auth-Token:"}, "login: use header \"X-Auth-Token:\": want a token (letters, digits and !#$%&'*+-.^_`|~)"},
		{"two token sources", httpauth.Login{URL: u, TokenJQ: jq(t, ".token"), TokenHeader: "X-Token"}, "login: the token from TokenJQ or TokenHeader, not both"},
		{"two token uses", httpauth.Login{URL: u, UseHeader: "X-Token", UseQuery: "token"}, "login: the token in UseHeader or UseQuery, not both"},
		{"negative lifetime", httpauth.Login{URL: u, Lifetime: -time.Minute}, "login: lifetime -1m0s is negative"},
		{"relogin on 200", httpauth.Login{URL: u, ReloginStatus: []int{401, 200}}, "login: relogin status 200: want 300 to 599 (ReloginJQ checks 2xx answers)"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if err := tt.login.Validate(); err == nil || err.Error() != tt.want {
				t.Errorf("Validate: %v, want %s", err, tt.want)
			}
			var hits int
			srv := serve(t, http.HandlerFunc(func(http.ResponseWriter, *http.Request) { hits++ }))
			rt := httpauth.NewLogin(tt.login, nil, nil, httpauth.Options{Name: "endpoint"})
			if _, err := send(rt, "GET", srv.URL, ""); err == nil || err.Error() != "endpoint: "+tt.want || hits != 0 {
				t.Errorf("request: %v after %d requests, want endpoint: %s after none", err, hits, tt.want)
			}
		})
	}
}

// In virtual time: a request waits for the login in progress no longer
// than its deadline; a request that gives up while its own login is under
// way fails alone, and a request waiting for that login makes its own:
// the failure starts no back-off.
func TestLoginCallerGivingUpHandsOver(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		p := newPLC(plcPassword, time.Now)
		p.hold = make(chan struct{})
		base, tr := memServe(t, p)
		rt := httpauth.NewLogin(plcLogin(t, base, plcPassword), tr, nil, httpauth.Options{})
		ctx, cancel := context.WithCancel(context.Background())
		gaveUp := make(chan error)
		go func() {
			req, _ := http.NewRequestWithContext(ctx, "POST", base+"/api/jsonrpc", strings.NewReader(plcRead))
			_, err := rt.RoundTrip(req)
			gaveUp <- err
		}()
		synctest.Wait()
		short, stop := context.WithTimeout(context.Background(), time.Second)
		defer stop()
		req, _ := http.NewRequestWithContext(short, "POST", base+"/api/jsonrpc", strings.NewReader(plcRead))
		if _, err := rt.RoundTrip(req); err == nil || err.Error() != "wait for the login in progress: context deadline exceeded" {
			t.Errorf("a request with a deadline: %v, want it to stop waiting", err)
		}
		waited := make(chan answer)
		go func() {
			a, err := send(rt, "POST", base+"/api/jsonrpc", plcRead)
			if err != nil {
				t.Errorf("waiting request: %v", err)
			}
			waited <- a
		}()
		synctest.Wait()
		cancel()
		if err := <-gaveUp; err == nil || err.Error() != "login POST "+base+"/api/jsonrpc: context canceled" {
			t.Errorf("the request that gave up: %v", err)
		}
		synctest.Wait()
		if got := p.snapshot(); got.Logins != 2 {
			t.Errorf("%d logins, want the waiting request's own", got.Logins)
		}
		close(p.hold)
		if a := <-waited; !strings.Contains(a.body, `"result":21.5`) {
			t.Errorf("waiting request: %d %s", a.status, a.body)
		}
	})
}
