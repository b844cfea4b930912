package statuspage

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/mapping"
	"github.com/http-connector/http-connector/internal/mappingfile"
	"github.com/http-connector/http-connector/internal/plan"
)

// fakeTimestamp is the $timestamp of the fake's mapping runs.
const fakeTimestamp = "2026-01-01T12:00:00.000Z"

// fakeBackend is a Backend over a list of datasets. Map runs real jq and
// the shipped mapping library, as the runtime would; Try answers a fixed
// trial unless tryHook says otherwise.
type fakeBackend struct {
	mu        sync.Mutex
	datasets  []Dataset
	connector Connector
	library   *mappingfile.Library
	// datasetCalls counts Datasets calls.
	datasetCalls atomic.Int64
	tryCalls     atomic.Int64
	tryHook      func(ctx context.Context, asset, dataset string) (*Trial, error)
	mapHook      func(ctx context.Context, req MapRequest) (*MapResult, error)
}

func newFake(t testing.TB, datasets ...Dataset) *fakeBackend {
	t.Helper()
	reader, err := mappingfile.NewReader()
	if err != nil {
		t.Fatal(err)
	}
	files, err := reader.Shipped()
	if err != nil {
		t.Fatal(err)
	}
	lib, errs := mappingfile.NewLibrary(files...)
	if len(errs) > 0 {
		t.Fatal(errs)
	}
	return &fakeBackend{
		datasets: datasets,
		connector: Connector{
			Version: "v1.2.3", Commit: "0123456789abcdef0123", Started: time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC),
			BrokerURL: "mqtts://aio-broker:18883", Connected: true, Assets: 2, QueueDepth: 3,
			Settings: map[string]any{"logLevel": "info", "secrets": map[string]any{"api-key": "(redacted)"}},
		},
		library: lib,
	}
}

func (f *fakeBackend) Datasets() []Dataset {
	f.datasetCalls.Add(1)
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]Dataset(nil), f.datasets...)
}

func (f *fakeBackend) Connector() Connector {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.connector
}

// change edits a dataset, as the runtime does when a sample ends.
func (f *fakeBackend) change(asset, dataset string, edit func(*Dataset)) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := range f.datasets {
		if f.datasets[i].Asset == asset && f.datasets[i].Dataset == dataset {
			edit(&f.datasets[i])
			return
		}
	}
	panic(fmt.Sprintf("no dataset %s/%s", asset, dataset))
}

func (f *fakeBackend) find(asset, dataset string) (Dataset, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, d := range f.datasets {
		if d.Asset == asset && d.Dataset == dataset {
			return d, nil
		}
	}
	return Dataset{}, fmt.Errorf("asset %q has no dataset %q: %w", asset, dataset, ErrNotFound)
}

func (f *fakeBackend) Try(ctx context.Context, asset, dataset string) (*Trial, error) {
	f.tryCalls.Add(1)
	if f.tryHook != nil {
		return f.tryHook(ctx, asset, dataset)
	}
	d, err := f.find(asset, dataset)
	if err != nil {
		return nil, err
	}
	input := map[string]any{"currentTemperature": json.Number("71.30"), "desiredTemperature": json.Number("72.5")}
	return &Trial{
		Time: time.Date(2026, 1, 1, 12, 0, 0, 0, time.UTC),
		Requests: []Request{
			{Method: "GET", URL: "http://thermostat.local:3000/api/thermostat/current", Status: 200, Elapsed: 3 * time.Millisecond, ContentType: "application/json", Body: []byte(`{"currentTemperature":71.3}`), BodyBytes: 27},
			{Method: "GET", URL: "http://thermostat.local:3000/api/thermostat/desired", Status: 200, Elapsed: 2 * time.Millisecond, ContentType: "application/json", Body: []byte(`{"desiredTemperature":72.5}`), BodyBytes: 27},
		},
		Input:    input,
		Values:   []Value{{Name: "currentTemperature", Value: json.Number("71.30")}, {Name: "desiredTemperature", Value: json.Number("72.5")}},
		Messages: []Message{{Topic: d.Topic, Payload: []byte(`{"currentTemperature":71.3,"desiredTemperature":72.5}`), PayloadBytes: 53, Properties: Properties{QoS: 1, ContentType: "application/json"}}},
	}, nil
}

