package httpauth_test

import (
	"crypto/rand"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"
)

// tokenServer is an OAuth 2.0 authorization server for the client
// credentials grant (RFC 6749 §4.4) with a resource server beside it,
// written independently of package httpauth: client authentication by
// HTTP Basic or form parameters (not both, RFC 6749 §2.3.1), required
// scopes and audience, tokens with expires_in on the server's clock, and
// a resource that answers 401 to an expired or unknown token.
type tokenServer struct {
	clientID, secret string
	lifetime         time.Duration // expires_in of the tokens; 0: none sent
	accept           string        // client authentication accepted: "header", "params" or "" for both
	scope            string        // the scope a request must ask for, if any
	audience         string        // the audience parameter a request must send, if any
	now              func() time.Time
	hold             chan struct{} // if set, token requests wait until it is closed

	mu       sync.Mutex
	tokens   map[string]time.Time // access token → expiry (zero: none)
	issued   []string             // every access token issued
	stats    tokenStats
	problems []string // client mistakes the server noticed
	fail     int      // if set, token requests are answered with this status and an HTML page
}

type tokenStats struct {
	Tokens  int // token requests
	Refused int // token requests refused
	API     int // requests to the resource
	Expired int // resource requests answered 401
}

func newTokenServer(secret string, lifetime time.Duration, now func() time.Time) *tokenServer {
	return &tokenServer{clientID: "connector-hall-3", secret: secret, lifetime: lifetime, now: now, tokens: map[string]time.Time{}}
}

func (s *tokenServer) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/oauth/token":
		s.mu.Lock()
		s.stats.Tokens++
		hold := s.hold
		s.mu.Unlock()
		if hold != nil {
			<-hold
		}
		s.token(w, r)
	case "/api/v1/telemetry":
		s.resource(w, r)
	default:
		http.NotFound(w, r)
	}
}

func (s *tokenServer) token(w http.ResponseWriter, r *http.Request) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.fail != 0 {
		w.Header().Set("Content-Type", "text/html")
		w.WriteHeader(s.fail)
		io.WriteString(w, "<html><body><h1>Service   Unavailable</h1>\n<p>The identity provider is down for maintenance.</p></body></html>")
		return
	}
	if r.Method != http.MethodPost || r.Header.Get("Content-Type") != "application/x-www-form-urlencoded" {
		s.problems = append(s.problems, fmt.Sprintf("token request %s with Content-Type %q", r.Method, r.Header.Get("Content-Type")))
		s.refuse(w, http.StatusBadRequest, "invalid_request", "POST a form")
		return
	}
	if err := r.ParseForm(); err != nil || r.PostForm.Get("grant_type") != "client_credentials" {
		s.refuse(w, http.StatusBadRequest, "unsupported_grant_type", "")
		return
	}
	if code, desc := s.authenticate(r); code != "" {
		s.stats.Refused++
		w.Header().Set("WWW-Authenticate", `Basic realm="token"`)
		s.refuse(w, http.StatusUnauthorized, code, desc)
		return
	}
	if s.scope != "" && r.PostForm.Get("scope") != s.scope {
		s.refuse(w, http.StatusBadRequest, "invalid_scope", fmt.Sprintf("scope %q is not %q", r.PostForm.Get("scope"), s.scope))
		return
	}
	if s.audience != "" && r.PostForm.Get("audience") != s.audience {
		s.refuse(w, http.StatusBadRequest, "invalid_request", "unknown audience")
		return
	}
	tok := rand.Text()
	s.issued = append(s.issued, tok)
	answer := map[string]any{"access_token": tok, "token_type": "bearer"}
	s.tokens[tok] = time.Time{}
	if s.lifetime > 0 {
		s.tokens[tok] = s.now().Add(s.lifetime)
		answer["expires_in"] = int(s.lifetime / time.Second)
	}
	w.Header().Set("Content-Type", "application/json")
	w.Header().Set("Cache-Control", "no-store")
	json.NewEncoder(w).Encode(answer)
}

// authenticate checks the client's credentials; it returns the error code
// and description of a refusal.
func (s *tokenServer) authenticate(r *http.Request) (code, desc string) {
	user, pass, inHeader := r.BasicAuth()
	_, inForm := r.PostForm["client_id"]
	switch {
	case inHeader && inForm:
		return "invalid_request", "more than one client authentication method"
	case inHeader && s.accept != "params":
		user, _ = url.QueryUnescape(user)
		pass, _ = url.QueryUnescape(pass)
	case inForm && s.accept != "header":
		user, pass = r.PostForm.Get("client_id"), r.PostForm.Get("client_secret")
	default:
		return "invalid_client", "Client authentication failed"
	}
	if user != s.clientID || pass != s.secret {
		return "invalid_client", "Client authentication failed"
	}
	return "", ""
}

func (s *tokenServer) refuse(w http.ResponseWriter, status int, code, desc string) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]string{"error": code, "error_description": desc})
}

// resource answers with the request's body, for a valid token.
func (s *tokenServer) resource(w http.ResponseWriter, r *http.Request) {
	body, _ := io.ReadAll(r.Body)
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.API++
	tok, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	exp, known := s.tokens[tok]
	if !ok || !known || !exp.IsZero() && !s.now().Before(exp) {
		s.stats.Expired++
		w.Header().Set("WWW-Authenticate", `Bearer error="invalid_token"`)
		http.Error(w, `{"error":"invalid_token"}`, http.StatusUnauthorized)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprintf(w, `{"temperature":21.5,"echo":%q}`, body)
}

// revoke forgets every token, as a restarted server does.
func (s *tokenServer) revoke() {
	s.mu.Lock()
	clear(s.tokens)
	s.mu.Unlock()
}

func (s *tokenServer) snapshot() tokenStats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

func (s *tokenServer) set(f func(s *tokenServer)) {
	s.mu.Lock()
	f(s)
	s.mu.Unlock()
}
