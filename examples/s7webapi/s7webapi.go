// Package s7webapi is a simulated Siemens SIMATIC S7-1500 Web API: JSON-RPC
// 2.0 over HTTPS at POST /api/jsonrpc, close enough to the real CPU that a
// connector configuration written for it works against the simulation.
//
//	{"jsonrpc":"2.0","id":1,"method":"Api.Login","params":{"user":"admin","password":"…"}}
//	→ {"jsonrpc":"2.0","id":1,"result":{"token":"eG9mcHdhaGR0dWVsdm5teGFxcGw="}}
//	X-Auth-Token: eG9mcHdhaGR0dWVsdm5teGFxcGw=
//	{"jsonrpc":"2.0","id":2,"method":"PlcProgram.Read","params":{"var":"\"DB_Process\".temperature"}}
//	→ {"jsonrpc":"2.0","id":2,"result":72.41}
//
// Methods: Api.Login, Api.Logout, Api.Ping, Api.Browse, Api.GetPermissions,
// PlcProgram.Read, PlcProgram.Write, PlcProgram.Browse. A batch (a JSON
// array of requests) is answered with an array, in order; a request
// without an id is a notification and gets no answer. Every answer,
// errors included, is HTTP 200, as on the CPU.
//
// The program has one data block, "DB_Process" (DB1): temperature and
// pressure (Real, moving at each read), running (Bool), counter (DInt,
// counting the reads), setpoint (Real) and line (String). Readings follow
// Options.Seed: two PLCs with the same seed answer the same requests with
// the same values.
//
// The CPU serves HTTPS with a self-signed ECDSA P-256 certificate made at
// New, for 127.0.0.1, ::1 and localhost; CertificatePEM gives it to trust.
//
// From the Siemens S7-1500 Web server function manual and Siemens' .NET
// client: the token is a 28-character string in the result object
// {"token": …}, sent back in X-Auth-Token; a session ends when no request
// used its token for 120 s (each request extends it); Api.Ping, Api.Browse
// and Api.GetPermissions work without a token; user "Everybody" logs in
// with an empty password and no rights; the error codes 2 "Permission
// denied", 4 "No resources", 100 "Login failed", 101 "Already
// authenticated", 200 "Address does not exist", 201 "Invalid address",
// 202 "Variable is not a structure", 204 "Unsupported address" and the
// JSON-RPC codes -32700, -32600, -32601, -32602; PlcProgram.Read
// returning the value itself as result; Browse entries with name,
// db_number, datatype and has_children. Assumed: a call needing rights
// with an unknown or expired token (treated as no token) answers 2
// "Permission denied"; PlcProgram.Browse needs the read right; a PLC
// admits Options.MaxSessions sessions at once; Api.Ping answers a string
// that identifies this run of the CPU.
package s7webapi

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"regexp"
	"sync"
	"time"
)

// Error codes of the Web API.
const (
	CodePermissionDenied     = 2
	CodeNoResources          = 4
	CodeLoginFailed          = 100
	CodeAlreadyAuthenticated = 101
	CodeAddressDoesNotExist  = 200
	CodeInvalidAddress       = 201
	CodeNotAStructure        = 202
	CodeUnsupportedAddress   = 204
	CodeParseError           = -32700
	CodeInvalidRequest       = -32600
	CodeMethodNotFound       = -32601
	CodeInvalidParams        = -32602
)

// Options configure a PLC.
type Options struct {
	// User and Password are the one web server user with the rights to
	// read and write process values.
	User, Password string
	// Seed makes the readings, tokens and ping id reproducible.
	Seed uint64
	// TokenLifetime is how long a session lives without a request; 0:
	// 120 s, the CPU's.
	TokenLifetime time.Duration
	// MaxSessions is how many sessions may be open at once; 0: no limit.
	MaxSessions int
	// Now is the CPU clock; nil: time.Now.
	Now func() time.Time
}

// Stats counts what the PLC saw.
type Stats struct {
	Requests     int // HTTP requests
	Calls        int // JSON-RPC requests, each of a batch counted
	Logins       int // successful Api.Login
	FailedLogins int // Api.Login answered 100 Login failed
	Denied       int // calls answered 2 Permission denied
}

