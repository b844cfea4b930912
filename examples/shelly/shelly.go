// Package shelly is a simulated Shelly Plus 1PM, a Gen2 relay with power
// metering, as a Go HTTP handler speaking the device's RPC over HTTP
// closely enough that a connector configuration written for the real
// device works against it.
//
//	GET  /shelly                             device info, never protected
//	GET  /rpc/Shelly.GetDeviceInfo           device info, never protected
//	GET  /rpc/Switch.GetStatus?id=0          {"id":0,"source":"init","output":true,"apower":8.5,…}
//	POST /rpc/Switch.Set  {"id":0,"on":false} {"was_on":true}
//	GET  /rpc/Switch.Set?id=0&on=false       the same, parameters in the query
//	POST /rpc/Switch.Toggle {"id":0}         {"was_on":false}
//	POST /rpc  {"id":1,"method":"Switch.GetStatus","params":{"id":0}}
//	                                         {"id":1,"src":"shellyplus1pm-a8032ab12345","result":{…}}
//
// With a password set, every call but the device info needs HTTP Digest
// authentication (RFC 7616): SHA-256, qop auth, realm the device id
// ("shellyplus1pm-a8032ab12345"), user "admin". A nonce may be reused with
// an incrementing nonce count (firmware 2.0 and later) until it has served
// Options.NonceUses requests or is Options.NonceLifetime old; the device
// then answers 401 with stale=true and a new nonce.
//
// Readings follow Options.Seed and the clock Options.Now: two devices with
// the same seed and clock answer the same sequence of requests with the
// same bytes. Stats counts requests, 401s and authenticated requests.
//
// What is taken from the Shelly Gen2 API documentation: the endpoints, the
// field names of Switch.GetStatus and Shelly.GetDeviceInfo, the
// unprotected Shelly.GetDeviceInfo and /shelly, the Digest parameters, the
// nonce lifetime (1 hour) and reuse limit (30 000). What is assumed: the
// 401 carries no body; an RPC error is HTTP 500 with {"code":…,"message":…}
// (-103 invalid argument, -105 not found) and an unknown method HTTP 404
// {"code":404,"message":"No handler for …"}; a call over HTTP reports
// source "HTTP_in"; aenergy.by_minute holds the energy of the last three
// minutes at the present power; nonces are decimal numbers.
package shelly

import (
	"bytes"
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"net/http"
	"strings"
	"sync"
	"time"
)

// The identity of the simulated device.
const (
	ID    = "shellyplus1pm-a8032ab12345" // also the Digest realm
	MAC   = "A8032AB12345"
	Model = "SNSW-001P16EU"
	User  = "admin" // the only user of a Gen2 device
)

// Options configure a Device.
type Options struct {
	// Password of user admin; empty: authentication is off (auth_en false).
	Password string
	// Seed makes the readings and nonces reproducible.
	Seed uint64
	// NonceUses is how many requests one nonce serves; 0: 30 000.
	NonceUses int
	// NonceLifetime is how long a nonce is valid; 0: one hour.
	NonceLifetime time.Duration
	// Now is the device clock; nil: time.Now.
	Now func() time.Time
}

// Stats counts what the device saw.
type Stats struct {
	Requests      int // all HTTP requests
	Unauthorized  int // 401 answers
	Stale         int // 401 answers with stale=true, counted in Unauthorized too
	Authenticated int // requests with valid Digest credentials
}

// Device is a simulated Shelly Plus 1PM.
type Device struct {
	password      string
	nonceUses     int
	nonceLifetime time.Duration
	now           func() time.Time

	mu       sync.Mutex
	rng      *rand.Rand // readings
	nonceRNG *rand.Rand // nonces, apart so that authentication does not move the readings
	nonces   map[string]*nonce
	stats    Stats
	sw       relay
}

// relay is the state of switch 0.
type relay struct {
	output  bool
	source  string
	load    float64 // watts drawn when on
	apower  float64
	voltage float64
	freq    float64
	pf      float64
	current float64
	tC      float64
	energy  float64 // Wh
	last    time.Time
}

// New returns a device.
func New(o Options) *Device {
	d := &Device{
		password:      o.Password,
		nonceUses:     o.NonceUses,
		nonceLifetime: o.NonceLifetime,
		now:           o.Now,
		rng:           rand.New(rand.NewPCG(o.Seed, o.Seed^0x5eed5e11)),
		nonceRNG:      rand.New(rand.NewPCG(o.Seed^0x9e3779b97f4a7c15, o.Seed)),
		nonces:        map[string]*nonce{},
		sw:            relay{output: true, source: "init", load: 8.5, apower: 8.5, voltage: 230.1, freq: 50, pf: 0.18, current: 0.205, tC: 42.3, energy: 1234.567},
	}
	if d.nonceUses <= 0 {
		d.nonceUses = 30000
	}
	if d.nonceLifetime <= 0 {
		d.nonceLifetime = time.Hour
	}
	if d.now == nil {
		d.now = time.Now
	}
	return d
}

