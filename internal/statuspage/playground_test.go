package statuspage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"
)

const tryBoiler = `{"asset": "boiler-1", "dataset": "status"}`

// A web page in the operator's browser cannot make the connector try or
// map: the browser says where the request comes from, and the page
// refuses any other origin. Tools that send neither header (curl) pass.
func TestCrossOriginPostRefused(t *testing.T) {
	tests := []struct {
		name    string
		headers []string
		status  int
	}{
		{"same origin", []string{"Sec-Fetch-Site", "same-origin", "Origin", "http://127.0.0.1:8080"}, 200},
		{"a tool without browser headers", nil, 200},
		{"another site", []string{"Sec-Fetch-Site", "cross-site", "Origin", "https://attacker.example"}, 403},
		{"another port of the machine", []string{"Sec-Fetch-Site", "same-site", "Origin", "http://127.0.0.1:9999"}, 403},
		{"an older browser: Origin only", []string{"Origin", "https://attacker.example"}, 403},
		{"a sandboxed frame", []string{"Origin", "null"}, 403},
	}
	for _, path := range []string{"/api/try", "/api/map"} {
		for _, tt := range tests {
			t.Run(path+" "+tt.name, func(t *testing.T) {
				fake := newFake(t, healthy())
				calls := 0
				fake.tryHook = func(context.Context, string, string) (*Trial, error) { calls++; return &Trial{}, nil }
				fake.mapHook = func(context.Context, MapRequest) (*MapResult, error) { calls++; return &MapResult{}, nil }
				page := New(fake, Options{})
				defer page.Close()
				body := tryBoiler
				if path == "/api/map" {
					body = `{"asset": "boiler-1", "dataset": "status", "input": {}}`
				}
				var e apiError
				code, _ := call(t, page, "POST", path, body, &e, tt.headers...)
				if code != tt.status {
					t.Fatalf("got %d %q, want %d", code, e.Error, tt.status)
				}
				if tt.status == 403 && (calls != 0 || !strings.Contains(e.Error, "refused: cross-origin request detected")) {
					t.Errorf("refused with %q, after %d backend calls; want 0", e.Error, calls)
				}
			})
		}
	}
}

// A form on another site can only send text/plain or form bodies: refused.
func TestPostNeedsJSON(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	req := localRequest("POST", "/api/try", strings.NewReader(tryBoiler))
	req.Header.Set("Content-Type", "text/plain")
	rec := httptest.NewRecorder()
	page.ServeHTTP(rec, req)
	if want := `{"error":"/api/try: send application/json, not \"text/plain\""}` + "\n"; rec.Code != 415 || rec.Body.String() != want {
		t.Errorf("got %d %s, want 415 %s", rec.Code, rec.Body, want)
	}
}

func TestTry(t *testing.T) {
	fake := newFake(t, healthy())
	fake.tryHook = func(ctx context.Context, asset, dataset string) (*Trial, error) {
		return &Trial{
			Requests: []Request{{
				Method: "GET", URL: "https://dev.example/api/x?api_key=SECRET#frag", Status: 200,
				Body: []byte(strings.Repeat("x", 10000)), BodyBytes: 10000,
			}},
			Input:  map[string]any{"x": json.Number("71.30")},
			Values: []Value{{Name: "x", Value: json.Number("71.30")}, {Name: "y", Err: "jq: no output"}},
			Err:    "data point y: jq: no output",
		}, nil
	}
	page := New(fake, Options{})
	defer page.Close()
	var got trialJSON
	if code, _ := call(t, page, "POST", "/api/try", tryBoiler, &got); code != 200 {
		t.Fatalf("status %d", code)
	}
	r := got.Requests[0]
	if r.URL != "https://dev.example/api/x" {
		t.Errorf("URL %q: the query must not show", r.URL)
	}
	if len(r.Body) != MaxPayloadBytes || r.BodyBytes != 10000 {
		t.Errorf("body of %d bytes (of %d), want %d of 10000", len(r.Body), r.BodyBytes, MaxPayloadBytes)
	}
	// Numbers keep their text, also as text for the page's textarea.
	if string(got.Input) != `{"x":71.30}` || got.InputText != "{\n  \"x\": 71.30\n}" {
		t.Errorf("input %s, as text %q", got.Input, got.InputText)
	}
	if string(got.Values[0].Value) != "71.30" || got.Values[0].Text != "71.30" || got.Values[1].Err != "jq: no output" {
		t.Errorf("values %+v", got.Values)
	}
	if got.Err != "data point y: jq: no output" {
		t.Errorf("a failed sample is an answer with its error: got %q", got.Err)
	}
}

