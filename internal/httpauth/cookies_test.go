package httpauth_test

import (
	"io"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/httpauth"
)

// A session cookie the router sets on login is carried by the next
// requests, next to a cookie the request brings itself.
func TestCookiesAreCarried(t *testing.T) {
	rt := newRouter("s3cret-pass", 0, time.Now)
	srv := serve(t, rt)
	tr := httpauth.NewCookies(srv.Client().Transport, nil)

	if code, _ := do(t, tr, "GET", srv.URL+"/api/status", ""); code != http.StatusUnauthorized {
		t.Fatalf("before the login: HTTP %d, want 401", code)
	}
	form := url.Values{"username": {"admin"}, "password": {"s3cret-pass"}}.Encode()
	req, _ := http.NewRequest("POST", srv.URL+"/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusSeeOther {
		t.Fatalf("login: HTTP %d, want 303", resp.StatusCode)
	}

	req, _ = http.NewRequest("GET", srv.URL+"/api/status", nil)
	req.AddCookie(&http.Cookie{Name: "lang", Value: "de"})
	got, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("after the login: %v", err)
	}
	defer got.Body.Close()
	if got.StatusCode != http.StatusOK {
		t.Fatalf("after the login: HTTP %d, want 200", got.StatusCode)
	}
	if c := req.Header.Get("Cookie"); c != "lang=de" {
		t.Errorf("the caller's request was changed: Cookie %q", c)
	}
	body, _ := io.ReadAll(got.Body)
	if want := `{"uptime":2,"lang":"de"}`; string(body) != want {
		t.Errorf("body %s, want %s (the request's own cookie kept)", body, want)
	}
}

// Cookies stay with the device that set them: another device, at
// another address, is not sent them.
func TestCookiesStayWithTheirHost(t *testing.T) {
	a := newRouter("pass-a-1234", 0, time.Now)
	srvA := serve(t, a)
	var seen []string
	srvB := serveOn(t, "127.0.0.2", http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		seen = append(seen, r.Header.Get("Cookie"))
	}))
	jar, _ := cookiejar.New(nil)
	tr := httpauth.NewCookies(nil, jar)
	form := url.Values{"username": {"admin"}, "password": {"pass-a-1234"}}.Encode()
	req, _ := http.NewRequest("POST", srvA.URL+"/login", strings.NewReader(form))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	resp, err := tr.RoundTrip(req)
	if err != nil {
		t.Fatalf("login: %v", err)
	}
	resp.Body.Close()

	u, _ := url.Parse(srvA.URL)
	if cs := jar.Cookies(u); len(cs) != 1 || cs[0].Name != "SID" {
		t.Fatalf("jar holds %v for the router, want its SID", cs)
	}
	do(t, tr, "GET", srvB.URL+"/", "")
	if len(seen) != 1 || seen[0] != "" {
		t.Errorf("the other device got Cookie %q, want none", seen)
	}
}