// PLC is a simulated S7-1500 CPU's Web API.
type PLC struct {
	user, password string
	lifetime       time.Duration
	maxSessions    int
	now            func() time.Time
	cert           tls.Certificate
	certPEM        []byte
	address        *regexp.Regexp // a symbolic address: "DB".member or "DB"."member"

	mu       sync.Mutex
	rng      *rand.Rand // readings
	tokenRNG *rand.Rand
	pingID   string
	sessions map[string]*session
	vars     []*variable
	stats    Stats
}

// session is an open Web API session.
type session struct {
	user    string
	rights  bool // read_value and write_value
	expires time.Time
}

// variable is a member of DB_Process.
type variable struct {
	name     string
	datatype string // as the Web API names it: real, bool, dint, string
	value    any    // float64, bool, int64 or string
	step     func(p *PLC, v *variable)
}

// New returns a PLC with a fresh certificate.
func New(o Options) (*PLC, error) {
	cert, certPEM, err := selfSigned()
	if err != nil {
		return nil, fmt.Errorf("s7webapi: certificate: %w", err)
	}
	p := &PLC{
		user: o.User, password: o.Password, lifetime: o.TokenLifetime, maxSessions: o.MaxSessions, now: o.Now,
		cert: cert, certPEM: certPEM,
		address:  regexp.MustCompile(`^"([^"]+)"\.(?:"([^"]+)"|([A-Za-z_][A-Za-z0-9_]*))$`),
		rng:      rand.New(rand.NewPCG(o.Seed, o.Seed^0x51e3e25)),
		tokenRNG: rand.New(rand.NewPCG(o.Seed^0x7a11ed, o.Seed)),
		sessions: map[string]*session{},
	}
	if p.lifetime <= 0 {
		p.lifetime = 120 * time.Second
	}
	if p.now == nil {
		p.now = time.Now
	}
	p.pingID = p.randomString(21)
	walk := func(lo, hi, step float64) func(*PLC, *variable) {
		return func(p *PLC, v *variable) {
			x := v.value.(float64) + (p.rng.Float64()-0.5)*step
			v.value = math.Round(math.Min(hi, math.Max(lo, x))*100) / 100
		}
	}
	p.vars = []*variable{
		{name: "temperature", datatype: "real", value: 72.5, step: walk(60, 90, 0.8)},
		{name: "pressure", datatype: "real", value: 2.1, step: walk(1, 3, 0.05)},
		{name: "running", datatype: "bool", value: true},
		{name: "counter", datatype: "dint", value: int64(0), step: func(p *PLC, v *variable) { v.value = v.value.(int64) + 1 }},
		{name: "setpoint", datatype: "real", value: 72.5},
		{name: "line", datatype: "string", value: "Line 1"},
	}
	return p, nil
}

// TLSConfig is a server configuration with the PLC's certificate.
func (p *PLC) TLSConfig() *tls.Config {
	return &tls.Config{Certificates: []tls.Certificate{p.cert}, MinVersion: tls.VersionTLS12}
}

// CertificatePEM is the PLC's certificate, for a client to trust.
func (p *PLC) CertificatePEM() []byte { return bytes.Clone(p.certPEM) }

// Stats returns the counters so far.
func (p *PLC) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.stats
}

// Handler serves POST /api/jsonrpc.
func (p *PLC) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /api/jsonrpc", p.serve)
	return mux
}

