package s7webapi

import (
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

// start serves a PLC over HTTPS and returns a client that trusts its
// certificate and nothing else.
func start(t *testing.T, o Options) (*PLC, string, *http.Client, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	if o.Now == nil {
		o.Now = clk.Now
	}
	if o.User == "" {
		o.User, o.Password = "admin", "s3cret"
	}
	p, err := New(o)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewUnstartedServer(p.Handler())
	srv.TLS = p.TLSConfig()
	srv.StartTLS()
	t.Cleanup(srv.Close)
	roots := x509.NewCertPool()
	if !roots.AppendCertsFromPEM(p.CertificatePEM()) {
		t.Fatal("the certificate PEM does not parse")
	}
	c := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: roots}}, Timeout: 10 * time.Second}
	t.Cleanup(c.CloseIdleConnections)
	return p, srv.URL + "/api/jsonrpc", c, clk
}

// rpc posts body with token and returns the answer, which must be HTTP 200
// JSON.
func rpc(t *testing.T, c *http.Client, url, token, body string) string {
	t.Helper()
	req, _ := http.NewRequest("POST", url, strings.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	if token != "" {
		req.Header.Set("X-Auth-Token", token)
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("POST %s: %v", body, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("POST %s: %d %s %s", body, resp.StatusCode, resp.Header.Get("Content-Type"), b)
	}
	return string(b)
}

func login(t *testing.T, c *http.Client, url, user, pass string) string {
	t.Helper()
	body := rpc(t, c, url, "", fmt.Sprintf(`{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":%q,"password":%q}}`, user, pass))
	var r struct {
		Result struct{ Token string } `json:"result"`
	}
	if err := json.Unmarshal([]byte(body), &r); err != nil || len(r.Result.Token) != 28 {
		t.Fatalf("login: %s, want a 28-character token", body)
	}
	return r.Result.Token
}

func read(name string) string {
	return fmt.Sprintf(`{"jsonrpc":"2.0","id":2,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".%s"}}`, name)
}

func TestCertificate(t *testing.T) {
	p, url, c, _ := start(t, Options{})
	if got := rpc(t, c, url, "", `{"jsonrpc":"2.0","id":1,"method":"Api.Ping"}`); !strings.HasPrefix(got, `{"jsonrpc":"2.0","id":1,"result":"`) {
		t.Errorf("ping: %s", got)
	}
	leaf := p.cert.Leaf
	key, ok := leaf.PublicKey.(*ecdsa.PublicKey)
	if !ok || key.Curve != elliptic.P256() || len(leaf.DNSNames) != 1 || leaf.DNSNames[0] != "localhost" || len(leaf.IPAddresses) != 2 || !leaf.IPAddresses[0].Equal([]byte{127, 0, 0, 1}) {
		t.Errorf("certificate: key %T, DNS %v, IP %v", leaf.PublicKey, leaf.DNSNames, leaf.IPAddresses)
	}
	// not trusted without the PEM
	_, err := http.Post(url, "application/json", strings.NewReader(`{}`))
	var unknown x509.UnknownAuthorityError
	if !errors.As(err, &unknown) {
		t.Errorf("with the system roots: %v, want an unknown authority", err)
	}
}

func TestLoginThenRead(t *testing.T) {
	p, url, c, _ := start(t, Options{})
	if got := rpc(t, c, url, "", read("temperature")); got != `{"jsonrpc":"2.0","id":2,"error":{"code":2,"message":"Permission denied"}}` {
		t.Errorf("without a token: %s", got)
	}
	token := login(t, c, url, "admin", "s3cret")
	var r struct{ Result float64 }
	got := rpc(t, c, url, token, read("temperature"))
	if err := json.Unmarshal([]byte(got), &r); err != nil || r.Result < 60 || r.Result > 90 {
		t.Errorf("temperature: %s", got)
	}
	if got := rpc(t, c, url, token, `{"jsonrpc":"2.0","id":3,"method":"Api.GetPermissions"}`); got != `{"jsonrpc":"2.0","id":3,"result":[{"name":"read_value"},{"name":"write_value"}]}` {
		t.Errorf("permissions: %s", got)
	}
	if got := rpc(t, c, url, token, `{"jsonrpc":"2.0","id":4,"method":"Api.Logout"}`); got != `{"jsonrpc":"2.0","id":4,"result":true}` {
		t.Errorf("logout: %s", got)
	}
	if got := rpc(t, c, url, token, read("temperature")); !strings.Contains(got, `"code":2,`) {
		t.Errorf("after logout: %s", got)
	}
	if s := p.Stats(); s != (Stats{Requests: 6, Calls: 6, Logins: 1, Denied: 2}) {
		t.Errorf("stats %+v", s)
	}
}

func TestErrors(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	token := login(t, c, url, "admin", "s3cret")
	tests := []struct {
		name, token, body, want string
	}{
		{"wrong password", "", `{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin","password":"guess"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":100,"message":"Login failed"}}`},
		{"login twice", token, `{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin","password":"s3cret"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":101,"message":"Already authenticated"}}`},
		{"login without password", "", `{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"unknown parameter", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".running","x":1}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"read without var", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"bad mode", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".running","mode":"fancy"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"address without quotes", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"DB_Process.running"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":201,"message":"Invalid address"}}`},
		{"no such member", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".nope"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":200,"message":"Address does not exist"}}`},
		{"no such block", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Other\".running"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":200,"message":"Address does not exist"}}`},
		{"a whole block", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\""}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":204,"message":"Unsupported address"}}`},
		{"write of the wrong type", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Write","params":{"var":"\"DB_Process\".running","value":"yes"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"DInt out of range", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Write","params":{"var":"\"DB_Process\".counter","value":3000000000}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32602,"message":"Invalid params"}}`},
		{"unknown method", token, `{"jsonrpc":"2.0","id":"x","method":"Plc.Explode"}`, `{"jsonrpc":"2.0","id":"x","error":{"code":-32601,"message":"Method not found"}}`},
		{"not JSON", token, `{"jsonrpc":`, `{"jsonrpc":"2.0","id":null,"error":{"code":-32700,"message":"Parse error"}}`},
		{"not JSON-RPC 2.0", token, `{"id":1,"method":"Api.Ping"}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{"method not a string", token, `{"jsonrpc":"2.0","id":1,"method":7}`, `{"jsonrpc":"2.0","id":1,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{"empty batch", token, `[]`, `{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}`},
		{"children of a member", token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Browse","params":{"var":"\"DB_Process\".line","mode":"children"}}`, `{"jsonrpc":"2.0","id":1,"error":{"code":202,"message":"Variable is not a structure"}}`},
	}
	for _, tt := range tests {
		if got := rpc(t, c, url, tt.token, tt.body); got != tt.want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, tt.want)
		}
	}
}

// A session lives while requests use its token, and ends 120 s after the
// last one.
func TestSessionTimeout(t *testing.T) {
	p, url, c, clk := start(t, Options{})
	token := login(t, c, url, "admin", "s3cret")
	for i, step := range []time.Duration{100 * time.Second, 100 * time.Second, 119 * time.Second} {
		clk.advance(step)
		if got := rpc(t, c, url, token, read("running")); got != `{"jsonrpc":"2.0","id":2,"result":true}` {
			t.Fatalf("read %d after %v: %s", i+1, step, got)
		}
	}
	clk.advance(120 * time.Second)
	if got := rpc(t, c, url, token, read("running")); got != `{"jsonrpc":"2.0","id":2,"error":{"code":2,"message":"Permission denied"}}` {
		t.Errorf("after 120 s idle: %s", got)
	}
	if again := login(t, c, url, "admin", "s3cret"); again == token {
		t.Error("the new session has the old token")
	}
	if s := p.Stats(); s.Logins != 2 || s.Denied != 1 {
		t.Errorf("stats %+v", s)
	}
}

func TestBatch(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	token := login(t, c, url, "admin", "s3cret")
	body := `[
		{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".running"}},
		{"jsonrpc":"2.0","id":"b","method":"PlcProgram.Read","params":{"var":"\"DB_Process\".counter"}},
		{"jsonrpc":"2.0","method":"PlcProgram.Write","params":{"var":"\"DB_Process\".setpoint","value":70}},
		{"jsonrpc":"2.0","id":3,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".setpoint","mode":"simple"}},
		{"jsonrpc":"2.0","id":4,"method":"PlcProgram.Write","params":{"var":"\"DB_Process\".running","value":false}},
		{"jsonrpc":"2.0","id":5,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".running"}},
		{"jsonrpc":"2.0","id":6,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".nope"}},
		{"jsonrpc":"2.0","id":7,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".\"line\""}},
		5
	]`
	want := `[{"jsonrpc":"2.0","id":1,"result":true},{"jsonrpc":"2.0","id":"b","result":1},{"jsonrpc":"2.0","id":3,"result":70},` +
		`{"jsonrpc":"2.0","id":4,"result":true},{"jsonrpc":"2.0","id":5,"result":false},` +
		`{"jsonrpc":"2.0","id":6,"error":{"code":200,"message":"Address does not exist"}},{"jsonrpc":"2.0","id":7,"result":"Line 1"},` +
		`{"jsonrpc":"2.0","id":null,"error":{"code":-32600,"message":"Invalid Request"}}]`
	if got := rpc(t, c, url, token, body); got != want {
		t.Errorf("batch:\n got %s\nwant %s", got, want)
	}
}

func TestBrowse(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	token := login(t, c, url, "admin", "s3cret")
	tests := []struct{ name, params, want string }{
		{"the blocks", `{"mode":"children"}`, `[{"name":"DB_Process","db_number":1,"datatype":"data_block","has_children":true}]`},
		{"a block", `{"var":"\"DB_Process\"","mode":"var"}`, `[{"name":"DB_Process","db_number":1,"datatype":"data_block","has_children":true}]`},
		{"its members", `{"var":"\"DB_Process\"","mode":"children"}`, `[{"name":"temperature","db_number":1,"datatype":"real","has_children":false},{"name":"pressure","db_number":1,"datatype":"real","has_children":false},{"name":"running","db_number":1,"datatype":"bool","has_children":false},{"name":"counter","db_number":1,"datatype":"dint","has_children":false},{"name":"setpoint","db_number":1,"datatype":"real","has_children":false},{"name":"line","db_number":1,"datatype":"string","has_children":false,"max_length":254}]`},
		{"a member", `{"var":"\"DB_Process\".pressure","mode":"var"}`, `[{"name":"pressure","db_number":1,"datatype":"real","has_children":false}]`},
	}
	for _, tt := range tests {
		got := rpc(t, c, url, token, `{"jsonrpc":"2.0","id":1,"method":"PlcProgram.Browse","params":`+tt.params+`}`)
		if want := `{"jsonrpc":"2.0","id":1,"result":` + tt.want + `}`; got != want {
			t.Errorf("%s:\n got %s\nwant %s", tt.name, got, want)
		}
	}
}

func TestEverybodyHasNoRights(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	token := login(t, c, url, "Everybody", "")
	if got := rpc(t, c, url, token, read("running")); !strings.Contains(got, `"code":2,`) {
		t.Errorf("read as Everybody: %s", got)
	}
	if got := rpc(t, c, url, token, `{"jsonrpc":"2.0","id":1,"method":"Api.GetPermissions"}`); got != `{"jsonrpc":"2.0","id":1,"result":[]}` {
		t.Errorf("permissions: %s", got)
	}
}

func TestMaxSessions(t *testing.T) {
	_, url, c, _ := start(t, Options{MaxSessions: 2})
	first := login(t, c, url, "admin", "s3cret")
	login(t, c, url, "admin", "s3cret")
	loginBody := `{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin","password":"s3cret"}}`
	if got := rpc(t, c, url, "", loginBody); got != `{"jsonrpc":"2.0","id":1,"error":{"code":4,"message":"No resources"}}` {
		t.Errorf("third session: %s", got)
	}
	rpc(t, c, url, first, `{"jsonrpc":"2.0","id":1,"method":"Api.Logout"}`)
	login(t, c, url, "admin", "s3cret")
}

func TestNotificationsGetNoAnswer(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	for _, body := range []string{`{"jsonrpc":"2.0","method":"Api.Ping"}`, `[{"jsonrpc":"2.0","method":"Api.Ping"}]`} {
		resp, err := c.Post(url, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusNoContent || len(b) != 0 {
			t.Errorf("%s: %d %q, want 204 and nothing", body, resp.StatusCode, b)
		}
	}
}

// The same seed gives the same tokens, ping id and readings; another seed
// others.
func TestReadingsFollowTheSeed(t *testing.T) {
	run := func(seed uint64) string {
		_, url, c, _ := start(t, Options{Seed: seed})
		token := login(t, c, url, "admin", "s3cret")
		out := []string{token, rpc(t, c, url, "", `{"jsonrpc":"2.0","id":1,"method":"Api.Ping"}`)}
		for range 5 {
			out = append(out, rpc(t, c, url, token, read("temperature")), rpc(t, c, url, token, read("pressure")))
		}
		return strings.Join(out, "\n")
	}
	if a, b := run(9), run(9); a != b {
		t.Errorf("same seed, different answers:\n%s\n%s", a, b)
	}
	if a, b := run(9), run(10); a == b {
		t.Error("another seed gave the same answers")
	}
}

func TestOnlyPostJSONRPC(t *testing.T) {
	_, url, c, _ := start(t, Options{})
	for _, tt := range []struct {
		method, url string
		code        int
	}{{"GET", url, 405}, {"POST", strings.TrimSuffix(url, "/api/jsonrpc") + "/api/other", 404}} {
		req, _ := http.NewRequest(tt.method, tt.url, nil)
		resp, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if resp.StatusCode != tt.code {
			t.Errorf("%s %s: %d, want %d", tt.method, tt.url, resp.StatusCode, tt.code)
		}
	}
}
