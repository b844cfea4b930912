package sampling_test

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
)

const deviceYAML = `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: dev}
spec:
  endpoints:
    inbound:
      rest: {address: %q, endpointType: Microsoft.Http}
`

// dataset plans the single dataset of an asset whose spec.datasets[0] is
// datasetYAML (indented for that place), against the server at url.
func dataset(t *testing.T, url, datasetYAML string) *plan.Dataset {
	t.Helper()
	asset := `apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: asset-1}
spec:
  deviceRef: {deviceName: dev, endpointName: rest}
  defaultDatasetsDestinations: [{target: Mqtt, configuration: {topic: out/t, qos: Qos1, ttl: 5}}]
  datasets:
` + datasetYAML
	l, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.LoadDir(fstest.MapFS{
		"device.yaml": {Data: []byte(fmt.Sprintf(deviceYAML, url))},
		"asset.yaml":  {Data: []byte(asset)},
	}, ".", "test")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Assets[0].Datasets[0]
}

type recorder struct {
	mu   sync.Mutex
	msgs []*mqttclient.Message
	err  error
}

func (r *recorder) Publish(_ context.Context, m *mqttclient.Message) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.err != nil {
		return r.err
	}
	r.msgs = append(r.msgs, m)
	return nil
}

func (r *recorder) payloads() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []string
	for _, m := range r.msgs {
		out = append(out, string(m.Payload))
	}
	return out
}

// server answers each path with a fixed body and content type.
func server(t *testing.T, routes map[string]string) (*httptest.Server, *atomic.Int64) {
	t.Helper()
	var hits atomic.Int64
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hits.Add(1)
		body, ok := routes[r.Method+" "+r.URL.RequestURI()]
		if !ok {
			http.Error(w, "no route "+r.Method+" "+r.URL.RequestURI(), http.StatusNotFound)
			return
		}
		ct, body, _ := strings.Cut(body, "|")
		w.Header().Set("Content-Type", ct)
		fmt.Fprint(w, body)
	}))
	t.Cleanup(srv.Close)
	return srv, &hits
}

func sampleOnce(t *testing.T, ds *plan.Dataset) (*recorder, error) {
	t.Helper()
	rec := &recorder{}
	s, err := sampling.New(ds, fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop(), Now: func() time.Time { return time.Date(2026, 11, 27, 10, 0, 0, 0, time.UTC) }})
	if err != nil {
		t.Fatal(err)
	}
	s.Sample(context.Background(), time.Now())
	return rec, s.Failing()
}

// valueCases are the datasets of TestValues and the messages they give.
var valueCases = []struct {
	name, dataset, want string
}{
	{
		name: "member named like the data point, numbers kept as written",
		dataset: `    - name: d
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/current}
        - {name: desiredTemperature, dataSource: /api/thermostat/desired}
`,
		want: `{"currentTemperature":71.30,"desiredTemperature":72.5}`,
	},
	{
		name: "whole response when no member has the name",
		dataset: `    - name: d
      dataSource: /status
      dataPoints: [{name: everything}, {name: a}]
`,
		want: `{"everything":{"a":1,"b":{"c":[1,2]},"big":12345678901234567890},"a":1}`,
	},
	{
		name: "non-JSON bodies become strings, JSON text stays JSON",
		dataset: `    - name: d
      dataPoints: [{name: text, dataSource: /text}, {name: number, dataSource: /number}]
`,
		want: `{"text":"OK <ready>","number":42}`,
	},
	{
		name: "data point jq with variables",
		dataset: `    - name: d
      dataPoints:
        - name: celsius
          dataSource: /api/thermostat/current
          dataPointConfiguration: '{"jq": "(.currentTemperature - 32) * 5 / 9 | . * 10 | round / 10"}'
        - name: where
          dataSource: /list
          dataPointConfiguration: '{"jq": "[$asset, $dataset, $dataPoint, $timestamp]"}'
`,
		want: `{"celsius":21.8,"where":["asset-1","d","where","2026-11-27T10:00:00.000Z"]}`,
	},
	{
		name: "dataset jq builds the message",
		dataset: `    - name: d
      datasetConfiguration: '{"jq": "{temperature: .currentTemperature, setpoint: .desiredTemperature, asset: $asset, dataset: $dataset, time: $timestamp}"}'
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/current}
        - {name: desiredTemperature, dataSource: /api/thermostat/desired}
`,
		want: `{"asset":"asset-1","dataset":"d","setpoint":72.5,"temperature":71.30,"time":"2026-11-27T10:00:00.000Z"}`,
	},
	{
		name: "dataset without data points publishes the response",
		dataset: `    - name: d
      dataSource: /list
`,
		want: `[{"v": 1}, {"v": 2}]`,
	},
	{
		name: "dataset jq fans out one message per output",
		dataset: `    - name: d
      dataSource: /list
      datasetConfiguration: '{"jq": ".[] | {reading: .v}"}'
`,
		want: `{"reading":1} {"reading":2}`,
	},
	{
		name: "dataset jq that yields nothing publishes nothing",
		dataset: `    - name: d
      dataSource: /list
      datasetConfiguration: '{"jq": ".[] | select(.v > 5)"}'
`,
		want: ``,
	},
	{
		name: "POST with body, headers and query",
		dataset: `    - name: d
      dataPoints:
        - name: posted
          dataSource: /echo
          dataPointConfiguration: '{"HttpRequestMethod": "POST", "body": {"read": true}, "query": {"unit": "C"}}'
`,
		want: `{"posted":true}`,
	},
}

