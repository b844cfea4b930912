package shelly

import (
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/digest"
)

// clock is a device clock the test moves.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

func newClock() *clock { return &clock{t: time.Date(2025, 6, 1, 12, 0, 30, 0, time.UTC)} }

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

func start(t *testing.T, o Options) (*Device, *httptest.Server) {
	t.Helper()
	d := New(o)
	srv := httptest.NewServer(d.Handler())
	t.Cleanup(srv.Close)
	return d, srv
}

// do sends a request and returns the status, the headers and the body.
func do(t *testing.T, c *http.Client, method, url, body string, header ...string) (int, http.Header, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, err := http.NewRequest(method, url, r)
	if err != nil {
		t.Fatal(err)
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := c.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, string(b)
}

func digestClient(pass string) *http.Client {
	return &http.Client{Transport: &digest.Transport{Credentials: digest.Credentials{Username: User, Password: pass}.Get}}
}

func TestDeviceInfoIsNotProtected(t *testing.T) {
	d, srv := start(t, Options{Password: "s3cret"})
	want := `{"name":null,"id":"shellyplus1pm-a8032ab12345","mac":"A8032AB12345","slot":0,"model":"SNSW-001P16EU","gen":2,"fw_id":"20250603-083155/1.6.2-gc8a76e2","ver":"1.6.2","app":"Plus1PM","auth_en":true,"auth_domain":"shellyplus1pm-a8032ab12345"}`
	for _, path := range []string{"/shelly", "/rpc/Shelly.GetDeviceInfo"} {
		code, h, body := do(t, http.DefaultClient, "GET", srv.URL+path, "")
		if code != 200 || body != want || h.Get("Content-Type") != "application/json" {
			t.Errorf("GET %s: %d %s %q\nwant 200 %s", path, code, h.Get("Content-Type"), body, want)
		}
	}
	if s := d.Stats(); s != (Stats{Requests: 2}) {
		t.Errorf("stats %+v", s)
	}
}

// The 401 and the answer to it, computed here step by step as RFC 7616
// §3.4.1 has it.
func TestDigestChallengeAndAnswer(t *testing.T) {
	d, srv := start(t, Options{Password: "s3cret", Seed: 3})
	url := srv.URL + "/rpc/Switch.GetStatus?id=0"
	code, h, body := do(t, http.DefaultClient, "GET", url, "")
	m := regexp.MustCompile(`^Digest qop="auth", realm="shellyplus1pm-a8032ab12345", nonce="(\d+)", algorithm=SHA-256$`).FindStringSubmatch(h.Get("WWW-Authenticate"))
	if code != http.StatusUnauthorized || m == nil || body != "" {
		t.Fatalf("without credentials: %d %q %q", code, h.Get("WWW-Authenticate"), body)
	}
	nonce := m[1]
	answer := func(pass, nc string) string {
		ha1 := sha256Hex("admin:" + ID + ":" + pass)
		ha2 := sha256Hex("GET:/rpc/Switch.GetStatus?id=0")
		resp := sha256Hex(ha1 + ":" + nonce + ":" + nc + ":c" + nc + ":auth:" + ha2)
		return fmt.Sprintf(`Digest username="admin", realm="%s", nonce="%s", uri="/rpc/Switch.GetStatus?id=0", algorithm=SHA-256, qop=auth, nc=%s, cnonce="c%s", response="%s"`, ID, nonce, nc, nc, resp)
	}
	tests := []struct {
		name  string
		auth  string
		code  int
		stale bool
	}{
		{"right", answer("s3cret", "00000001"), 200, false},
		{"next count", answer("s3cret", "00000002"), 200, false},
		{"count replayed", answer("s3cret", "00000002"), 401, false},
		{"wrong password", answer("guess", "00000003"), 401, false},
		{"no qop", strings.Replace(answer("s3cret", "00000004"), "qop=auth, ", "", 1), 401, false},
		{"Basic", "Basic YWRtaW46czNjcmV0", 401, false},
	}
	for _, tt := range tests {
		code, h, body := do(t, http.DefaultClient, "GET", url, "", "Authorization", tt.auth)
		stale := strings.HasSuffix(h.Get("WWW-Authenticate"), ", stale=true")
		if code != tt.code || stale != tt.stale {
			t.Errorf("%s: %d stale %v %q, want %d stale %v", tt.name, code, stale, body, tt.code, tt.stale)
		}
		if code == 200 && !strings.HasPrefix(body, `{"id":0,"source":"init","output":true,"apower":`) {
			t.Errorf("%s: body %s", tt.name, body)
		}
	}
	if s := d.Stats(); s != (Stats{Requests: 7, Unauthorized: 5, Authenticated: 2}) {
		t.Errorf("stats %+v", s)
	}
}

// Polled through the connector's Digest transport: one 401 at the start,
// and one per nonce used up, each answered without a failed sample.
func TestPolledWithDigest(t *testing.T) {
	tests := []struct {
		name      string
		nonceUses int
		advance   time.Duration // the clock, after each request
		want      Stats
	}{
		{"one nonce", 0, time.Second, Stats{Requests: 21, Unauthorized: 1, Authenticated: 20}},
		{"used up after 8", 8, time.Second, Stats{Requests: 23, Unauthorized: 3, Stale: 2, Authenticated: 20}},
		{"expired after an hour", 0, 25 * time.Minute, Stats{Requests: 27, Unauthorized: 7, Stale: 6, Authenticated: 20}}, // every third sample,
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			clk := newClock()
			d, srv := start(t, Options{Password: "s3cret", NonceUses: tt.nonceUses, Now: clk.Now})
			c := digestClient("s3cret")
			for i := range 20 {
				code, _, body := do(t, c, "GET", srv.URL+"/rpc/Switch.GetStatus?id=0", "")
				if code != 200 {
					t.Fatalf("sample %d: %d %s", i+1, code, body)
				}
				clk.advance(tt.advance)
			}
			if s := d.Stats(); s != tt.want {
				t.Errorf("stats %+v, want %+v", s, tt.want)
			}
		})
	}
}

