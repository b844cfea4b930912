// Package homeassistant is a simulated Home Assistant REST API, as a Go
// HTTP handler, close enough to the real one that a connector
// configuration written for Home Assistant works against it.
//
//	GET  /api/                                   {"message":"API running."}
//	GET  /api/states                             [state, …]
//	GET  /api/states/sensor.living_room_temperature
//	     {"entity_id":"sensor.living_room_temperature","state":"21.4","attributes":{…},
//	      "last_changed":"…","last_reported":"…","last_updated":"…","context":{…}}
//	POST /api/services/switch/turn_on  {"entity_id":"switch.living_room_lamp"}
//	                                             [the states that changed]
//
// Every request needs "Authorization: Bearer <token>" with the token of
// Options.Token, which SetToken replaces at run time (a test rotates it
// so); otherwise the answer is 401 with the text body "401: Unauthorized",
// as Home Assistant's aiohttp server gives it.
//
// The entities: sensor.living_room_temperature (°C),
// sensor.living_room_humidity (%), binary_sensor.front_door and
// switch.living_room_lamp. A sensor takes its next reading each time it is
// read, following Options.Seed; timestamps come from Options.Now. So two
// servers with the same seed and clock answer the same requests with the
// same bytes.
//
// Taken from Home Assistant's api component: the paths, the state object
// and its field order (entity_id, state, attributes, last_changed,
// last_reported, last_updated, context), timestamps as Python's isoformat
// in UTC, the messages "API running.", "Entity not found." (404) and
// "Data should be valid JSON." (400), a service call answering the list of
// changed states, unknown entities ignored, and an unknown service
// answered 400 with aiohttp's "400: Bad Request". Assumed: context ids are
// ULIDs made from the seed; the service call's user id is fixed; the
// response of ?return_response is not simulated.
package homeassistant

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

// UserID is the id of the user the token belongs to, in the contexts of
// service calls.
const UserID = "9b2c1d0e6f3a4b5c8d7e6f5a4b3c2d1e"

// Options configure a Server.
type Options struct {
	// Token is the long-lived access token the server accepts.
	Token string
	// Seed makes the readings and context ids reproducible.
	Seed uint64
	// Now is the clock; nil: time.Now.
	Now func() time.Time
}

// Stats counts what the server saw.
type Stats struct {
	Requests     int // all requests
	Unauthorized int // 401 answers
	ServiceCalls int // service calls served
}

// Server is a simulated Home Assistant.
type Server struct {
	now func() time.Time

	mu       sync.Mutex
	token    string
	rng      *rand.Rand
	entities []*entity
	stats    Stats
}

// entity is one entity's state.
type entity struct {
	id           string
	state        string
	attributes   attributes
	lastChanged  time.Time
	lastUpdated  time.Time
	lastReported time.Time
	context      string
	userID       *string
	value        float64                           // a sensor's reading
	next         func(*rand.Rand, float64) float64 // a sensor's next reading; nil for the others
	format       string
}

// attributes keep their order when marshalled.
type attributes [][2]any

func (a attributes) MarshalJSON() ([]byte, error) {
	var b bytes.Buffer
	b.WriteByte('{')
	for i, kv := range a {
		if i > 0 {
			b.WriteByte(',')
		}
		k, _ := json.Marshal(kv[0])
		v, err := json.Marshal(kv[1])
		if err != nil {
			return nil, err
		}
		b.Write(k)
		b.WriteByte(':')
		b.Write(v)
	}
	b.WriteByte('}')
	return b.Bytes(), nil
}

