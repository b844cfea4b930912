// Package fleet simulates many REST thermostats behind one HTTP server, for
// load tests and benchmarks of the connector. Thermostat id (1 … N) answers
// the walkthrough thermostat's API under /api/thermostat/{id}/:
//
//	GET  /api/thermostat/{id}/current  {"currentTemperature":71.3}
//	GET  /api/thermostat/{id}/desired  {"desiredTemperature":72.5}
//	GET  /api/thermostat/{id}/status   {"currentTemperature":71.3,"desiredTemperature":72.5,"power":"on"}
//	POST /api/thermostat/{id}/desired  {"desiredTemperature": 70}
//	POST /api/thermostat/{id}/power    {"power": "off"}
//
// It shares the machine with the connector it loads, so a GET costs little:
// no router, no maps, no JSON encoder, no allocation of its own (net/http's
// are left), temperatures kept in tenths of a degree.
package fleet

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Fleet is N simulated thermostats. It is an http.Handler.
type Fleet struct {
	units []unit
	// Token, if set, is the bearer token every request must carry
	// (Authorization: Bearer <token>); others are answered 401.
	Token string
}

// unit is one thermostat; temperatures are in tenths of a degree Fahrenheit.
type unit struct {
	mu      sync.Mutex
	rng     uint64
	current int32
	desired int32
	off     bool
}

// New returns n thermostats whose readings follow seed.
func New(n int, seed uint64) *Fleet {
	f := &Fleet{units: make([]unit, n)}
	for i := range f.units {
		u := &f.units[i]
		u.rng = seed ^ (uint64(i)+1)*0x9e3779b97f4a7c15
		if u.rng == 0 {
			u.rng = 1
		}
		u.current = 713 - int32(i%17)
		u.desired = 725 - int32(i%5)*5
	}
	return f
}

// Len is the number of thermostats; their ids are 1 … Len.
func (f *Fleet) Len() int { return len(f.units) }

// step moves the current temperature a tenth of the way to the set point
// (68 °F when off) plus noise of up to ±0.3 °F, within 68–77 °F.
func (u *unit) step() {
	u.rng ^= u.rng << 13
	u.rng ^= u.rng >> 7
	u.rng ^= u.rng << 17
	target := u.desired
	if u.off {
		target = 680
	}
	u.current += (target-u.current)/10 + int32(u.rng%7) - 3
	u.current = min(770, max(680, u.current))
}

var (
	jsonType        = []string{"application/json"}
	bearerChallenge = []string{`Bearer realm="fleet"`}
)

const prefix = "/api/thermostat/"

// ServeHTTP answers the thermostat API.
func (f *Fleet) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if f.Token != "" {
		auth := r.Header["Authorization"]
		if len(auth) != 1 || len(auth[0]) != len("Bearer ")+len(f.Token) || auth[0][:7] != "Bearer " || auth[0][7:] != f.Token {
			w.Header()["WWW-Authenticate"] = bearerChallenge
			http.Error(w, "unauthorized", http.StatusUnauthorized)
			return
		}
	}
	rest, ok := strings.CutPrefix(r.URL.Path, prefix)
	if !ok {
		http.NotFound(w, r)
		return
	}
	idText, what, _ := strings.Cut(rest, "/")
	id, err := strconv.Atoi(idText)
	if err != nil || id < 1 || id > len(f.units) {
		http.Error(w, "no such thermostat", http.StatusNotFound)
		return
	}
	u := &f.units[id-1]
	var buf [96]byte
	b := buf[:0]
	switch {
	case r.Method == http.MethodGet && what == "current":
		u.mu.Lock()
		u.step()
		c := u.current
		u.mu.Unlock()
		b = append(b, `{"currentTemperature":`...)
		b = appendTenths(b, c)
		b = append(b, '}')
	case r.Method == http.MethodGet && what == "desired":
		u.mu.Lock()
		d := u.desired
		u.mu.Unlock()
		b = append(b, `{"desiredTemperature":`...)
		b = appendTenths(b, d)
		b = append(b, '}')
	case r.Method == http.MethodGet && what == "status":
		u.mu.Lock()
		u.step()
		c, d, off := u.current, u.desired, u.off
		u.mu.Unlock()
		b = append(b, `{"currentTemperature":`...)
		b = appendTenths(b, c)
		b = append(b, `,"desiredTemperature":`...)
		b = appendTenths(b, d)
		if off {
			b = append(b, `,"power":"off"}`...)
		} else {
			b = append(b, `,"power":"on"}`...)
		}
	case r.Method == http.MethodPost && what == "desired":
		var body struct {
			Desired *float64 `json:"desiredTemperature"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || body.Desired == nil {
			http.Error(w, `expected {"desiredTemperature": number}`, http.StatusBadRequest)
			return
		}
		if *body.Desired < 50 || *body.Desired > 90 {
			http.Error(w, "desiredTemperature must be between 50 and 90", http.StatusBadRequest)
			return
		}
		d := int32(*body.Desired*10 + 0.5)
		u.mu.Lock()
		u.desired = d
		u.mu.Unlock()
		b = append(b, `{"desiredTemperature":`...)
		b = appendTenths(b, d)
		b = append(b, '}')
	case r.Method == http.MethodPost && what == "power":
		var body struct {
			Power string `json:"power"`
		}
		if err := json.NewDecoder(http.MaxBytesReader(w, r.Body, 4096)).Decode(&body); err != nil || (body.Power != "on" && body.Power != "off") {
			http.Error(w, `expected {"power": "on"} or {"power": "off"}`, http.StatusBadRequest)
			return
		}
		u.mu.Lock()
		u.off = body.Power == "off"
		u.mu.Unlock()
		b = append(b, `{"power":"`...)
		b = append(b, body.Power...)
		b = append(b, `"}`...)
	case what == "current" || what == "desired" || what == "status" || what == "power":
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	default:
		http.NotFound(w, r)
		return
	}
	w.Header()["Content-Type"] = jsonType
	_, _ = w.Write(b)
}

// appendTenths writes v/10 with one decimal: 713 → 71.3.
func appendTenths(b []byte, v int32) []byte {
	if v < 0 {
		b = append(b, '-')
		v = -v
	}
	b = strconv.AppendInt(b, int64(v/10), 10)
	return append(b, '.', byte('0'+v%10))
}
