package config_test

import (
	"errors"
	"flag"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/reference"
)

var update = flag.Bool("update", false, "rewrite the want.err files of testdata/invalid")

func newLoader(t *testing.T) *config.Loader {
	t.Helper()
	l, err := config.NewLoader(plan.Defaults{SamplingInterval: time.Second, RequestTimeout: 10 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return l
}

// TestInvalid loads every folder of testdata/invalid (one defect each) and
// compares the full error text with its want.err.
func TestInvalid(t *testing.T) {
	cases, err := os.ReadDir("testdata/invalid")
	if err != nil {
		t.Fatal(err)
	}
	if len(cases) == 0 {
		t.Fatal("testdata/invalid is empty")
	}
	l := newLoader(t)
	for _, c := range cases {
		t.Run(c.Name(), func(t *testing.T) {
			dir := filepath.Join("testdata/invalid", c.Name())
			_, err := l.LoadDir(os.DirFS(dir), ".", c.Name())
			if err == nil {
				t.Fatal("loaded without error")
			}
			var errs config.Errors
			if !errors.As(err, &errs) {
				t.Fatalf("error is %T, want config.Errors", err)
			}
			compareWantErr(t, dir, err)
		})
	}
}

// compareWantErr compares the full text of a load error with dir/want.err,
// or rewrites that file under -update.
func compareWantErr(t *testing.T, dir string, err error) {
	t.Helper()
	got := err.Error() + "\n"
	wantFile := filepath.Join(dir, "want.err")
	if *update {
		if err := os.WriteFile(wantFile, []byte(got), 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, rerr := os.ReadFile(wantFile)
	if rerr != nil {
		t.Fatalf("%v (run go test -update to create it)", rerr)
	}
	if got != string(want) {
		t.Errorf("errors differ\ngot:\n%s\nwant:\n%s", got, want)
	}
}

func TestQuirksLoad(t *testing.T) {
	cfg, err := newLoader(t).LoadDir(os.DirFS("testdata/valid/quirks"), ".", "quirks")
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]*plan.Asset{}
	for _, a := range cfg.Assets {
		byName[a.Name] = a
	}
	if len(byName) != 4 {
		t.Fatalf("assets: got %d, want 4 (one, two, three, four)", len(byName))
	}
	if byName["two"].Enabled {
		t.Error("asset two: enabled: false was not read")
	}
	if got := len(cfg.Active()); got != 3 {
		t.Errorf("active assets: got %d, want 3", got)
	}

	one := byName["one"]
	defaults, own := one.Datasets[0], one.Datasets[1]
	if defaults.Interval != 2500*time.Millisecond {
		t.Errorf("defaults interval: got %v, want 2.5s from defaultDatasetsConfiguration", defaults.Interval)
	}
	if defaults.Timeout != 2*time.Second {
		t.Errorf("defaults timeout: got %v, want 2s (80%% of the interval)", defaults.Timeout)
	}
	if own.Interval != 500*time.Millisecond || own.Timeout != 100*time.Millisecond {
		t.Errorf("own: interval %v timeout %v, want 500ms and 100ms", own.Interval, own.Timeout)
	}
	if got := byName["three"].Datasets[0].Interval; got != time.Second {
		t.Errorf("connector default interval: got %v, want 1s", got)
	}
	if got := byName["four"].Datasets[0].Interval; got != 700*time.Millisecond {
		t.Errorf("dataset samplingInterval over asset SamplingInterval: got %v, want 700ms", got)
	}

	// a and b resolve to the same request: fetched once per sample.
	if len(defaults.Requests) != 2 {
		t.Fatalf("requests: got %d, want 2 (a and b share one)", len(defaults.Requests))
	}
	wantURLs := []string{"http://127.0.0.1:8080/base/status", "http://127.0.0.1:9000/elsewhere?x=1"}
	for i, r := range defaults.Requests {
		if r.Method != http.MethodGet || r.URL.String() != wantURLs[i] {
			t.Errorf("request %d: got %s %s, want GET %s", i, r.Method, r.URL, wantURLs[i])
		}
	}
	if defaults.Points[0].Request != defaults.Points[1].Request {
		t.Error("points a and b do not share their request")
	}
	if got := defaults.Targets[0]; got.Topic != "plant/one" || got.QoS != 1 || got.Retain || got.Expiry != 0 {
		t.Errorf("default destination: got %+v, want plant/one QoS 1, no retain, no expiry", got)
	}

	post := own.Requests[0]
	if post.Method != http.MethodPost || post.URL.String() != "http://127.0.0.1:8080/base/api/query?unit=F" {
		t.Errorf("posted: got %s %s", post.Method, post.URL)
	}
	if string(post.Body) != `{"q":1}` || post.Header.Get("Content-Type") != "application/json" || post.Header.Get("X-Trace") != "yes" {
		t.Errorf("posted: body %q headers %v", post.Body, post.Header)
	}

	raw := byName["two"].Datasets[0]
	if len(raw.Points) != 0 || len(raw.Requests) != 1 || raw.Requests[0].URL.String() != "http://127.0.0.1:8080/base/raw" {
		t.Errorf("dataset without points: %d points, requests %v", len(raw.Points), raw.Requests)
	}
	if got := raw.Targets[0]; got.QoS != 0 || !got.Retain || got.Expiry != 30 {
		t.Errorf("raw destination: got %+v, want QoS 0, retain, 30 s", got)
	}
}

func TestThermostatExample(t *testing.T) {
	cfg, err := newLoader(t).LoadDir(thermostat.Config(), ".", "examples/thermostat/config")
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Assets) != 1 || len(cfg.Assets[0].Datasets) != 1 {
		t.Fatalf("got %d assets, want 1 with 1 dataset", len(cfg.Assets))
	}
	d := cfg.Assets[0].Datasets[0]
	if d.Name != "thermostat_status" || d.Interval != 4*time.Second || d.Mapping != nil {
		t.Errorf("dataset: %s every %v (mapping %v), want thermostat_status every 4s, no mapping", d.Name, d.Interval, d.Mapping != nil)
	}
	var urls []string
	for _, r := range d.Requests {
		urls = append(urls, r.Method+" "+r.URL.String())
	}
	want := "GET http://localhost:3000/api/thermostat/current GET http://localhost:3000/api/thermostat/desired"
	if got := strings.Join(urls, " "); got != want {
		t.Errorf("requests: got %s, want %s", got, want)
	}
	if got := d.Targets; len(got) != 1 || got[0] != (plan.Destination{Topic: "machine/thermostat1/status", QoS: 1, Expiry: 60}) {
		t.Errorf("destinations: got %+v", got)
	}
}

// The upstream sample resources load as they are, except what is not ours
// to sample: a CoAP endpoint and a state-store destination.
func TestUpstreamSamples(t *testing.T) {
	ref := reference.Dir()
	if _, err := os.Stat(ref); err != nil {
		t.Fatalf("reference data not found beside the repository: %v", err)
	}
	l := newLoader(t)

	cfg, err := l.LoadDir(os.DirFS(ref+"/eng/test/test-adr-resources"), ".", "test-adr-resources")
	var errs config.Errors
	if !errors.As(err, &errs) {
		t.Fatalf("test-adr-resources: got %v, want the CoAP problems", err)
	}
	for _, e := range errs {
		if !strings.Contains(e.Error(), "coap") && !strings.Contains(e.Error(), "CoapRequestMethod") {
			t.Errorf("unexpected problem: %v", e)
		}
	}
	_ = cfg

	// The REST asset alone, with its device, loads: trailing commas,
	// samplingInterval 4000, HttpRequestMethod GET, topic with a leading '/'.
	dir := t.TempDir()
	for _, f := range []string{"rest-asset.yaml", "my-thermostat-device.yaml"} {
		b, err := os.ReadFile(filepath.Join(ref, "eng/test/test-adr-resources", f))
		if err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(filepath.Join(dir, f), b, 0o644); err != nil {
			t.Fatal(err)
		}
	}
	cfg, err = l.LoadDir(os.DirFS(dir), ".", "rest")
	if err != nil {
		t.Fatal(err)
	}
	d := cfg.Assets[0].Datasets[0]
	if d.Interval != 4*time.Second || len(d.Requests) != 2 || d.Targets[0].Topic != "/mqtt/machine/status" {
		t.Errorf("rest asset: interval %v, %d requests, targets %+v", d.Interval, len(d.Requests), d.Targets)
	}

	// The PollingRestThermostatConnector sample: asset1 loads (a dataset
	// with a dataSource and no data points); asset2's state store
	// destination is refused standalone, where there is no state store.
	_, err = l.LoadDir(os.DirFS(ref+"/dotnet/samples/Connectors/PollingRestThermostatConnector/KubernetesResources"), ".", "KubernetesResources")
	want := `KubernetesResources/connector-template.yaml:2: kind: "ConnectorTemplate" is not supported: expected Device or Asset
KubernetesResources/rest-server-asset2-definition.yaml:15: asset "my-rest-thermostat-asset2" dataset "weather-sensor-dataset": spec.datasets[0].destinations[0]: target BrokerStateStore writes to the AIO broker state store, which only Akri mode has: standalone, use an Mqtt destination`
	if err == nil || err.Error() != want {
		t.Fatalf("sample resources: got\n%v\nwant\n%s", err, want)
	}
}

// Every configuration under examples/ loads, so the walkthroughs cannot rot.
func TestExamplesLoad(t *testing.T) {
	l := newLoader(t)
	dirs, _ := filepath.Glob("../../examples/*/config")
	if len(dirs) == 0 {
		t.Fatal("no examples/*/config folders")
	}
	for _, dir := range dirs {
		if _, err := l.LoadDir(os.DirFS(dir), ".", dir); err != nil {
			t.Errorf("%s:\n%v", dir, err)
		}
	}
	// The Azure IoT Operations example: its Device and Asset resources.
	aio := fstest.MapFS{}
	for _, f := range []string{"thermostat-device.yaml", "thermostat-asset.yaml"} {
		b, err := os.ReadFile(filepath.Join("../../examples/aio", f))
		if err != nil {
			t.Fatal(err)
		}
		aio[f] = &fstest.MapFile{Data: b}
	}
	// Standalone, its state store destination is refused, and nothing
	// else (examples/aio TestWalkthroughResourcesPlan plans it as Akri
	// mode does).
	_, err := l.LoadDir(aio, ".", "examples/aio")
	want := `examples/aio/thermostat-asset.yaml:35: asset "my-rest-thermostat-asset" dataset "thermostat_status": spec.datasets[0].destinations[1]: target BrokerStateStore writes to the AIO broker state store, which only Akri mode has: standalone, use an Mqtt destination`
	if err == nil || err.Error() != want {
		t.Errorf("examples/aio standalone: %v\nwant %s", err, want)
	}
}