// Stats returns the counters so far.
func (d *Device) Stats() Stats {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stats
}

// Handler serves the device's HTTP API.
func (d *Device) Handler() http.Handler {
	return http.HandlerFunc(d.serve)
}

func (d *Device) serve(w http.ResponseWriter, r *http.Request) {
	body, err := readBody(w, r)
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stats.Requests++
	if err != nil {
		writeJSON(w, http.StatusBadRequest, rpcError{Code: -103, Message: "Request body too large"})
		return
	}
	switch {
	case r.URL.Path == "/shelly" && r.Method == http.MethodGet:
		writeJSON(w, http.StatusOK, d.deviceInfo())
	case r.URL.Path == "/rpc" && r.Method == http.MethodPost:
		d.frame(w, r, body)
	case strings.HasPrefix(r.URL.Path, "/rpc/") && (r.Method == http.MethodGet || r.Method == http.MethodPost):
		method := strings.TrimPrefix(r.URL.Path, "/rpc/")
		if method != "Shelly.GetDeviceInfo" && d.password != "" && !d.authorize(w, r) {
			return
		}
		params, perr := queryParams(r, body)
		if perr != nil {
			writeJSON(w, http.StatusBadRequest, *perr)
			return
		}
		result, status, rerr := d.call(method, params)
		if rerr != nil {
			writeJSON(w, status, *rerr)
			return
		}
		writeJSON(w, http.StatusOK, result)
	default:
		http.NotFound(w, r)
	}
}

// frame serves a JSON-RPC frame posted to /rpc.
func (d *Device) frame(w http.ResponseWriter, r *http.Request, body []byte) {
	var f struct {
		ID     any                        `json:"id"`
		Src    string                     `json:"src"`
		Method string                     `json:"method"`
		Params map[string]json.RawMessage `json:"params"`
	}
	if err := json.Unmarshal(body, &f); err != nil || f.Method == "" {
		writeJSON(w, http.StatusBadRequest, rpcError{Code: -103, Message: "Invalid request frame"})
		return
	}
	if f.Method != "Shelly.GetDeviceInfo" && d.password != "" && !d.authorize(w, r) {
		return
	}
	type reply struct {
		ID     any       `json:"id"`
		Src    string    `json:"src"`
		Dst    string    `json:"dst,omitempty"`
		Result any       `json:"result,omitempty"`
		Error  *rpcError `json:"error,omitempty"`
	}
	result, _, rerr := d.call(f.Method, f.Params)
	writeJSON(w, http.StatusOK, reply{ID: f.ID, Src: ID, Dst: f.Src, Result: result, Error: rerr})
}

// rpcError is the error object of a failed call.
type rpcError struct {
	Code    int    `json:"code"`
	Message string `json:"message"`
}

// call runs an RPC method; on failure it returns the HTTP status and the
// error. The caller holds mu.
func (d *Device) call(method string, params map[string]json.RawMessage) (any, int, *rpcError) {
	switch method {
	case "Shelly.GetDeviceInfo":
		return d.deviceInfo(), 0, nil
	case "Switch.GetStatus":
		if err := switchID(params); err != nil {
			return nil, http.StatusInternalServerError, err
		}
		d.step()
		return d.status(), 0, nil
	case "Switch.Set", "Switch.Toggle":
		if err := switchID(params); err != nil {
			return nil, http.StatusInternalServerError, err
		}
		on := !d.sw.output
		if method == "Switch.Set" {
			raw, ok := params["on"]
			if !ok {
				return nil, http.StatusInternalServerError, &rpcError{-103, "Missing required argument 'on'!"}
			}
			if err := json.Unmarshal(raw, &on); err != nil {
				return nil, http.StatusInternalServerError, &rpcError{-103, "Argument 'on', expected type boolean!"}
			}
		}
		d.step()
		was := d.sw.output
		d.sw.output, d.sw.source = on, "HTTP_in"
		if !on {
			d.sw.apower, d.sw.current = 0, 0
		}
		return struct {
			WasOn bool `json:"was_on"`
		}{was}, 0, nil
	}
	return nil, http.StatusNotFound, &rpcError{404, "No handler for " + method}
}