// New returns a server.
func New(o Options) *Server {
	s := &Server{now: o.Now, token: o.Token, rng: rand.New(rand.NewPCG(o.Seed, o.Seed^0x40a55157a47))}
	if s.now == nil {
		s.now = time.Now
	}
	walk := func(lo, hi, step float64) func(*rand.Rand, float64) float64 {
		return func(r *rand.Rand, v float64) float64 {
			return math.Min(hi, math.Max(lo, v+(r.Float64()-0.5)*step))
		}
	}
	s.entities = []*entity{
		{id: "sensor.living_room_temperature", value: 21.4, next: walk(18, 25, 0.4), format: "%.1f", attributes: attributes{
			{"state_class", "measurement"}, {"unit_of_measurement", "°C"}, {"device_class", "temperature"}, {"friendly_name", "Living room temperature"}}},
		{id: "sensor.living_room_humidity", value: 45.2, next: walk(30, 70, 1), format: "%.1f", attributes: attributes{
			{"state_class", "measurement"}, {"unit_of_measurement", "%"}, {"device_class", "humidity"}, {"friendly_name", "Living room humidity"}}},
		{id: "binary_sensor.front_door", state: "off", attributes: attributes{{"device_class", "door"}, {"friendly_name", "Front door"}}},
		{id: "switch.living_room_lamp", state: "on", attributes: attributes{{"friendly_name", "Living room lamp"}}},
	}
	now := s.now()
	for _, e := range s.entities {
		if e.next != nil {
			e.state = fmt.Sprintf(e.format, e.value)
		}
		e.lastChanged, e.lastUpdated, e.lastReported, e.context = now, now, now, s.ulid(now)
	}
	return s
}

// SetToken replaces the accepted token; the old one is refused from now
// on.
func (s *Server) SetToken(token string) {
	s.mu.Lock()
	s.token = token
	s.mu.Unlock()
}

// Stats returns the counters so far.
func (s *Server) Stats() Stats {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stats
}

// Handler serves the REST API.
func (s *Server) Handler() http.Handler { return http.HandlerFunc(s.serve) }

func (s *Server) serve(w http.ResponseWriter, r *http.Request) {
	var body bytes.Buffer
	_, readErr := body.ReadFrom(http.MaxBytesReader(w, r.Body, 64<<10))
	s.mu.Lock()
	defer s.mu.Unlock()
	s.stats.Requests++
	if !s.authorized(r) {
		s.stats.Unauthorized++
		plain(w, http.StatusUnauthorized)
		return
	}
	if readErr != nil {
		plain(w, http.StatusRequestEntityTooLarge)
		return
	}
	path := r.URL.Path
	switch {
	case path == "/api/":
		if r.Method != http.MethodGet {
			plain(w, http.StatusMethodNotAllowed)
			return
		}
		message(w, http.StatusOK, "API running.")
	case path == "/api/states":
		if r.Method != http.MethodGet {
			plain(w, http.StatusMethodNotAllowed)
			return
		}
		out := make([]any, 0, len(s.entities))
		for _, e := range s.entities {
			s.read(e)
			out = append(out, e.view())
		}
		writeJSON(w, http.StatusOK, out)
	case strings.HasPrefix(path, "/api/states/"):
		if r.Method != http.MethodGet {
			plain(w, http.StatusMethodNotAllowed)
			return
		}
		e := s.entity(strings.TrimPrefix(path, "/api/states/"))
		if e == nil {
			message(w, http.StatusNotFound, "Entity not found.")
			return
		}
		s.read(e)
		writeJSON(w, http.StatusOK, e.view())
	case strings.HasPrefix(path, "/api/services/"):
		if r.Method != http.MethodPost {
			plain(w, http.StatusMethodNotAllowed)
			return
		}
		domain, service, ok := strings.Cut(strings.TrimPrefix(path, "/api/services/"), "/")
		if !ok || strings.Contains(service, "/") {
			plain(w, http.StatusNotFound)
			return
		}
		s.call(w, domain, service, body.Bytes())
	default:
		plain(w, http.StatusNotFound)
	}
}

// authorized checks the bearer token. The caller holds mu.
func (s *Server) authorized(r *http.Request) bool {
	token, ok := strings.CutPrefix(r.Header.Get("Authorization"), "Bearer ")
	return ok && s.token != "" && token == s.token
}

func (s *Server) entity(id string) *entity {
	for _, e := range s.entities {
		if e.id == id {
			return e
		}
	}
	return nil
}

// read gives a sensor its next reading, as if the integration had just
// reported one. The caller holds mu.
func (s *Server) read(e *entity) {
	if e.next == nil {
		return
	}
	e.value = e.next(s.rng, e.value)
	s.set(e, fmt.Sprintf(e.format, e.value), nil)
}

// set writes a state the way Home Assistant's state machine does:
// last_reported always moves, last_changed and last_updated only when the
// state does. The caller holds mu.
func (s *Server) set(e *entity, state string, userID *string) bool {
	now := s.now()
	e.lastReported = now
	if state == e.state {
		return false
	}
	e.state, e.lastChanged, e.lastUpdated = state, now, now
	e.context, e.userID = s.ulid(now), userID
	return true
}

