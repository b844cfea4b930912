package digest_test

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/digest"
)

// serve starts d on a loopback server.
func serve(t *testing.T, d http.Handler) *httptest.Server {
	t.Helper()
	srv := httptest.NewServer(d)
	t.Cleanup(srv.Close)
	return srv
}

// clientFor is an http.Client authenticating as admin with pass.
func clientFor(pass string) (*http.Client, *digest.Transport) {
	tr := &digest.Transport{Credentials: digest.Credentials{Username: "admin", Password: pass}.Get}
	return &http.Client{Transport: tr, Timeout: 10 * time.Second}, tr
}

// get fetches url and returns the status and body.
func get(t *testing.T, c *http.Client, url string) (int, string) {
	t.Helper()
	resp, err := c.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: read the body: %v", url, err)
	}
	return resp.StatusCode, string(b)
}

func wantStats(t *testing.T, d *device, want deviceStats) {
	t.Helper()
	if got, _ := d.snapshot(); got != want {
		t.Errorf("device saw %+v, want %+v", got, want)
	}
	d.check(t)
}

// The first request is challenged and answered once; the requests after
// it reuse the nonce: one 401 in all.
func TestFirstRequestIsChallengedThenAnswered(t *testing.T) {
	tests := []struct {
		name      string
		algorithm string
		qop       string
	}{
		{"MD5 qop=auth", "MD5", "auth"},
		{"MD5 without algorithm parameter", "", "auth"},
		{"SHA-256 qop=auth", "SHA-256", "auth"},
		{"MD5-sess", "MD5-sess", "auth"},
		{"SHA-256-sess", "SHA-256-sess", "auth"},
		{"SHA-256 auth offered with auth-int", "SHA-256", "auth,auth-int"},
		{"SHA-256 auth-int", "SHA-256", "auth-int"},
		{"MD5 without qop, RFC 2069", "MD5", ""},
		{"SHA-256 without qop", "SHA-256", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			d := newDevice("s3cret")
			d.algorithm, d.qop = tt.algorithm, tt.qop
			srv := serve(t, d)
			c, _ := clientFor("s3cret")
			for i := range 6 {
				if code, body := get(t, c, srv.URL+"/rpc/Switch.GetStatus?id=0"); code != 200 || body != "ok" {
					t.Fatalf("GET %d: %d %q, want 200 ok", i+1, code, body)
				}
			}
			wantStats(t, d, deviceStats{Requests: 7, Unauthorized: 1, OK: 6})
		})
	}
}

// Steady polling: one 401 at the start, then one request per sample, with
// nonce counts 1, 2, 3 … and a fresh client nonce each time (the device
// refuses a client nonce used twice).
func TestPollingReusesTheNonce(t *testing.T) {
	d := newDevice("s3cret")
	srv := serve(t, d)
	c, _ := clientFor("s3cret")
	for range 20 {
		if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	wantStats(t, d, deviceStats{Requests: 21, Unauthorized: 1, OK: 20})
	got := d.ncsOf(0)
	for i, nc := range got {
		if nc != uint64(i+1) {
			t.Fatalf("nonce counts %v, want 1 … 20", got)
		}
	}
}

// An expired nonce is renewed without the request failing.
func TestStaleNonceIsRenewed(t *testing.T) {
	t.Run("after a number of uses", func(t *testing.T) {
		d := newDevice("s3cret")
		d.maxUses = 5
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		for i := range 12 {
			if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
				t.Fatalf("GET %d: status %d", i+1, code)
			}
		}
		// 12 served; the 6th and 11th first met a stale nonce
		wantStats(t, d, deviceStats{Requests: 15, Unauthorized: 3, Stale: 2, OK: 12})
		if got := d.ncsOf(1); len(got) != 5 || got[0] != 1 || got[4] != 5 {
			t.Errorf("the renewed nonce was counted %v, want 1 … 5", got)
		}
	})
	t.Run("after a time", func(t *testing.T) {
		d := newDevice("s3cret")
		d.maxAge = time.Minute
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		for i := range 6 {
			if i == 3 {
				d.advance(2 * time.Minute)
			}
			if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
				t.Fatalf("GET %d: status %d", i+1, code)
			}
		}
		wantStats(t, d, deviceStats{Requests: 8, Unauthorized: 2, Stale: 1, OK: 6})
	})
	t.Run("unknown to a restarted device", func(t *testing.T) {
		d := newDevice("s3cret")
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		get(t, c, srv.URL+"/status")
		d.mu.Lock()
		clear(d.nonces) // the device restarted
		d.mu.Unlock()
		if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
			t.Fatalf("status %d", code)
		}
		wantStats(t, d, deviceStats{Requests: 4, Unauthorized: 2, Stale: 1, OK: 2})
	})
}