// switchID checks the id parameter: the device has switch 0 only.
func switchID(params map[string]json.RawMessage) *rpcError {
	raw, ok := params["id"]
	if !ok {
		return &rpcError{-103, "Missing required argument 'id'!"}
	}
	var id float64
	if err := json.Unmarshal(raw, &id); err != nil {
		return &rpcError{-103, "Argument 'id', expected type number!"}
	}
	if id != 0 {
		return &rpcError{-105, fmt.Sprintf("Argument 'id', value %v not found!", id)}
	}
	return nil
}

// step moves the readings on to the device clock. The caller holds mu.
func (d *Device) step() {
	s := &d.sw
	now := d.now()
	if !s.last.IsZero() && now.After(s.last) {
		s.energy += s.apower * now.Sub(s.last).Hours()
	}
	s.last = now
	s.voltage = round(230+d.rng.NormFloat64()*0.6, 1)
	s.freq = round(50+(d.rng.Float64()-0.5)*0.04, 2)
	target := 38.0
	if s.output {
		s.apower = round(s.load*(1+(d.rng.Float64()-0.5)*0.04), 1)
		s.current = round(s.apower/(s.voltage*s.pf), 3)
		target += s.apower * 0.5
	}
	s.tC = round(s.tC+(target-s.tC)*0.05+(d.rng.Float64()-0.5)*0.2, 1)
}

// status is the answer of Switch.GetStatus. The caller holds mu.
func (d *Device) status() any {
	s := d.sw
	now := d.now()
	perMinute := round(s.apower*1000/60, 3) // mWh
	type aenergy struct {
		Total    float64   `json:"total"`
		ByMinute []float64 `json:"by_minute"`
		MinuteTS int64     `json:"minute_ts"`
	}
	type temperature struct {
		TC float64 `json:"tC"`
		TF float64 `json:"tF"`
	}
	return struct {
		ID          int         `json:"id"`
		Source      string      `json:"source"`
		Output      bool        `json:"output"`
		APower      float64     `json:"apower"`
		Voltage     float64     `json:"voltage"`
		Freq        float64     `json:"freq"`
		Current     float64     `json:"current"`
		PF          float64     `json:"pf"`
		AEnergy     aenergy     `json:"aenergy"`
		Temperature temperature `json:"temperature"`
	}{
		Source: s.source, Output: s.output, APower: s.apower, Voltage: s.voltage, Freq: s.freq, Current: s.current, PF: s.pf,
		AEnergy:     aenergy{Total: round(s.energy, 3), ByMinute: []float64{perMinute, perMinute, perMinute}, MinuteTS: now.Truncate(time.Minute).Unix()},
		Temperature: temperature{TC: s.tC, TF: round(s.tC*9/5+32, 1)},
	}
}

// deviceInfo is the answer of Shelly.GetDeviceInfo and /shelly.
func (d *Device) deviceInfo() any {
	return struct {
		Name       *string `json:"name"`
		ID         string  `json:"id"`
		MAC        string  `json:"mac"`
		Slot       int     `json:"slot"`
		Model      string  `json:"model"`
		Gen        int     `json:"gen"`
		FwID       string  `json:"fw_id"`
		Ver        string  `json:"ver"`
		App        string  `json:"app"`
		AuthEn     bool    `json:"auth_en"`
		AuthDomain *string `json:"auth_domain"`
	}{nil, ID, MAC, 0, Model, 2, "20250603-083155/1.6.2-gc8a76e2", "1.6.2", "Plus1PM", d.password != "", authDomain(d.password)}
}

func authDomain(password string) *string {
	if password == "" {
		return nil
	}
	id := ID
	return &id
}

// queryParams are the parameters of a call: the JSON object posted, or
// the query, each value read as JSON when it is JSON (on=false is a
// boolean) and as a string otherwise.
func queryParams(r *http.Request, body []byte) (map[string]json.RawMessage, *rpcError) {
	params := map[string]json.RawMessage{}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &params); err != nil {
			return nil, &rpcError{-103, "Invalid JSON parameters"}
		}
		return params, nil
	}
	for k, vs := range r.URL.Query() {
		v := vs[len(vs)-1]
		if json.Valid([]byte(v)) {
			params[k] = json.RawMessage(v)
		} else {
			params[k], _ = json.Marshal(v)
		}
	}
	return params, nil
}

func readBody(w http.ResponseWriter, r *http.Request) ([]byte, error) {
	var b bytes.Buffer
	_, err := b.ReadFrom(http.MaxBytesReader(w, r.Body, 16<<10))
	return b.Bytes(), err
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, _ := json.Marshal(v)
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}

func round(v float64, places int) float64 {
	p := math.Pow(10, float64(places))
	return math.Round(v*p) / p
}