func TestTryErrors(t *testing.T) {
	tests := []struct {
		name   string
		body   string
		err    error
		status int
		want   string
	}{
		{"unknown dataset", `{"asset": "boiler-1", "dataset": "nope"}`, nil, 404, `try asset "boiler-1" dataset "nope": asset "boiler-1" has no dataset "nope": not found`},
		{"refused by the backend", tryBoiler, fmt.Errorf("dataset is disabled: %w", ErrInvalid), 400, `try asset "boiler-1" dataset "status": dataset is disabled: invalid request`},
		{"the backend fails", tryBoiler, errors.New("the connector is starting"), 500, `try asset "boiler-1" dataset "status": the connector is starting`},
		{"no dataset given", `{"asset": "boiler-1"}`, nil, 400, "try: give the asset and the dataset"},
		{"not JSON", `{"asset": `, nil, 400, "/api/try: read the request: unexpected EOF"},
		{"unknown field", `{"asset": "a", "dataset": "b", "publish": true}`, nil, 400, `/api/try: read the request: json: unknown field "publish"`},
		{"too large", `{"asset": "` + strings.Repeat("a", maxRequestBytes) + `"}`, nil, 413, "/api/try: the request is larger than 1048576 bytes"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			fake := newFake(t, healthy())
			if tt.err != nil {
				fake.tryHook = func(context.Context, string, string) (*Trial, error) { return nil, tt.err }
			}
			page := New(fake, Options{})
			defer page.Close()
			var e apiError
			if code, _ := call(t, page, "POST", "/api/try", tt.body, &e); code != tt.status || e.Error != tt.want {
				t.Errorf("got %d %q\nwant %d %q", code, e.Error, tt.status, tt.want)
			}
		})
	}
}

// A try that does not end is stopped at the timeout and says so.
func TestTryTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := newFake(t, healthy())
		fake.tryHook = func(ctx context.Context, _, _ string) (*Trial, error) {
			<-ctx.Done()
			return nil, fmt.Errorf("GET http://boiler/api: %w", ctx.Err())
		}
		page := New(fake, Options{})
		defer page.Close()
		start := time.Now()
		var e apiError
		code, _ := call(t, page, "POST", "/api/try", tryBoiler, &e)
		want := `try asset "boiler-1" dataset "status": no answer within 30s: GET http://boiler/api: context deadline exceeded`
		if code != http.StatusGatewayTimeout || e.Error != want {
			t.Errorf("got %d %q, want 504 %q", code, e.Error, want)
		}
		if took := time.Since(start); took != DefaultTimeout {
			t.Errorf("stopped after %v, want %v", took, DefaultTimeout)
		}
	})
}

// At most MaxConcurrent tries and mappings run at once; beyond that the
// page is told to come back at once, not queued.
func TestConcurrencyLimit(t *testing.T) {
	fake := newFake(t, healthy())
	started, release := make(chan struct{}), make(chan struct{})
	fake.tryHook = func(ctx context.Context, asset, dataset string) (*Trial, error) {
		started <- struct{}{}
		<-release
		return &Trial{}, nil
	}
	page := New(fake, Options{MaxConcurrent: 2})
	defer page.Close()
	srv := httptest.NewServer(page)
	defer srv.Close()
	post := func(path, body string) (int, string, http.Header) {
		res, err := srv.Client().Post(srv.URL+path, "application/json", strings.NewReader(body))
		if err != nil {
			t.Error(err)
			return 0, "", nil
		}
		defer res.Body.Close()
		b, _ := io.ReadAll(res.Body)
		return res.StatusCode, string(b), res.Header
	}

	var wg sync.WaitGroup
	codes := make([]int, 2)
	for i := range codes {
		wg.Go(func() { codes[i], _, _ = post("/api/try", tryBoiler) })
		<-started
	}
	code, body, h := post("/api/map", `{"asset": "boiler-1", "dataset": "status", "input": {}, "jq": "."}`)
	want := `{"error":"map asset \"boiler-1\" dataset \"status\": 2 tries and mappings are running already, the most at once: try again when one has ended"}` + "\n"
	if code != http.StatusTooManyRequests || body != want || h.Get("Retry-After") != "1" {
		t.Errorf("a third at once: %d %s (Retry-After %q), want 429 %s", code, body, h.Get("Retry-After"), want)
	}
	close(release)
	wg.Wait()
	if codes[0] != 200 || codes[1] != 200 {
		t.Errorf("the two running: %v, want 200 200", codes)
	}
	if code, body, _ := post("/api/map", `{"asset": "boiler-1", "dataset": "status", "input": {}, "jq": "."}`); code != 200 {
		t.Errorf("once they ended: %d %s, want 200", code, body)
	}
}