// call runs a service. The caller holds mu.
func (s *Server) call(w http.ResponseWriter, domain, service string, body []byte) {
	var data struct {
		EntityID any `json:"entity_id"`
	}
	if len(bytes.TrimSpace(body)) > 0 {
		if err := json.Unmarshal(body, &data); err != nil {
			message(w, http.StatusBadRequest, "Data should be valid JSON.")
			return
		}
	}
	if domain != "switch" || service != "turn_on" && service != "turn_off" && service != "toggle" {
		plain(w, http.StatusBadRequest) // ServiceNotFound
		return
	}
	var ids []string
	switch v := data.EntityID.(type) {
	case string:
		ids = strings.Split(v, ",")
	case []any:
		for _, x := range v {
			if id, ok := x.(string); ok {
				ids = append(ids, id)
			}
		}
	default:
		plain(w, http.StatusBadRequest) // no target
		return
	}
	s.stats.ServiceCalls++
	user := UserID
	changed := []any{}
	for _, id := range ids {
		e := s.entity(strings.TrimSpace(id))
		if e == nil || !strings.HasPrefix(e.id, "switch.") {
			continue // Home Assistant logs and ignores entities it has not
		}
		state := map[string]string{"turn_on": "on", "turn_off": "off"}[service]
		if service == "toggle" {
			state = map[string]string{"on": "off", "off": "on"}[e.state]
		}
		if s.set(e, state, &user) {
			changed = append(changed, e.view())
		}
	}
	writeJSON(w, http.StatusOK, changed)
}

// view is the state object of e.
func (e *entity) view() any {
	return struct {
		EntityID     string     `json:"entity_id"`
		State        string     `json:"state"`
		Attributes   attributes `json:"attributes"`
		LastChanged  string     `json:"last_changed"`
		LastReported string     `json:"last_reported"`
		LastUpdated  string     `json:"last_updated"`
		Context      struct {
			ID       string  `json:"id"`
			ParentID *string `json:"parent_id"`
			UserID   *string `json:"user_id"`
		} `json:"context"`
	}{
		EntityID: e.id, State: e.state, Attributes: e.attributes,
		LastChanged: isoformat(e.lastChanged), LastReported: isoformat(e.lastReported), LastUpdated: isoformat(e.lastUpdated),
		Context: struct {
			ID       string  `json:"id"`
			ParentID *string `json:"parent_id"`
			UserID   *string `json:"user_id"`
		}{ID: e.context, UserID: e.userID},
	}
}

// isoformat writes t as Python's datetime.isoformat does for an aware UTC
// time: microseconds only when there are some.
func isoformat(t time.Time) string {
	t = t.UTC()
	if t.Nanosecond()/1000 == 0 {
		return t.Format("2006-01-02T15:04:05+00:00")
	}
	return t.Format("2006-01-02T15:04:05.000000+00:00")
}

// ulid makes a ULID, as Home Assistant's context ids are: 48 bits of
// milliseconds, 80 random bits, in Crockford's base32. The caller holds mu.
func (s *Server) ulid(t time.Time) string {
	const digits = "0123456789ABCDEFGHJKMNPQRSTVWXYZ"
	hi := uint64(t.UnixMilli())<<16 | s.rng.Uint64()>>48 // 48 + 16 bits
	lo := s.rng.Uint64()                                 // 64 bits
	var b [26]byte
	// 128 bits, the top two of the first digit zero
	for i := 25; i >= 0; i-- {
		b[i] = digits[lo&31]
		lo = lo>>5 | hi<<59
		hi >>= 5
	}
	return string(b[:])
}

func message(w http.ResponseWriter, status int, msg string) {
	writeJSON(w, status, map[string]string{"message": msg})
}

// plain answers as aiohttp does for its HTTP errors: "401: Unauthorized".
func plain(w http.ResponseWriter, status int) {
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.WriteHeader(status)
	fmt.Fprintf(w, "%d: %s", status, http.StatusText(status))
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	b, err := json.Marshal(v)
	if err != nil {
		plain(w, http.StatusInternalServerError)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(b)
}