func TestWrongPasswordIsRefused(t *testing.T) {
	d, srv := start(t, Options{Password: "s3cret"})
	code, _, _ := do(t, digestClient("guess"), "GET", srv.URL+"/rpc/Switch.GetStatus?id=0", "")
	if s := d.Stats(); code != 401 || s != (Stats{Requests: 2, Unauthorized: 2}) {
		t.Errorf("got %d %+v, want 401 after 2 requests", code, s)
	}
}

func TestSwitch(t *testing.T) {
	_, srv := start(t, Options{Password: "s3cret", Now: newClock().Now})
	c := digestClient("s3cret")
	status := func() map[string]any {
		t.Helper()
		code, _, body := do(t, c, "GET", srv.URL+"/rpc/Switch.GetStatus?id=0", "")
		var v map[string]any
		if err := json.Unmarshal([]byte(body), &v); err != nil || code != 200 {
			t.Fatalf("status: %d %s", code, body)
		}
		return v
	}
	if s := status(); s["output"] != true || s["apower"].(float64) < 8 {
		t.Errorf("on at start: %v", s)
	}
	steps := []struct {
		name, method, path, body string
		want                     string
	}{
		{"off by POST", "POST", "/rpc/Switch.Set", `{"id":0,"on":false}`, `{"was_on":true}`},
		{"off again", "POST", "/rpc/Switch.Set", `{"id":0,"on":false}`, `{"was_on":false}`},
		{"on by GET", "GET", "/rpc/Switch.Set?id=0&on=true", "", `{"was_on":false}`},
		{"toggle", "POST", "/rpc/Switch.Toggle", `{"id":0}`, `{"was_on":true}`},
		{"frame", "POST", "/rpc", `{"id":7,"src":"connector","method":"Switch.Set","params":{"id":0,"on":true}}`, `{"id":7,"src":"shellyplus1pm-a8032ab12345","dst":"connector","result":{"was_on":false}}`},
	}
	for _, s := range steps {
		code, _, body := do(t, c, s.method, srv.URL+s.path, s.body)
		if code != 200 || body != s.want {
			t.Errorf("%s: %d %s, want 200 %s", s.name, code, body, s.want)
		}
	}
	do(t, c, "POST", srv.URL+"/rpc/Switch.Set", `{"id":0,"on":false}`)
	if s := status(); s["output"] != false || s["apower"] != 0.0 || s["current"] != 0.0 || s["source"] != "HTTP_in" {
		t.Errorf("off: %v", s)
	}
}