func (f *fakeBackend) Map(ctx context.Context, req MapRequest) (*MapResult, error) {
	if f.mapHook != nil {
		return f.mapHook(ctx, req)
	}
	d, err := f.find(req.Asset, req.Dataset)
	if err != nil {
		return nil, err
	}
	res := &MapResult{Variables: Variables{Asset: d.Asset, Dataset: d.Dataset, Timestamp: fakeTimestamp}}
	prog, err := f.program(req, d)
	if err != nil {
		res.Err, res.CompileError = err.Error(), true
		return res, nil
	}
	if prog == nil { // a library mapping the fake does not know
		return nil, fmt.Errorf("map: %w", ErrNotFound)
	}
	dec := json.NewDecoder(bytes.NewReader(req.Input))
	dec.UseNumber()
	var input any
	if err := dec.Decode(&input); err != nil {
		return nil, fmt.Errorf("map: input: %w", ErrInvalid)
	}
	outs, err := prog.Run(ctx, input, d.Asset, d.Dataset, fakeTimestamp, map[string]any{})
	if err != nil {
		res.Err = err.Error()
		return res, nil
	}
	for _, o := range outs {
		b, err := json.Marshal(o)
		if err != nil {
			return nil, err
		}
		res.Outputs = append(res.Outputs, b)
		res.Messages = append(res.Messages, Message{Topic: d.Topic, Payload: b, PayloadBytes: len(b), Properties: Properties{QoS: 1, ContentType: "application/json"}})
	}
	return res, nil
}

// program is what req runs: its jq, its library mapping or the dataset's.
func (f *fakeBackend) program(req MapRequest, d Dataset) (*mapping.Program, error) {
	name, src := req.Mapping, req.Jq
	if name == "" && src == "" {
		name, src = d.MappingName, d.Jq
	}
	if name != "" {
		if m := f.library.Lookup(name); m != nil && m.Kind == plan.DatasetMapping {
			return m.Program, nil
		}
		return nil, nil
	}
	if src == "" {
		src = "."
	}
	return mapping.Compile(src, mapping.Options{Variables: plan.DatasetVariables})
}

func (f *fakeBackend) Mappings() []Mapping {
	var out []Mapping
	for _, m := range f.library.Mappings() {
		out = append(out, Mapping{Name: m.Name, Kind: string(m.Kind), Description: m.Description, Jq: m.Program.Source()})
	}
	return out
}

// The datasets of most tests: one healthy, one failing.
func healthy() Dataset {
	return Dataset{
		Asset: "boiler-1", Dataset: "status", Device: "boiler-plc", Endpoint: "rest", State: StateSampling,
		LastSample: time.Date(2026, 1, 1, 11, 59, 58, 0, time.UTC), LastPublish: time.Date(2026, 1, 1, 11, 59, 58, 0, time.UTC),
		LastMessage: []byte(`{"currentTemperature":71.3,"desiredTemperature":72.5}`), LastMessageBytes: 53,
		Topic: "plant/boiler-1/status", Interval: 4 * time.Second, Samples: 120, Messages: 120,
	}
}

func failing() Dataset {
	return Dataset{
		Asset: "chiller-7", Dataset: "telemetry", Device: "chiller-gw", Endpoint: "api", State: StateFailing,
		LastError:  "GET http://10.1.2.7/api/telemetry: dial tcp 10.1.2.7:80: connect: connection refused",
		LastSample: time.Date(2026, 1, 1, 11, 59, 59, 0, time.UTC), Topic: "plant/chiller-7/telemetry",
		Interval: time.Second, Samples: 40, Failures: 12, Messages: 28, MappingName: "thermostat/status",
	}
}

// call makes one request of the page and decodes its JSON answer into
// out (unless nil); it returns the status.
func call(t *testing.T, h http.Handler, method, target, body string, out any, headers ...string) (int, http.Header) {
	t.Helper()
	var r io.Reader
	if body != "" {
		r = strings.NewReader(body)
	}
	req := localRequest(method, target, r)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(headers); i += 2 {
		req.Header.Set(headers[i], headers[i+1])
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	if out != nil {
		if err := json.Unmarshal(rec.Body.Bytes(), out); err != nil {
			t.Fatalf("%s %s: %d, not JSON: %v\n%s", method, target, rec.Code, err, rec.Body)
		}
	}
	return rec.Code, rec.Header()
}

// localRequest is a request as a browser on the connector's machine
// sends it, to http://127.0.0.1:8080.
func localRequest(method, target string, body io.Reader) *http.Request {
	req := httptest.NewRequest(method, target, body)
	req.Host = "127.0.0.1:8080"
	return req
}

// apiError is the error answer of the API.
type apiError struct {
	Error string `json:"error"`
}