func TestValues(t *testing.T) {
	srv, _ := server(t, map[string]string{
		"GET /api/thermostat/current": `application/json|{"currentTemperature": 71.30, "unit": "F"}`,
		"GET /api/thermostat/desired": `application/json|{"desiredTemperature": 72.5}`,
		"GET /status":                 `application/json|{"a": 1, "b": {"c": [1, 2]}, "big": 12345678901234567890}`,
		"GET /text":                   `text/plain|OK <ready>`,
		"GET /number":                 `text/plain|42`,
		"GET /list":                   `application/json|[{"v": 1}, {"v": 2}]`,
		"POST /echo?unit=C":           `application/json|{"posted": true}`,
	})
	tests := valueCases
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := sampleOnce(t, dataset(t, srv.URL, tt.dataset))
			if err != nil {
				t.Fatalf("sample failed: %v", err)
			}
			if got := strings.Join(rec.payloads(), " "); got != tt.want {
				t.Errorf("payloads:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}

func TestMessageProperties(t *testing.T) {
	srv, _ := server(t, map[string]string{"GET /x": `application/json|{"x": 1}`})
	rec, err := sampleOnce(t, dataset(t, srv.URL, `    - name: d
      dataPoints: [{name: x, dataSource: /x}]
      destinations:
        - {target: Mqtt, configuration: {topic: a/b, qos: Qos0, retain: Keep, ttl: 30}}
        - {target: Mqtt, configuration: {topic: c/d}}
`))
	if err != nil {
		t.Fatal(err)
	}
	if len(rec.msgs) != 2 {
		t.Fatalf("got %d messages, want one per destination", len(rec.msgs))
	}
	a, c := rec.msgs[0], rec.msgs[1]
	if a.Topic != "a/b" || a.QoS != 0 || !a.Retain || a.MessageExpiry != 30 || a.ContentType != "application/json" || !a.UTF8Payload {
		t.Errorf("first destination: %+v", a)
	}
	if c.Topic != "c/d" || c.QoS != 1 || c.Retain || c.MessageExpiry != 0 {
		t.Errorf("second destination (defaults): %+v", c)
	}
}

func TestFailures(t *testing.T) {
	srv, _ := server(t, map[string]string{
		"GET /broken": `application/json|{"x": `,
		"GET /html":   `text/html|<html><body>Service Unavailable</body></html>`,
	})
	tests := []struct {
		name, dataset, want string
	}{
		{"non-2xx", `    - name: d
      dataPoints: [{name: x, dataSource: /missing}]
`, "GET " + srv.URL + "/missing: HTTP 404 Not Found: no route GET /missing"},
		{"JSON content type with a broken body", `    - name: d
      dataPoints: [{name: x, dataSource: /broken}]
`, `data point "x": JSON at line 1, column 6: unexpected end of the JSON value`},
		{"mapping error", `    - name: d
      dataPoints:
        - {name: x, dataSource: /html, dataPointConfiguration: '{"jq": ".x"}'}
`, `data point "x": jq: expected an object but got: string ("<html><body>Service Unav ...")`},
		{"mapping with several outputs for one value", `    - name: d
      dataPoints:
        - {name: x, dataSource: /html, dataPointConfiguration: '{"jq": "1, 2"}'}
`, `data point "x": jq: 2 outputs (a value needs exactly one)`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := sampleOnce(t, dataset(t, srv.URL, tt.dataset))
			if err == nil || err.Error() != tt.want {
				t.Errorf("error:\ngot  %v\nwant %s", err, tt.want)
			}
			if len(rec.msgs) != 0 {
				t.Errorf("a failed sample published %d messages", len(rec.msgs))
			}
		})
	}
}

func TestUnreachableDeviceTimesOut(t *testing.T) {
	block := make(chan struct{})
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-block:
		case <-r.Context().Done():
		}
	}))
	defer srv.Close()
	defer close(block)
	ds := dataset(t, srv.URL, `    - name: d
      datasetConfiguration: '{"samplingInterval": 1000, "requestTimeout": 150}'
      dataPoints: [{name: x, dataSource: /x}]
`)
	start := time.Now()
	_, err := sampleOnce(t, ds)
	if err == nil || !strings.Contains(err.Error(), "no complete response in time") {
		t.Errorf("error: got %v, want a timeout", err)
	}
	if took := time.Since(start); took > time.Second {
		t.Errorf("sample took %v, want about the 150 ms request timeout", took)
	}
}

