package httpauth_test

import (
	"crypto/rand"
	"fmt"
	"net/http"
	"sync"
	"time"
)

// router is the web UI of a home router or a solar inverter: a form login
// that sets a session cookie and redirects to the start page, sessions
// that expire on the router's clock, and pages that answer 401 without a
// valid session. Written independently of package httpauth.
type router struct {
	user, password string
	ttl            time.Duration // a session expires this long after the login; 0: never
	cookiePath     string        // the Path of the session cookie; "": /
	now            func() time.Time

	mu       sync.Mutex
	sessions map[string]time.Time // cookie value → expiry
	logins   int                  // login attempts
	refused  int                  // login attempts with wrong credentials
	pages    int                  // requests to pages other than the login
	cookies  []string             // every session cookie value handed out
	problems []string             // client mistakes the router noticed
}

func newRouter(password string, ttl time.Duration, now func() time.Time) *router {
	return &router{user: "admin", password: password, ttl: ttl, now: now, sessions: map[string]time.Time{}}
}

func (rt *router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/login":
		rt.login(w, r)
	case "/index.html", "/api/status":
		rt.page(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (rt *router) login(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.logins++
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		rt.problems = append(rt.problems, fmt.Sprintf("login %s with Content-Type %q", r.Method, r.Header.Get("Content-Type")))
		http.Error(w, "bad request", http.StatusBadRequest)
		return
	}
	if r.PostFormValue("username") != rt.user || r.PostFormValue("password") != rt.password {
		rt.refused++
		// Some firmwares echo what they were sent; the client must not show it.
		w.WriteHeader(http.StatusUnauthorized)
		fmt.Fprintf(w, "<html><body>Wrong password %q for user %q</body></html>", r.PostFormValue("password"), r.PostFormValue("username"))
		return
	}
	sid := rand.Text()
	rt.cookies = append(rt.cookies, sid)
	exp := time.Time{}
	if rt.ttl > 0 {
		exp = rt.now().Add(rt.ttl)
	}
	rt.sessions[sid] = exp
	if rt.cookiePath != "" {
		http.SetCookie(w, &http.Cookie{Name: "SID", Value: sid, Path: rt.cookiePath, HttpOnly: true})
		w.WriteHeader(http.StatusNoContent)
		return
	}
	http.SetCookie(w, &http.Cookie{Name: "SID", Value: sid, Path: "/", HttpOnly: true})
	http.Redirect(w, r, "/index.html", http.StatusSeeOther)
}

func (rt *router) page(w http.ResponseWriter, r *http.Request) {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	rt.pages++
	c, err := r.Cookie("SID")
	if err != nil {
		http.Error(w, "login required", http.StatusUnauthorized)
		return
	}
	exp, ok := rt.sessions[c.Value]
	if !ok || !exp.IsZero() && !rt.now().Before(exp) {
		delete(rt.sessions, c.Value)
		http.Error(w, "session expired", http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"uptime":%d,"lang":%q}`, rt.pages, cookieValue(r, "lang"))
}

func cookieValue(r *http.Request, name string) string {
	if c, err := r.Cookie(name); err == nil {
		return c.Value
	}
	return ""
}

type routerStats struct{ Logins, Refused, Pages int }

func (rt *router) stats() routerStats {
	rt.mu.Lock()
	defer rt.mu.Unlock()
	return routerStats{rt.logins, rt.refused, rt.pages}
}
