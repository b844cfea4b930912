package httpauth_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"time"
)

// gateway is the JSON API of an energy gateway, written independently of
// package httpauth: POST /api/auth with JSON credentials answers HTTP 200
// either way, {"status":"ok","data":{"token":T,"expiresIn":300}} with the
// token also in X-Session-Token, or {"status":"error","message":M}. The
// token goes back in X-Session-Token or the query parameter token, and
// expires 300 s after the login on the gateway's clock: 403 after that.
type gateway struct {
	user, password string
	lifetime       time.Duration
	now            func() time.Time

	mu     sync.Mutex
	tokens map[string]time.Time // token → expiry
	issued []string
	stats  gatewayStats
}

type gatewayStats struct {
	Logins  int
	Values  int // requests for values
	Expired int // answered 403
}

func newGateway(password string, now func() time.Time) *gateway {
	return &gateway{user: "installer", password: password, lifetime: 300 * time.Second, now: now, tokens: map[string]time.Time{}}
}

func (g *gateway) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	g.mu.Lock()
	defer g.mu.Unlock()
	w.Header().Set("Content-Type", "application/json")
	switch r.URL.Path {
	case "/api/auth":
		g.stats.Logins++
		var c struct{ User, Pass string }
		if r.Header.Get("Content-Type") != "application/json" || json.NewDecoder(r.Body).Decode(&c) != nil {
			w.WriteHeader(http.StatusBadRequest)
			fmt.Fprint(w, `{"status":"error","message":"Bad request"}`)
			return
		}
		if c.User != g.user || c.Pass != g.password {
			fmt.Fprint(w, `{"status":"error","message":"Invalid credentials"}`)
			return
		}
		tok := rand.Text()
		g.issued = append(g.issued, tok)
		g.tokens[tok] = g.now().Add(g.lifetime)
		w.Header().Set("X-Session-Token", tok)
		fmt.Fprintf(w, `{"status":"ok","data":{"token":%q,"expiresIn":%d}}`, tok, int(g.lifetime/time.Second))
	case "/api/values":
		g.stats.Values++
		tok := r.Header.Get("X-Session-Token")
		if tok == "" {
			tok = r.URL.Query().Get("token")
		}
		if exp, ok := g.tokens[tok]; !ok || !g.now().Before(exp) {
			g.stats.Expired++
			w.WriteHeader(http.StatusForbidden)
			fmt.Fprint(w, `{"status":"error","message":"Session expired"}`)
			return
		}
		fmt.Fprintf(w, `{"power":1234,"params":%q}`, paramOrder(r.URL.RawQuery))
	default:
		http.NotFound(w, r)
	}
}

// paramOrder is the names of the query parameters in the order sent.
func paramOrder(raw string) string {
	var names []string
	for p := range strings.SplitSeq(raw, "&") {
		name, _, _ := strings.Cut(p, "=")
		names = append(names, name)
	}
	return strings.Join(names, ",")
}

func (g *gateway) snapshot() gatewayStats {
	g.mu.Lock()
	defer g.mu.Unlock()
	return g.stats
}