func TestSharedRequestsFetchedOnce(t *testing.T) {
	srv, hits := server(t, map[string]string{"GET /api/thermostat/status": `application/json|{"currentTemperature": 70, "desiredTemperature": 72, "power": "on"}`})
	ds := dataset(t, srv.URL, `    - name: d
      dataSource: /api/thermostat/status
      dataPoints: [{name: currentTemperature}, {name: desiredTemperature}, {name: power, dataPointConfiguration: '{"HttpRequestMethod": "GET"}'}]
`)
	rec := &recorder{}
	s, err := sampling.New(ds, fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	for range 5 {
		s.Sample(context.Background(), time.Now())
	}
	if got := hits.Load(); got != 5 {
		t.Errorf("server hits: got %d for 5 samples of 3 data points, want 5", got)
	}
	var msg map[string]any
	if err := json.Unmarshal(rec.msgs[0].Payload, &msg); err != nil || len(msg) != 3 {
		t.Errorf("message %s: want the three data points", rec.msgs[0].Payload)
	}
}

func TestStateChangesAreLoggedOnce(t *testing.T) {
	var failing atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if failing.Load() {
			http.Error(w, "down", http.StatusServiceUnavailable)
			return
		}
		fmt.Fprint(w, `{"x": 1}`)
	}))
	defer srv.Close()
	var logs strings.Builder
	var changes []string
	s, err := sampling.New(dataset(t, srv.URL, `    - name: d
      dataPoints: [{name: x, dataSource: /x}]
`), fetch.New(fetch.Options{}), &recorder{}, sampling.Options{
		Logger:        zerolog.New(&logs),
		OnStateChange: func(err error) { changes = append(changes, fmt.Sprint(err)) },
		// Every call is a tick: no retries and no backing off here
		// (faults_test.go tests those).
		Retry:      &fetch.Retry{Attempts: 1},
		MaxBackoff: -1,
	})
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	s.Sample(ctx, time.Now())
	failing.Store(true)
	for range 4 {
		s.Sample(ctx, time.Now())
	}
	failing.Store(false)
	s.Sample(ctx, time.Now())
	s.Sample(ctx, time.Now())

	lines := strings.Split(strings.TrimSpace(logs.String()), "\n")
	if len(lines) != 2 || !strings.Contains(lines[0], `"message":"dataset sampling failed"`) || !strings.Contains(lines[1], `"failed_samples":4`) {
		t.Errorf("logs: want one failure and one recovery line, got:\n%s", logs.String())
	}
	if len(changes) != 2 || !strings.Contains(changes[0], "HTTP 503") || changes[1] != "<nil>" {
		t.Errorf("state changes: got %q", changes)
	}
}

// TestRequestsOfASampleAreInFlightTogether: the device answers neither
// request until both have arrived, which they do only if the sample sends
// them at once. With one connection allowed to the device they go one
// after the other, and the sample still completes.
func TestRequestsOfASampleAreInFlightTogether(t *testing.T) {
	var arrived sync.WaitGroup
	var together atomic.Bool
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if together.Load() {
			arrived.Done()
			done := make(chan struct{})
			go func() { arrived.Wait(); close(done) }()
			select {
			case <-done:
			case <-time.After(2 * time.Second):
				http.Error(w, "the other request did not come", http.StatusGatewayTimeout)
				return
			}
		}
		fmt.Fprintf(w, `{"%s": 1}`, strings.TrimPrefix(r.URL.Path, "/"))
	}))
	defer srv.Close()
	ds := dataset(t, srv.URL, `    - name: d
      dataPoints:
        - {name: a, dataSource: /a}
        - {name: b, dataSource: /b}
`)
	for _, maxConns := range []int{4, 1} {
		together.Store(maxConns > 1)
		arrived.Add(2)
		rec := &recorder{}
		s, err := sampling.New(ds, fetch.New(fetch.Options{MaxConns: maxConns}), rec, sampling.Options{Logger: zerolog.Nop()})
		if err != nil {
			t.Fatal(err)
		}
		s.Sample(context.Background(), time.Now())
		if got := rec.payloads(); len(got) != 1 || got[0] != `{"a":1,"b":1}` {
			t.Errorf("max %d connections: messages %q, want both values", maxConns, got)
		}
		if maxConns == 1 {
			arrived.Add(-2)
		}
	}
}