// rpcRequest is one JSON-RPC request as received.
type rpcRequest struct {
	JSONRPC any             `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Method  any             `json:"method"`
	Params  json.RawMessage `json:"params"`
}

// rpcResponse is one JSON-RPC response.
type rpcResponse struct {
	JSONRPC string          `json:"jsonrpc"`
	ID      json.RawMessage `json:"id"`
	Result  json.RawMessage `json:"result,omitempty"` // present on success, even for false or 0
	Error   *rpcError       `json:"error,omitempty"`
}

type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

func (p *PLC) serve(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, readErr := body.ReadFrom(http.MaxBytesReader(w, r.Body, 256<<10))
	p.mu.Lock()
	defer p.mu.Unlock()
	p.stats.Requests++
	if readErr != nil {
		reply(w, errorResponse(nil, CodeInvalidRequest, "Invalid Request"))
		return
	}
	token := r.Header.Get("X-Auth-Token")
	raw := bytes.TrimSpace(body.Bytes())
	if len(raw) > 0 && raw[0] == '[' {
		var batch []json.RawMessage
		if err := json.Unmarshal(raw, &batch); err != nil {
			reply(w, errorResponse(nil, CodeParseError, "Parse error"))
			return
		}
		if len(batch) == 0 {
			reply(w, errorResponse(nil, CodeInvalidRequest, "Invalid Request"))
			return
		}
		out := []rpcResponse{}
		for _, item := range batch {
			if resp, ok := p.one(item, token); ok {
				out = append(out, resp)
			}
		}
		if len(out) == 0 {
			w.WriteHeader(http.StatusNoContent) // notifications only
			return
		}
		reply(w, out)
		return
	}
	if !json.Valid(raw) {
		reply(w, errorResponse(nil, CodeParseError, "Parse error"))
		return
	}
	resp, ok := p.one(raw, token)
	if !ok {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	reply(w, resp)
}

// one answers one request of a body; ok is false for a notification. The
// caller holds mu.
func (p *PLC) one(raw json.RawMessage, token string) (resp rpcResponse, ok bool) {
	p.stats.Calls++
	var req rpcRequest
	if err := json.Unmarshal(raw, &req); err != nil {
		return errorResponse(nil, CodeInvalidRequest, "Invalid Request"), true
	}
	id := req.ID
	if id != nil && !validID(id) {
		return errorResponse(nil, CodeInvalidRequest, "Invalid Request"), true
	}
	method, isString := req.Method.(string)
	if req.JSONRPC != "2.0" || !isString {
		return errorResponse(id, CodeInvalidRequest, "Invalid Request"), true
	}
	result, rerr := p.call(method, req.Params, token)
	if id == nil {
		return rpcResponse{}, false
	}
	if rerr != nil {
		if rerr.Code == CodePermissionDenied {
			p.stats.Denied++
		}
		return rpcResponse{JSONRPC: "2.0", ID: id, Error: rerr}, true
	}
	b, err := json.Marshal(result)
	if err != nil {
		return rpcResponse{JSONRPC: "2.0", ID: id, Error: &rpcError{1, "Internal error"}}, true
	}
	return rpcResponse{JSONRPC: "2.0", ID: id, Result: b}, true
}

// validID tells whether id is a JSON-RPC id: a string, a number or null.
func validID(id json.RawMessage) bool {
	var v any
	if json.Unmarshal(id, &v) != nil {
		return false
	}
	switch v.(type) {
	case string, float64, nil:
		return true
	}
	return false
}

// session returns the live session of token, extending it, or nil. The
// caller holds mu.
func (p *PLC) session(token string) *session {
	now := p.now()
	for t, s := range p.sessions {
		if !now.Before(s.expires) {
			delete(p.sessions, t) // logged out by timeout
		}
	}
	s := p.sessions[token]
	if s != nil {
		s.expires = now.Add(p.lifetime)
	}
	return s
}

// call runs a method. The caller holds mu.
func (p *PLC) call(method string, raw json.RawMessage, token string) (any, *rpcError) {
	s := p.session(token)
	switch method {
	case "Api.Ping":
		return p.pingID, nil
	case "Api.Browse":
		return apiBrowse(), nil
	case "Api.GetPermissions":
		return apiGetPermissions(s), nil
	case "Api.Login":
		return p.apiLogin(raw, s)
	case "Api.Logout":
		delete(p.sessions, token)
		return true, nil
	case "PlcProgram.Read":
		return p.plcProgramRead(raw, s)
	case "PlcProgram.Write":
		return p.plcProgramWrite(raw, s)
	case "PlcProgram.Browse":
		return p.plcProgramBrowse(raw, s)
	}
	return nil, &rpcError{CodeMethodNotFound, "Method not found"}
}

// apiBrowse answers Api.Browse: the methods of the Web API.
func apiBrowse() []map[string]string {
	var out []map[string]string
	for _, m := range []string{"Api.Browse", "Api.GetPermissions", "Api.Login", "Api.Logout", "Api.Ping", "PlcProgram.Browse", "PlcProgram.Read", "PlcProgram.Write"} {
		out = append(out, map[string]string{"name": m})
	}
	return out
}

// apiGetPermissions answers Api.GetPermissions for the session s (nil:
// none).
func apiGetPermissions(s *session) []map[string]string {
	out := []map[string]string{}
	if s.hasRights() {
		out = append(out, map[string]string{"name": "read_value"}, map[string]string{"name": "write_value"})
	}
	return out
}

// apiLogin answers Api.Login: a new session and its token, for the user
// with the rights or for Everybody, unless s (nil: none) is already open.
// The caller holds mu.
func (p *PLC) apiLogin(raw json.RawMessage, s *session) (any, *rpcError) {
	var params struct {
		User     *string `json:"user"`
		Password *string `json:"password"`
	}
	if err := strictParams(raw, &params); err != nil || params.User == nil || params.Password == nil {
		return nil, invalidParams()
	}
	if s != nil {
		return nil, &rpcError{CodeAlreadyAuthenticated, "Already authenticated"}
	}
	rights := *params.User == p.user && *params.Password == p.password && p.user != ""
	if !rights && !(*params.User == "Everybody" && *params.Password == "") {
		p.stats.FailedLogins++
		return nil, &rpcError{CodeLoginFailed, "Login failed"}
	}
	if p.maxSessions > 0 && len(p.sessions) >= p.maxSessions {
		return nil, &rpcError{CodeNoResources, "No resources"}
	}
	t := p.newToken()
	p.sessions[t] = &session{user: *params.User, rights: rights, expires: p.now().Add(p.lifetime)}
	p.stats.Logins++
	return map[string]string{"token": t}, nil
}

// newToken is a token no open session has. The caller holds mu.
func (p *PLC) newToken() string {
	t := p.randomString(20)
	for p.sessions[t] != nil {
		t = p.randomString(20)
	}
	return t
}

// plcProgramRead answers PlcProgram.Read: the variable's value, moved one
// step. The caller holds mu.
func (p *PLC) plcProgramRead(raw json.RawMessage, s *session) (any, *rpcError) {
	var params struct {
		Var  *string `json:"var"`
		Mode *string `json:"mode"`
	}
	if err := strictParams(raw, &params); err != nil || params.Var == nil || !validValueMode(params.Mode) {
		return nil, invalidParams()
	}
	if !s.hasRights() {
		return nil, permissionDenied()
	}
	v, rerr := p.lookup(*params.Var)
	if rerr != nil {
		return nil, rerr
	}
	if v.step != nil {
		v.step(p, v)
	}
	return v.value, nil
}

// plcProgramWrite answers PlcProgram.Write: the value, of the variable's
// type, replaces the variable's. The caller holds mu.
func (p *PLC) plcProgramWrite(raw json.RawMessage, s *session) (any, *rpcError) {
	var params struct {
		Var   *string         `json:"var"`
		Value json.RawMessage `json:"value"`
		Mode  *string         `json:"mode"`
	}
	if err := strictParams(raw, &params); err != nil || params.Var == nil || params.Value == nil || !validValueMode(params.Mode) {
		return nil, invalidParams()
	}
	if !s.hasRights() {
		return nil, permissionDenied()
	}
	v, rerr := p.lookup(*params.Var)
	if rerr != nil {
		return nil, rerr
	}
	val, ok := typed(v.datatype, params.Value)
	if !ok {
		return nil, invalidParams()
	}
	v.value = val
	return true, nil
}

// plcProgramBrowse checks the parameters and rights of PlcProgram.Browse
// and answers it with browse. The caller holds mu.
func (p *PLC) plcProgramBrowse(raw json.RawMessage, s *session) (any, *rpcError) {
	var params struct {
		Var  *string `json:"var"`
		Mode string  `json:"mode"`
	}
	if err := strictParams(raw, &params); err != nil || params.Mode != "var" && params.Mode != "children" {
		return nil, invalidParams()
	}
	if !s.hasRights() {
		return nil, permissionDenied()
	}
	return p.browse(params.Var, params.Mode)
}

// hasRights tells whether s is a session with the rights to read and write
// process values; a nil s (no session) has none.
func (s *session) hasRights() bool { return s != nil && s.rights }

// validValueMode tells whether mode is absent, "simple" or "raw", the
// modes of PlcProgram.Read and PlcProgram.Write.
func validValueMode(mode *string) bool { return mode == nil || *mode == "simple" || *mode == "raw" }

func invalidParams() *rpcError { return &rpcError{CodeInvalidParams, "Invalid params"} }

func permissionDenied() *rpcError { return &rpcError{CodePermissionDenied, "Permission denied"} }

// strictParams decodes params, refusing unknown fields; absent params are
// an empty object.
func strictParams(raw json.RawMessage, into any) error {
	if len(raw) == 0 || string(raw) == "null" {
		raw = json.RawMessage("{}")
	}
	d := json.NewDecoder(bytes.NewReader(raw))
	d.DisallowUnknownFields()
	return d.Decode(into)
}

// lookup finds a variable by its symbolic address, "DB_Process".name or
// "DB_Process"."name". The caller holds mu.
func (p *PLC) lookup(address string) (*variable, *rpcError) {
	if address == `"DB_Process"` {
		return nil, &rpcError{CodeUnsupportedAddress, "Unsupported address"}
	}
	m := p.address.FindStringSubmatch(address)
	if m == nil {
		return nil, &rpcError{CodeInvalidAddress, "Invalid address"}
	}
	member := m[2] + m[3]
	if m[1] == "DB_Process" {
		for _, v := range p.vars {
			if v.name == member {
				return v, nil
			}
		}
	}
	return nil, &rpcError{CodeAddressDoesNotExist, "Address does not exist"}
}

// browse answers PlcProgram.Browse. The caller holds mu.
func (p *PLC) browse(address *string, mode string) (any, *rpcError) {
	type entry struct {
		Name        string `json:"name"`
		DBNumber    int    `json:"db_number"`
		Datatype    string `json:"datatype"`
		HasChildren bool   `json:"has_children"`
		MaxLength   int    `json:"max_length,omitempty"`
	}
	db := entry{Name: "DB_Process", DBNumber: 1, Datatype: "data_block", HasChildren: true}
	member := func(v *variable) entry {
		e := entry{Name: v.name, DBNumber: 1, Datatype: v.datatype}
		if v.datatype == "string" {
			e.MaxLength = 254
		}
		return e
	}
	switch {
	case address == nil && mode == "children":
		return []entry{db}, nil
	case address == nil:
		return nil, invalidParams()
	case *address == `"DB_Process"`:
		if mode == "var" {
			return []entry{db}, nil
		}
		var out []entry
		for _, v := range p.vars {
			out = append(out, member(v))
		}
		return out, nil
	}
	v, rerr := p.lookup(*address)
	if rerr != nil {
		return nil, rerr
	}
	if mode == "children" {
		return nil, &rpcError{CodeNotAStructure, "Variable is not a structure"}
	}
	return []entry{member(v)}, nil
}

// typed converts a written value to the variable's type.
func typed(datatype string, raw json.RawMessage) (any, bool) {
	switch datatype {
	case "real":
		var f float64
		return f, json.Unmarshal(raw, &f) == nil
	case "bool":
		var b bool
		return b, json.Unmarshal(raw, &b) == nil
	case "dint":
		var i int64
		if json.Unmarshal(raw, &i) != nil || i < math.MinInt32 || i > math.MaxInt32 {
			return nil, false
		}
		return i, true
	case "string":
		var s string
		return s, json.Unmarshal(raw, &s) == nil && len(s) <= 254
	}
	return nil, false
}

// randomString is base64 of n random bytes from the token generator: 20
// bytes make the CPU's 28 characters. The caller holds mu, or is New.
func (p *PLC) randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = byte(p.tokenRNG.Uint32())
	}
	return base64.StdEncoding.EncodeToString(b)
}

func errorResponse(id json.RawMessage, code int, msg string) rpcResponse {
	if id == nil {
		id = json.RawMessage("null")
	}
	return rpcResponse{JSONRPC: "2.0", ID: id, Error: &rpcError{code, msg}}
}

func reply(w http.ResponseWriter, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		http.Error(w, "internal error", http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.Write(b)
}