// A wrong password gives the device's 401, once per request: no loop.
func TestWrongPasswordIsRefusedOnce(t *testing.T) {
	d := newDevice("s3cret")
	srv := serve(t, d)
	c, _ := clientFor("guess")
	for i := range 2 {
		code, body := get(t, c, srv.URL+"/status")
		if code != http.StatusUnauthorized || body != "401 Unauthorized\n" {
			t.Fatalf("GET %d: %d %q, want the device's 401", i+1, code, body)
		}
	}
	// each GET: sent as is, challenged, answered, refused
	wantStats(t, d, deviceStats{Requests: 4, Unauthorized: 4, Refused: 2})
}

// A kept challenge refused (the password changed on the device) is
// answered once more with the credentials read again, so a rotated
// secret applies at the next sample.
func TestRotatedPassword(t *testing.T) {
	d := newDevice("old")
	srv := serve(t, d)
	var mu sync.Mutex
	pass := "old"
	tr := &digest.Transport{Credentials: func() (string, string, error) {
		mu.Lock()
		defer mu.Unlock()
		return "admin", pass, nil
	}}
	c := &http.Client{Transport: tr}
	if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
		t.Fatalf("status %d", code)
	}
	d.setPassword("new")
	if code, _ := get(t, c, srv.URL+"/status"); code != http.StatusUnauthorized {
		t.Fatalf("with the old password: %d, want 401", code)
	}
	mu.Lock()
	pass = "new"
	mu.Unlock()
	if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
		t.Fatalf("with the new password: %d, want 200", code)
	}
	// 2 to start; the kept challenge refused, the fresh one too; then sent
	// as is, challenged, answered
	wantStats(t, d, deviceStats{Requests: 6, Unauthorized: 4, Refused: 2, OK: 2})

	// both rotated between two samples: one request refused, one served
	d.setPassword("newer")
	mu.Lock()
	pass = "newer"
	mu.Unlock()
	if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
		t.Fatalf("after rotation: %d, want 200", code)
	}
	wantStats(t, d, deviceStats{Requests: 8, Unauthorized: 5, Refused: 3, OK: 3})
}

