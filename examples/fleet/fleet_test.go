package fleet

import (
	"encoding/json"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestAPI(t *testing.T) {
	srv := httptest.NewServer(New(3, 1))
	defer srv.Close()
	tests := []struct {
		name, method, path, body string
		status                   int
		keys                     []string // keys of the JSON object answered
		want                     map[string]any
	}{
		{name: "current", method: "GET", path: "/api/thermostat/1/current", status: 200, keys: []string{"currentTemperature"}},
		{name: "desired", method: "GET", path: "/api/thermostat/1/desired", status: 200, want: map[string]any{"desiredTemperature": 72.5}},
		{name: "status", method: "GET", path: "/api/thermostat/2/status", status: 200, keys: []string{"currentTemperature", "desiredTemperature", "power"}},
		{name: "set desired", method: "POST", path: "/api/thermostat/2/desired", body: `{"desiredTemperature": 70}`, status: 200, want: map[string]any{"desiredTemperature": 70.0}},
		{name: "desired after set", method: "GET", path: "/api/thermostat/2/desired", status: 200, want: map[string]any{"desiredTemperature": 70.0}},
		{name: "desired out of range", method: "POST", path: "/api/thermostat/2/desired", body: `{"desiredTemperature": 100}`, status: 400},
		{name: "power off", method: "POST", path: "/api/thermostat/1/power", body: `{"power": "off"}`, status: 200, want: map[string]any{"power": "off"}},
		{name: "status after power off", method: "GET", path: "/api/thermostat/1/status", status: 200, keys: []string{"currentTemperature", "desiredTemperature", "power"}},
		{name: "bad power", method: "POST", path: "/api/thermostat/1/power", body: `{"power": "maybe"}`, status: 400},
		{name: "id zero", method: "GET", path: "/api/thermostat/0/current", status: 404},
		{name: "id past the fleet", method: "GET", path: "/api/thermostat/4/current", status: 404},
		{name: "id not a number", method: "GET", path: "/api/thermostat/x/current", status: 404},
		{name: "unknown resource", method: "GET", path: "/api/thermostat/1/humidity", status: 404},
		{name: "other prefix", method: "GET", path: "/api/other/1/current", status: 404},
		{name: "wrong method", method: "DELETE", path: "/api/thermostat/1/current", status: 405},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			req, err := http.NewRequest(tc.method, srv.URL+tc.path, strings.NewReader(tc.body))
			if err != nil {
				t.Fatal(err)
			}
			resp, err := http.DefaultClient.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != tc.status {
				t.Fatalf("status = %d, want %d (body %s)", resp.StatusCode, tc.status, body)
			}
			if tc.status != 200 {
				return
			}
			if ct := resp.Header.Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q, want application/json", ct)
			}
			var got map[string]any
			if err := json.Unmarshal(body, &got); err != nil {
				t.Fatalf("body %s is not a JSON object: %v", body, err)
			}
			for _, k := range tc.keys {
				if _, ok := got[k]; !ok {
					t.Errorf("body %s has no %q", body, k)
				}
			}
			for k, v := range tc.want {
				if got[k] != v {
					t.Errorf("%s = %v, want %v (body %s)", k, got[k], v, body)
				}
			}
		})
	}
}

func TestTemperaturesStayInRange(t *testing.T) {
	f := New(1, 42)
	u := &f.units[0]
	u.off = true
	for i := 0; i < 10000; i++ {
		u.step()
		if u.current < 680 || u.current > 770 {
			t.Fatalf("step %d: current %d tenths, want within 680–770", i, u.current)
		}
	}
}

func TestAppendTenths(t *testing.T) {
	for _, tc := range []struct {
		v    int32
		want string
	}{{713, "71.3"}, {700, "70.0"}, {5, "0.5"}, {-12, "-1.2"}} {
		if got := string(appendTenths(nil, tc.v)); got != tc.want {
			t.Errorf("appendTenths(%d) = %q, want %q", tc.v, got, tc.want)
		}
	}
}
