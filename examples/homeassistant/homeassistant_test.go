package homeassistant

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	c.t = c.t.Add(d)
	c.mu.Unlock()
}

func start(t *testing.T, seed uint64) (*Server, *httptest.Server, *clock) {
	t.Helper()
	clk := &clock{t: time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC)}
	s := New(Options{Token: "t0ken", Seed: seed, Now: clk.Now})
	srv := httptest.NewServer(s.Handler())
	t.Cleanup(srv.Close)
	return s, srv, clk
}

func do(t *testing.T, method, url, token, body string) (int, string, string) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req, _ := http.NewRequest(method, url, r)
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header.Get("Content-Type"), string(b)
}

func TestAuthentication(t *testing.T) {
	tests := []struct {
		name   string
		header string
		code   int
		body   string
	}{
		{"no header", "", 401, "401: Unauthorized"},
		{"wrong token", "Bearer nope", 401, "401: Unauthorized"},
		{"not bearer", "Basic dDBrZW4=", 401, "401: Unauthorized"},
		{"bearer lowercase", "bearer t0ken", 401, "401: Unauthorized"},
		{"right token", "Bearer t0ken", 200, `{"message":"API running."}`},
	}
	s, srv, _ := start(t, 1)
	for _, tt := range tests {
		req, _ := http.NewRequest("GET", srv.URL+"/api/", nil)
		if tt.header != "" {
			req.Header.Set("Authorization", tt.header)
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		wantType := "application/json"
		if tt.code == 401 {
			wantType = "text/plain; charset=utf-8"
		}
		if resp.StatusCode != tt.code || string(b) != tt.body || resp.Header.Get("Content-Type") != wantType {
			t.Errorf("%s: %d %q %q, want %d %q %q", tt.name, resp.StatusCode, resp.Header.Get("Content-Type"), b, tt.code, wantType, tt.body)
		}
	}
	if st := s.Stats(); st != (Stats{Requests: 5, Unauthorized: 4}) {
		t.Errorf("stats %+v", st)
	}
}

func TestTokenRotation(t *testing.T) {
	s, srv, _ := start(t, 1)
	s.SetToken("fresh")
	if code, _, _ := do(t, "GET", srv.URL+"/api/states", "t0ken", ""); code != 401 {
		t.Errorf("old token: %d, want 401", code)
	}
	if code, _, _ := do(t, "GET", srv.URL+"/api/states", "fresh", ""); code != 200 {
		t.Errorf("new token: %d, want 200", code)
	}
}

func TestEntityState(t *testing.T) {
	_, srv, clk := start(t, 1)
	clk.advance(1500 * time.Microsecond)
	code, ctype, body := do(t, "GET", srv.URL+"/api/states/sensor.living_room_temperature", "t0ken", "")
	if code != 200 || ctype != "application/json" {
		t.Fatalf("%d %s %s", code, ctype, body)
	}
	// the field order and formats of Home Assistant's state object
	shape := regexp.MustCompile(`^\{"entity_id":"sensor.living_room_temperature","state":"(\d+\.\d)",` +
		`"attributes":\{"state_class":"measurement","unit_of_measurement":"°C","device_class":"temperature","friendly_name":"Living room temperature"\},` +
		`"last_changed":"(2025-06-01T12:00:00(?:\.001500)?\+00:00)","last_reported":"2025-06-01T12:00:00.001500\+00:00","last_updated":"(2025-06-01T12:00:00(?:\.001500)?\+00:00)",` +
		`"context":\{"id":"[0-9A-HJKMNP-TV-Z]{26}","parent_id":null,"user_id":null\}\}$`)
	m := shape.FindStringSubmatch(body)
	if m == nil {
		t.Fatalf("state object %s", body)
	}
	if v, _ := strconv.ParseFloat(m[1], 64); v < 18 || v > 25 {
		t.Errorf("temperature %s outside 18 … 25", m[1])
	}
	if m[2] != m[3] {
		t.Errorf("last_changed %s, last_updated %s: a sensor's state moves both", m[2], m[3])
	}
	code, _, body = do(t, "GET", srv.URL+"/api/states/sensor.nowhere", "t0ken", "")
	if code != 404 || body != `{"message":"Entity not found."}` {
		t.Errorf("unknown entity: %d %s", code, body)
	}
}

func TestStatesList(t *testing.T) {
	_, srv, _ := start(t, 1)
	code, _, body := do(t, "GET", srv.URL+"/api/states", "t0ken", "")
	var states []struct {
		EntityID   string         `json:"entity_id"`
		State      string         `json:"state"`
		Attributes map[string]any `json:"attributes"`
	}
	if err := json.Unmarshal([]byte(body), &states); err != nil || code != 200 {
		t.Fatalf("%d %s", code, body)
	}
	var ids []string
	for _, s := range states {
		ids = append(ids, s.EntityID+"="+s.State)
	}
	got := strings.Join(ids, " ")
	if !regexp.MustCompile(`^sensor.living_room_temperature=\d+\.\d sensor.living_room_humidity=\d+\.\d binary_sensor.front_door=off switch.living_room_lamp=on$`).MatchString(got) {
		t.Errorf("states %s", got)
	}
}

func TestServices(t *testing.T) {
	s, srv, clk := start(t, 1)
	lamp := func() string {
		_, _, body := do(t, "GET", srv.URL+"/api/states/switch.living_room_lamp", "t0ken", "")
		var v struct{ State string }
		json.Unmarshal([]byte(body), &v)
		return v.State
	}
	tests := []struct {
		name, path, body string
		code             int
		changed          int // states in the answer; -1: not a list
		lamp             string
	}{
		{"turn off", "/api/services/switch/turn_off", `{"entity_id":"switch.living_room_lamp"}`, 200, 1, "off"},
		{"turn off again: nothing changed", "/api/services/switch/turn_off", `{"entity_id":"switch.living_room_lamp"}`, 200, 0, "off"},
		{"turn on, a list of entities", "/api/services/switch/turn_on", `{"entity_id":["switch.living_room_lamp","switch.x"]}`, 200, 1, "on"},
		{"toggle", "/api/services/switch/toggle", `{"entity_id":"switch.living_room_lamp"}`, 200, 1, "off"},
		{"unknown entity ignored", "/api/services/switch/turn_on", `{"entity_id":"switch.x"}`, 200, 0, "off"},
		{"unknown service", "/api/services/switch/explode", `{"entity_id":"switch.living_room_lamp"}`, 400, -1, "off"},
		{"not JSON", "/api/services/switch/turn_on", `{entity_id`, 400, -1, "off"},
	}
	for _, tt := range tests {
		clk.advance(time.Second)
		code, _, body := do(t, "POST", srv.URL+tt.path, "t0ken", tt.body)
		var changed []struct {
			EntityID string `json:"entity_id"`
			Context  struct {
				UserID *string `json:"user_id"`
			} `json:"context"`
		}
		n := -1
		if json.Unmarshal([]byte(body), &changed) == nil {
			n = len(changed)
		}
		if code != tt.code || n != tt.changed {
			t.Errorf("%s: %d %s, want %d with %d changed", tt.name, code, body, tt.code, tt.changed)
		}
		if n == 1 && (changed[0].EntityID != "switch.living_room_lamp" || changed[0].Context.UserID == nil || *changed[0].Context.UserID != UserID) {
			t.Errorf("%s: changed %s", tt.name, body)
		}
		if l := lamp(); l != tt.lamp {
			t.Errorf("%s: lamp %s, want %s", tt.name, l, tt.lamp)
		}
	}
	if _, _, body := do(t, "POST", srv.URL+"/api/services/switch/turn_on", "t0ken", `{entity_id`); body != `{"message":"Data should be valid JSON."}` {
		t.Errorf("not JSON: %s", body)
	}
	if _, _, body := do(t, "POST", srv.URL+"/api/services/switch/explode", "t0ken", `{}`); body != "400: Bad Request" {
		t.Errorf("unknown service: %s", body)
	}
	if st := s.Stats(); st.ServiceCalls != 5 || st.Unauthorized != 0 {
		t.Errorf("stats %+v", st)
	}
}

// The same seed and clock give the same bytes; another seed other readings.
func TestReadingsFollowTheSeed(t *testing.T) {
	samples := func(seed uint64) string {
		_, srv, clk := start(t, seed)
		var out []string
		for range 5 {
			_, _, body := do(t, "GET", srv.URL+"/api/states", "t0ken", "")
			out = append(out, body)
			clk.advance(10 * time.Second)
		}
		return strings.Join(out, "\n")
	}
	if a, b := samples(3), samples(3); a != b {
		t.Errorf("same seed, different answers:\n%s\n%s", a, b)
	}
	if a, b := samples(3), samples(4); a == b {
		t.Error("another seed gave the same answers")
	}
}

func TestIsoformat(t *testing.T) {
	tests := []struct {
		in   time.Time
		want string
	}{
		{time.Date(2016, 5, 30, 21, 43, 32, 418320000, time.UTC), "2016-05-30T21:43:32.418320+00:00"},
		{time.Date(2016, 5, 30, 21, 43, 32, 0, time.UTC), "2016-05-30T21:43:32+00:00"},
		{time.Date(2016, 5, 30, 23, 43, 32, 999, time.FixedZone("CEST", 7200)), "2016-05-30T21:43:32+00:00"},
	}
	for _, tt := range tests {
		if got := isoformat(tt.in); got != tt.want {
			t.Errorf("isoformat(%v): got %s, want %s", tt.in, got, tt.want)
		}
	}
}
