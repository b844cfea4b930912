package thermostat

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAPI(t *testing.T) {
	srv := httptest.NewServer(New(7).Handler())
	defer srv.Close()
	get := func(path string) map[string]any {
		t.Helper()
		resp, err := http.Get(srv.URL + path)
		if err != nil {
			t.Fatal(err)
		}
		defer resp.Body.Close()
		var v map[string]any
		if err := json.NewDecoder(resp.Body).Decode(&v); err != nil || resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/json" {
			t.Fatalf("GET %s: %d %v", path, resp.StatusCode, err)
		}
		return v
	}
	post := func(path, body string) int {
		t.Helper()
		resp, err := http.Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		return resp.StatusCode
	}
	for range 50 {
		c := get("/api/thermostat/current")["currentTemperature"].(float64)
		if c < 68 || c > 77 {
			t.Fatalf("current temperature %v outside 68..77 °F", c)
		}
	}
	if d := get("/api/thermostat/desired")["desiredTemperature"]; d != 72.5 {
		t.Errorf("desired: got %v", d)
	}
	if code := post("/api/thermostat/desired", `{"desiredTemperature": 70}`); code != 200 {
		t.Errorf("POST desired: %d", code)
	}
	if d := get("/api/thermostat/desired")["desiredTemperature"]; d != 70.0 {
		t.Errorf("desired after POST: got %v", d)
	}
	if code := post("/api/thermostat/desired", `{"desiredTemperature": "warm"}`); code != 400 {
		t.Errorf("POST bad desired: %d, want 400", code)
	}
	if code := post("/api/thermostat/power", `{"power": "off"}`); code != 200 {
		t.Errorf("POST power: %d", code)
	}
	if s := get("/api/thermostat/status"); s["power"] != "off" || s["desiredTemperature"] != 70.0 {
		t.Errorf("status: %v", s)
	}
}
