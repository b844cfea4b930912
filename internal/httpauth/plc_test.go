package httpauth_test

import (
	"crypto/rand"
	"encoding/json"
	"net/http"
	"sync"
	"time"
)

// plc is the Web API of a Siemens S7-1500 CPU, written independently of
// package httpauth: JSON-RPC 2.0 over POST /api/jsonrpc, Api.Login giving
// a token, the token sent back in X-Auth-Token, tokens that expire after
// 120 s without use, and every answer HTTP 200, errors included: 100
// "Login failed" for wrong credentials, 2 "Permission denied" for a
// missing or expired token.
type plc struct {
	user, password string
	idle           time.Duration // a token expires after this long unused
	now            func() time.Time
	hold           chan struct{} // if set, logins wait until it is closed

	mu       sync.Mutex
	tokens   map[string]time.Time // token → last use
	issued   []string
	stats    plcStats
	problems []string
}

type plcStats struct {
	Logins  int // Api.Login calls
	Refused int // Api.Login calls with wrong credentials
	Reads   int // PlcProgram.Read calls
	Denied  int // calls answered "Permission denied"
}

func newPLC(password string, now func() time.Time) *plc {
	return &plc{user: "connector", password: password, idle: 120 * time.Second, now: now, tokens: map[string]time.Time{}}
}

type rpcRequest struct {
	JSONRPC string          `json:"jsonrpc"`
	Method  string          `json:"method"`
	Params  json.RawMessage `json:"params"`
	ID      any             `json:"id"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (p *plc) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	var req rpcRequest
	if r.URL.Path != "/api/jsonrpc" || r.Method != http.MethodPost {
		http.NotFound(w, r)
		return
	}
	if err := json.NewDecoder(r.Body).Decode(&req); err != nil || req.JSONRPC != "2.0" {
		p.problem("not a JSON-RPC 2.0 request")
		p.answer(w, req.ID, nil, &rpcError{-32700, "Parse error"})
		return
	}
	if req.Method == "Api.Login" {
		p.mu.Lock()
		p.stats.Logins++
		hold := p.hold
		p.mu.Unlock()
		if hold != nil {
			<-hold
		}
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	switch req.Method {
	case "Api.Login":
		p.login(w, req)
	case "PlcProgram.Read":
		p.stats.Reads++
		if !p.authorized(r.Header.Get("X-Auth-Token")) {
			p.stats.Denied++
			p.answer(w, req.ID, nil, &rpcError{2, "Permission denied"})
			return
		}
		p.answer(w, req.ID, 21.5, nil)
	default:
		p.answer(w, req.ID, nil, &rpcError{-32601, "Method not found"})
	}
}

func (p *plc) login(w http.ResponseWriter, req rpcRequest) {
	var params struct{ User, Password string }
	if err := json.Unmarshal(req.Params, &params); err != nil {
		p.answer(w, req.ID, nil, &rpcError{-32602, "Invalid params"})
		return
	}
	if params.User != p.user || params.Password != p.password {
		p.stats.Refused++
		p.answer(w, req.ID, nil, &rpcError{100, "Login failed"})
		return
	}
	tok := rand.Text()
	p.issued = append(p.issued, tok)
	p.tokens[tok] = p.now()
	p.answer(w, req.ID, map[string]string{"token": tok}, nil)
}

// authorized checks a token and renews its idle time.
func (p *plc) authorized(tok string) bool {
	last, ok := p.tokens[tok]
	if !ok || p.now().Sub(last) >= p.idle {
		delete(p.tokens, tok)
		return false
	}
	p.tokens[tok] = p.now()
	return true
}

func (p *plc) answer(w http.ResponseWriter, id, result any, e *rpcError) {
	out := map[string]any{"jsonrpc": "2.0", "id": id}
	if e != nil {
		out["error"] = e
	} else {
		out["result"] = result
	}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(out)
}

func (p *plc) problem(s string) {
	p.mu.Lock()
	p.problems = append(p.problems, s)
	p.mu.Unlock()
}

func (p *plc) snapshot() plcStats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}
