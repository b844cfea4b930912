package statuspage

import (
	"encoding/json"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
)

func TestSecurityHeaders(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	tests := []struct {
		method, path string
		status       int
		contentType  string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8"},
		{"GET", "/app.js", 200, "text/javascript; charset=utf-8"},
		{"GET", "/style.css", 200, "text/css; charset=utf-8"},
		{"GET", "/favicon.svg", 200, "image/svg+xml"},
		{"GET", "/api/datasets", 200, "application/json"},
		{"GET", "/api/connector", 200, "application/json"},
		{"GET", "/api/mappings", 200, "application/json"},
		{"GET", "/api/nope", 404, "application/json"},
		{"GET", "/nope", 404, "text/plain; charset=utf-8"},
		{"POST", "/api/try", 415, "application/json"},
	}
	for _, tt := range tests {
		rec := httptest.NewRecorder()
		page.ServeHTTP(rec, localRequest(tt.method, tt.path, nil))
		h := rec.Header()
		if rec.Code != tt.status || h.Get("Content-Type") != tt.contentType {
			t.Errorf("%s %s: %d %q, want %d %q", tt.method, tt.path, rec.Code, h.Get("Content-Type"), tt.status, tt.contentType)
		}
		if got := h.Get("Content-Security-Policy"); got != contentSecurityPolicy || !strings.HasPrefix(got, "default-src 'self'; script-src 'self';") {
			t.Errorf("%s %s: Content-Security-Policy %q", tt.method, tt.path, got)
		}
		if got := h.Get("X-Content-Type-Options"); got != "nosniff" {
			t.Errorf("%s %s: X-Content-Type-Options %q, want nosniff", tt.method, tt.path, got)
		}
		if got := h.Get("X-Frame-Options"); got != "DENY" {
			t.Errorf("%s %s: X-Frame-Options %q, want DENY", tt.method, tt.path, got)
		}
	}
}

func TestWrongMethod(t *testing.T) {
	page := New(newFake(t), Options{})
	defer page.Close()
	for _, tt := range []struct{ method, path, allow, want string }{
		{"GET", "/api/try", "POST", "GET /api/try: use POST"},
		{"POST", "/api/datasets", "GET", "POST /api/datasets: use GET"},
		{"DELETE", "/", "GET", "DELETE /: use GET"},
	} {
		var e apiError
		code, h := call(t, page, tt.method, tt.path, "", &e)
		if code != http.StatusMethodNotAllowed || h.Get("Allow") != tt.allow || e.Error != tt.want {
			t.Errorf("%s %s: %d, Allow %q, %q; want 405, %q, %q", tt.method, tt.path, code, h.Get("Allow"), e.Error, tt.allow, tt.want)
		}
	}
}

// A web page that points its own name at the connector (DNS rebinding)
// is refused, every request; the names the operator uses are not.
func TestUnknownHostRefused(t *testing.T) {
	page := New(newFake(t, healthy()), Options{Hosts: []string{"connector.plant.example"}})
	defer page.Close()
	for _, tt := range []struct {
		host   string
		status int
	}{
		{"127.0.0.1:8080", 200},
		{"[::1]:8080", 200},
		{"10.1.2.3", 200},
		{"localhost:8080", 200},
		{"LOCALHOST", 200},
		{"connector.plant.example:8443", 200},
		{"Connector.Plant.Example.", 200},
		{"attacker.example:8080", 403},
		{"connector.plant.example.attacker.example", 403},
	} {
		for _, path := range []string{"/", "/api/datasets"} {
			req := localRequest("GET", path, nil)
			req.Host = tt.host
			rec := httptest.NewRecorder()
			page.ServeHTTP(rec, req)
			if rec.Code != tt.status {
				t.Errorf("Host %s, %s: %d, want %d", tt.host, path, rec.Code, tt.status)
			}
			if tt.status == 403 && !strings.Contains(rec.Body.String(), "is not one the status page answers to") {
				t.Errorf("Host %s: %s", tt.host, rec.Body)
			}
		}
	}
}

// The page is static: no data in the HTML, no inline script or style, no
// other origin; the script puts data in the page as text only.
func TestPageShowsDataAsTextOnly(t *testing.T) {
	html, err := fs.ReadFile(staticFiles, "static/index.html")
	if err != nil {
		t.Fatal(err)
	}
	js, err := fs.ReadFile(staticFiles, "static/app.js")
	if err != nil {
		t.Fatal(err)
	}
	for _, tt := range []struct {
		what string
		in   []byte
		bad  *regexp.Regexp
	}{
		{"inline script", html, regexp.MustCompile(`<script(?:\s[^>]*)?>[^<]`)},
		{"inline style", html, regexp.MustCompile(`(?i)<style|\sstyle=`)},
		{"event handler attribute", html, regexp.MustCompile(`(?i)\son[a-z]+=`)},
		{"other origin", html, regexp.MustCompile(`(?i)(src|href)="(https?:)?//`)},
		{"HTML from data", js, regexp.MustCompile(`innerHTML|outerHTML|insertAdjacentHTML|document\.write|\beval\(|new Function`)},
	} {
		if m := tt.bad.Find(tt.in); m != nil {
			t.Errorf("%s: %q", tt.what, m)
		}
	}
	scripts := regexp.MustCompile(`<script[^>]*>`).FindAll(html, -1)
	if len(scripts) != 1 || !strings.Contains(string(scripts[0]), ` src="app.js"`) {
		t.Errorf("scripts: %q, want only app.js", scripts)
	}
}

// A name that is HTML comes back as the same text, encoded so that no
// browser reads it as markup (the browser test checks the page shows it
// as text).
func TestHTMLInNamesStaysText(t *testing.T) {
	evil := healthy()
	evil.Asset, evil.Dataset = `<img src=x onerror=alert(1)>`, `</script><script>alert(2)</script>`
	page := New(newFake(t, evil), Options{})
	defer page.Close()
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, localRequest("GET", "/api/datasets", nil))
	if strings.ContainsAny(rec.Body.String(), "<>") {
		t.Errorf("the JSON has raw < or >: %s", rec.Body)
	}
	var l listed
	if err := json.Unmarshal(rec.Body.Bytes(), &l); err != nil {
		t.Fatal(err)
	}
	if l.Rows[0].Asset != evil.Asset || l.Rows[0].Dataset != evil.Dataset {
		t.Errorf("got %q %q, want the names as they are", l.Rows[0].Asset, l.Rows[0].Dataset)
	}
}