func TestRPCErrors(t *testing.T) {
	_, srv := start(t, Options{Password: "s3cret"})
	c := digestClient("s3cret")
	tests := []struct {
		name, method, path, body string
		code                     int
		want                     string
	}{
		{"unknown method", "GET", "/rpc/Cover.GetStatus?id=0", "", 404, `{"code":404,"message":"No handler for Cover.GetStatus"}`},
		{"no such switch", "GET", "/rpc/Switch.GetStatus?id=1", "", 500, `{"code":-105,"message":"Argument 'id', value 1 not found!"}`},
		{"no id", "GET", "/rpc/Switch.GetStatus", "", 500, `{"code":-103,"message":"Missing required argument 'id'!"}`},
		{"no on", "POST", "/rpc/Switch.Set", `{"id":0}`, 500, `{"code":-103,"message":"Missing required argument 'on'!"}`},
		{"on not a boolean", "POST", "/rpc/Switch.Set", `{"id":0,"on":"yes"}`, 500, `{"code":-103,"message":"Argument 'on', expected type boolean!"}`},
		{"frame error", "POST", "/rpc", `{"id":2,"method":"Switch.GetStatus","params":{"id":4}}`, 200, `{"id":2,"src":"shellyplus1pm-a8032ab12345","error":{"code":-105,"message":"Argument 'id', value 4 not found!"}}`},
	}
	for _, tt := range tests {
		code, _, body := do(t, c, tt.method, srv.URL+tt.path, tt.body)
		if code != tt.code || body != tt.want {
			t.Errorf("%s: %d %s, want %d %s", tt.name, code, body, tt.code, tt.want)
		}
	}
}

// The same seed and clock give the same bytes, whatever the
// authentication did in between; another seed gives other readings.
func TestReadingsFollowTheSeed(t *testing.T) {
	samples := func(seed uint64, password string, nonceUses int) []string {
		clk := newClock()
		_, srv := start(t, Options{Password: password, Seed: seed, NonceUses: nonceUses, Now: clk.Now})
		c := digestClient(password)
		var out []string
		for range 10 {
			_, _, body := do(t, c, "GET", srv.URL+"/rpc/Switch.GetStatus?id=0", "")
			out = append(out, body)
			clk.advance(30 * time.Second)
		}
		return out
	}
	a, b, other := samples(5, "s3cret", 0), samples(5, "", 0), samples(6, "s3cret", 3)
	for i := range a {
		if a[i] != b[i] {
			t.Errorf("sample %d differs with authentication:\n%s\n%s", i, a[i], b[i])
		}
	}
	if strings.Join(a, "") == strings.Join(other, "") {
		t.Error("another seed gave the same readings")
	}
	var last struct {
		AEnergy struct {
			Total    float64 `json:"total"`
			MinuteTS int64   `json:"minute_ts"`
		} `json:"aenergy"`
		Temperature struct{ TC, TF float64 } `json:"temperature"`
	}
	json.Unmarshal([]byte(a[9]), &last)
	// 4.5 minutes at about 8.5 W
	if e := last.AEnergy.Total - 1234.567; e < 0.6 || e > 0.7 {
		t.Errorf("energy counted %.3f Wh over 4.5 minutes, want about 0.64", e)
	}
	if last.AEnergy.MinuteTS != time.Date(2025, 6, 1, 12, 5, 0, 0, time.UTC).Unix() {
		t.Errorf("minute_ts %d", last.AEnergy.MinuteTS)
	}
	if last.Temperature.TF != round(last.Temperature.TC*9/5+32, 1) {
		t.Errorf("temperature %+v", last.Temperature)
	}
}

func TestWithoutPassword(t *testing.T) {
	d, srv := start(t, Options{})
	code, _, body := do(t, http.DefaultClient, "GET", srv.URL+"/rpc/Switch.GetStatus?id=0", "")
	if code != 200 || !strings.Contains(body, `"output":true`) {
		t.Errorf("%d %s", code, body)
	}
	_, _, info := do(t, http.DefaultClient, "GET", srv.URL+"/shelly", "")
	if !strings.Contains(info, `"auth_en":false,"auth_domain":null`) {
		t.Errorf("device info %s", info)
	}
	if s := d.Stats(); s != (Stats{Requests: 2}) {
		t.Errorf("stats %+v", s)
	}
}