// Several samplers share one endpoint: every request succeeds and no
// nonce count is used twice (the device refuses a repeat).
func TestConcurrentRequests(t *testing.T) {
	const goroutines, each = 8, 25
	run := func(t *testing.T, c *http.Client, url string) {
		t.Helper()
		var wg sync.WaitGroup
		errs := make(chan error, goroutines*each)
		for range goroutines {
			wg.Go(func() {
				for range each {
					resp, err := c.Get(url)
					if err != nil {
						errs <- err
						continue
					}
					io.Copy(io.Discard, resp.Body)
					resp.Body.Close()
					if resp.StatusCode != 200 {
						errs <- fmt.Errorf("status %d", resp.StatusCode)
					}
				}
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
	}
	t.Run("sharing a nonce", func(t *testing.T) {
		d := newDevice("s3cret")
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		get(t, c, srv.URL+"/status")
		run(t, c, srv.URL+"/status")
		wantStats(t, d, deviceStats{Requests: 1 + 1 + goroutines*each, Unauthorized: 1, OK: 1 + goroutines*each})
		if n := len(d.ncsOf(0)); n != 1+goroutines*each {
			t.Errorf("%d distinct nonce counts, want %d", n, 1+goroutines*each)
		}
	})
	t.Run("starting together", func(t *testing.T) {
		d := newDevice("s3cret")
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		run(t, c, srv.URL+"/status")
		st, _ := d.snapshot()
		if st.OK != goroutines*each || st.Unauthorized < 1 || st.Unauthorized > goroutines || st.Refused != 0 {
			t.Errorf("device saw %+v: want %d served after 1 to %d challenges", st, goroutines*each, goroutines)
		}
		d.check(t)
	})
	t.Run("the nonce going stale in flight", func(t *testing.T) {
		d := newDevice("s3cret")
		d.maxAge = time.Minute
		srv := serve(t, d)
		c, _ := clientFor("s3cret")
		get(t, c, srv.URL+"/status")
		run(t, c, srv.URL+"/status")
		d.advance(2 * time.Minute)
		run(t, c, srv.URL+"/status")
		st, _ := d.snapshot()
		if st.OK != 1+2*goroutines*each || st.Stale < 1 || st.Stale > goroutines || st.Refused != 0 {
			t.Errorf("device saw %+v: want %d served after 1 to %d stale answers", st, 1+2*goroutines*each, goroutines)
		}
		d.check(t)
	})
}

// A body is sent again with the answer to a challenge, and hashed for
// auth-int.
func TestBodiesAreSentAgain(t *testing.T) {
	for _, qop := range []string{"auth", "auth-int"} {
		t.Run(qop, func(t *testing.T) {
			d := newDevice("s3cret")
			d.qop = qop
			srv := serve(t, d)
			c, _ := clientFor("s3cret")
			for _, body := range []string{`{"id":0,"on":false}`, `{"id":0,"on":true}`, ``} {
				resp, err := c.Post(srv.URL+"/rpc/Switch.Set", "application/json", strings.NewReader(body))
				if err != nil {
					t.Fatal(err)
				}
				echo, _ := io.ReadAll(resp.Body)
				resp.Body.Close()
				if resp.StatusCode != 200 || string(echo) != body {
					t.Errorf("POST %q: %d %q", body, resp.StatusCode, echo)
				}
			}
			wantStats(t, d, deviceStats{Requests: 4, Unauthorized: 1, OK: 3})
		})
	}
}

func TestBodyThatCannotBeSentAgain(t *testing.T) {
	d := newDevice("s3cret")
	srv := serve(t, d)
	_, tr := clientFor("s3cret")
	body := &closeCounter{Reader: strings.NewReader(`{"on":true}`)}
	req, _ := http.NewRequest("POST", srv.URL+"/rpc/Switch.Set?x=secret", body)
	req.GetBody = nil
	_, err := tr.RoundTrip(req)
	want := "digest: POST " + srv.URL + "/rpc/Switch.Set: the body cannot be sent again after a challenge: the request has no GetBody"
	if err == nil || err.Error() != want {
		t.Errorf("got %v\nwant %s", err, want)
	}
	if body.closed != 1 {
		t.Errorf("body closed %d times, want 1", body.closed)
	}
	wantStats(t, d, deviceStats{})
}

type closeCounter struct {
	io.Reader
	closed int
}

func (c *closeCounter) Close() error { c.closed++; return nil }

// Challenges the transport cannot answer are errors naming the step; a 401
// without any Digest challenge is not the transport's and is returned.
func TestChallengeErrors(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		want    string // error after "digest: challenge from <url>: "
	}{
		{"unsupported algorithm", []string{`Digest realm="r", nonce="n", algorithm=SHA-512, qop="auth"`}, `unsupported algorithm "SHA-512"`},
		{"unsupported qop", []string{`Digest realm="r", nonce="n", qop="auth-conf"`}, `unsupported qop "auth-conf"`},
		{"no nonce", []string{`Digest realm="r", qop="auth"`}, `missing nonce`},
		{"malformed", []string{`Digest realm="r, nonce="n"`}, `WWW-Authenticate "Digest realm=\"r, nonce=\"n\"": malformed header at offset 24: expected a comma, found 'n'`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				w.Header()["Www-Authenticate"] = tt.headers
				w.WriteHeader(http.StatusUnauthorized)
			}))
			_, tr := clientFor("s3cret")
			req, _ := http.NewRequest("GET", srv.URL+"/rpc/x?token=abc", nil)
			resp, err := tr.RoundTrip(req)
			want := "digest: challenge from " + srv.URL + "/rpc/x: " + tt.want
			if err == nil || err.Error() != want {
				t.Errorf("got %v\nwant %s", err, want)
			}
			if resp != nil {
				t.Errorf("a response with the error: %d", resp.StatusCode)
			}
		})
	}
	t.Run("Basic only", func(t *testing.T) {
		requests := 0
		srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			requests++
			w.Header().Set("WWW-Authenticate", `Basic realm="r"`)
			http.Error(w, "no", http.StatusUnauthorized)
		}))
		c, _ := clientFor("s3cret")
		if code, body := get(t, c, srv.URL+"/"); code != 401 || body != "no\n" || requests != 1 {
			t.Errorf("got %d %q after %d requests, want the 401 after 1", code, body, requests)
		}
	})
}

var errSealed = errors.New("vault sealed")

func TestCredentialsError(t *testing.T) {
	d := newDevice("s3cret")
	srv := serve(t, d)
	tr := &digest.Transport{Credentials: func() (string, string, error) { return "", "", errSealed }}
	req, _ := http.NewRequest("GET", srv.URL+"/status", nil)
	_, err := tr.RoundTrip(req)
	want := "digest: credentials for " + srv.URL + "/status: vault sealed"
	if err == nil || err.Error() != want || !errors.Is(err, errSealed) {
		t.Errorf("got %v, want %s wrapping errSealed", err, want)
	}

	tr = &digest.Transport{}
	if _, err := tr.RoundTrip(req); err == nil || !strings.Contains(err.Error(), "no Credentials function") {
		t.Errorf("without Credentials: %v", err)
	}
}