func TestMap(t *testing.T) {
	fake := newFake(t, healthy(), failing())
	page := New(fake, Options{})
	defer page.Close()
	tests := []struct {
		name     string
		body     string
		messages []string
		outputs  int
		err      string
		compile  bool
	}{
		{name: "jq", body: `{"asset": "boiler-1", "dataset": "status", "input": {"currentTemperature": 71.30}, "jq": "{t: .currentTemperature, a: $asset}"}`,
			messages: []string{`{"a":"boiler-1","t":71.30}`}, outputs: 1},
		{name: "a library mapping", body: `{"asset": "boiler-1", "dataset": "status", "input": {"currentTemperature": 71.3, "desiredTemperature": 72.5}, "mapping": "thermostat/status"}`,
			messages: []string{`{"asset":"boiler-1","currentTemperature":21.8,"desiredTemperature":22.5,"heating":true,"timestamp":"2026-01-01T12:00:00.000Z","unit":"°C"}`}, outputs: 1},
		{name: "the dataset's own mapping", body: `{"asset": "chiller-7", "dataset": "telemetry", "input": {"currentTemperature": 212, "desiredTemperature": 212}}`,
			messages: []string{`{"asset":"chiller-7","currentTemperature":100,"desiredTemperature":100,"heating":false,"timestamp":"2026-01-01T12:00:00.000Z","unit":"°C"}`}, outputs: 1},
		{name: "fan-out", body: `{"asset": "boiler-1", "dataset": "status", "input": [1, 2], "jq": ".[] | {v: .}"}`,
			messages: []string{`{"v":1}`, `{"v":2}`}, outputs: 2},
		{name: "filtered", body: `{"asset": "boiler-1", "dataset": "status", "input": {"on": false}, "jq": "select(.on)"}`},
		{name: "a failing program", body: `{"asset": "boiler-1", "dataset": "status", "input": "Service Unavailable", "jq": ".x"}`,
			err: `jq: expected an object but got: string ("Service Unavailable")`},
		{name: "a syntax error", body: `{"asset": "boiler-1", "dataset": "status", "input": {}, "jq": "{a: "}`,
			err: "jq syntax error at line 1, column 5: unexpected end of input", compile: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var got mapJSON
			if code, _ := call(t, page, "POST", "/api/map", tt.body, &got); code != 200 {
				t.Fatalf("status %d", code)
			}
			var payloads []string
			for _, m := range got.Messages {
				payloads = append(payloads, m.Payload)
			}
			if strings.Join(payloads, "\n") != strings.Join(tt.messages, "\n") || got.Outputs != tt.outputs {
				t.Errorf("%d outputs, messages:\n%s\nwant %d:\n%s", got.Outputs, strings.Join(payloads, "\n"), tt.outputs, strings.Join(tt.messages, "\n"))
			}
			if got.Err != tt.err || got.CompileError != tt.compile {
				t.Errorf("error %q (compile error: %v), want %q (%v)", got.Err, got.CompileError, tt.err, tt.compile)
			}
			if got.TestCase == "" {
				t.Error("no test case")
			}
		})
	}
}

func TestMapErrors(t *testing.T) {
	page := New(newFake(t, healthy()), Options{})
	defer page.Close()
	tests := []struct {
		name, body string
		status     int
		want       string
	}{
		{"no input", `{"asset": "boiler-1", "dataset": "status", "jq": "."}`, 400, "map: give the input, as JSON"},
		{"jq and a mapping", `{"asset": "boiler-1", "dataset": "status", "input": 1, "jq": ".", "mapping": "flatten/dotted"}`, 400, "map: give jq or a mapping, not both"},
		{"no dataset", `{"input": 1, "jq": "."}`, 400, "map: give the asset and the dataset"},
		{"input not JSON", `{"asset": "boiler-1", "dataset": "status", "input": {"a": 1,}, "jq": "."}`, 400, "/api/map: read the request: invalid character '}' looking for beginning of object key string"},
		{"unknown mapping", `{"asset": "boiler-1", "dataset": "status", "input": 1, "mapping": "nope/nope"}`, 404, `map asset "boiler-1" dataset "status": map: not found`},
		{"unknown dataset", `{"asset": "boiler-1", "dataset": "nope", "input": 1, "jq": "."}`, 404, `map asset "boiler-1" dataset "nope": asset "boiler-1" has no dataset "nope": not found`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var e apiError
			if code, _ := call(t, page, "POST", "/api/map", tt.body, &e); code != tt.status || e.Error != tt.want {
				t.Errorf("got %d %q\nwant %d %q", code, e.Error, tt.status, tt.want)
			}
		})
	}
}

func TestMappingsListed(t *testing.T) {
	page := New(newFake(t), Options{})
	defer page.Close()
	var got []mappingJSON
	call(t, page, "GET", "/api/mappings", "", &got)
	kinds := map[string]string{}
	for i, m := range got {
		kinds[m.Name] = m.Kind
		if i > 0 && got[i-1].Name >= m.Name {
			t.Errorf("not by name: %s before %s", got[i-1].Name, m.Name)
		}
	}
	if kinds["thermostat/status"] != "dataset" || kinds["thermostat/celsius"] != "dataPoint" {
		t.Errorf("kinds: %v", kinds)
	}
}