// Two realms on one origin, each announcing its domain: each keeps its
// challenge, so alternating between them costs no 401 after the first two.
func TestProtectionSpacesByDomain(t *testing.T) {
	a, b := newDevice("s3cret"), newDevice("s3cret")
	a.realm, a.domain = "A", "/a/"
	b.realm, b.domain = "B", "/b/"
	mux := http.NewServeMux()
	mux.Handle("/a/", a)
	mux.Handle("/b/", b)
	srv := serve(t, mux)
	c, _ := clientFor("s3cret")
	for range 5 {
		for _, p := range []string{"/a/x", "/b/y"} {
			if code, _ := get(t, c, srv.URL+p); code != 200 {
				t.Fatalf("GET %s: %d", p, code)
			}
		}
	}
	wantStats(t, a, deviceStats{Requests: 6, Unauthorized: 1, OK: 5})
	wantStats(t, b, deviceStats{Requests: 6, Unauthorized: 1, OK: 5})
}

// A nextnonce in Authentication-Info is taken for the next request.
func TestNextNonce(t *testing.T) {
	d := newDevice("s3cret")
	d.nextNonce = true
	srv := serve(t, d)
	c, _ := clientFor("s3cret")
	for range 4 {
		if code, _ := get(t, c, srv.URL+"/status"); code != 200 {
			t.Fatalf("status %d", code)
		}
	}
	wantStats(t, d, deviceStats{Requests: 5, Unauthorized: 1, OK: 4})
	for i := range 4 {
		if got := d.ncsOf(i); len(got) != 1 || got[0] != 1 {
			t.Errorf("nonce %d was counted %v, want once with nc 1", i, got)
		}
	}
}

// A request that brings its own Authorization is the caller's business.
func TestOwnAuthorizationPassesThrough(t *testing.T) {
	var seen []string
	srv := serve(t, http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Authorization"))
		w.Header().Set("WWW-Authenticate", `Digest realm="r", nonce="n"`)
		w.WriteHeader(http.StatusUnauthorized)
	}))
	_, tr := clientFor("s3cret")
	req, _ := http.NewRequest("GET", srv.URL+"/", nil)
	req.Header.Set("Authorization", "Bearer t0ken")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != 401 || len(seen) != 1 || seen[0] != "Bearer t0ken" {
		t.Errorf("got %d after %q, want the 401 after the one request as given", resp.StatusCode, seen)
	}
}

// Neither the password nor what is derived from it shows, however the
// credentials or the transport are printed, marshalled or logged.
func TestSecretsDoNotShow(t *testing.T) {
	const pass = "pa55-w0rd"
	cr := digest.Credentials{Username: "admin", Password: pass}
	var out []string
	for _, f := range []string{"%v", "%+v", "%#v", "%s", "%q", "%x", "%10.3s"} {
		out = append(out, fmt.Sprintf(f, cr), fmt.Sprintf(f, &cr), fmt.Sprintf(f, []any{cr}))
	}
	j, _ := json.Marshal(map[string]any{"c": cr})
	out = append(out, string(j))
	var logged bytes.Buffer
	slog.New(slog.NewJSONHandler(&logged, nil)).Info("x", "credentials", cr)
	slog.New(slog.NewTextHandler(&logged, nil)).Info("x", "credentials", cr)
	out = append(out, logged.String())

	d := newDevice(pass)
	srv := serve(t, d)
	c, tr := clientFor(pass)
	get(t, c, srv.URL+"/status")
	sum := sha256.Sum256([]byte("admin:" + d.realm + ":" + pass))
	ha1 := hex.EncodeToString(sum[:])
	for _, f := range []string{"%v", "%+v", "%#v", "%s"} {
		out = append(out, fmt.Sprintf(f, tr), fmt.Sprintf(f, c))
	}
	for _, s := range out {
		if strings.Contains(s, pass) || strings.Contains(s, ha1) {
			t.Errorf("secret shows in %s", s)
		}
	}
	if got := fmt.Sprintf("%v", cr); got != `Credentials{username:"admin" password:<redacted>}` {
		t.Errorf("%%v: got %s", got)
	}
	var back map[string]map[string]string
	if err := json.Unmarshal(j, &back); err != nil || back["c"]["username"] != "admin" || back["c"]["password"] != "<redacted>" {
		t.Errorf("JSON: got %s", j)
	}
	if got := fmt.Sprint(tr); got != "digest.Transport{protection spaces: 1}" {
		t.Errorf("transport: got %s", got)
	}
}
