package folder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/logbuf"
	"github.com/http-connector/http-connector/internal/testing/mosquitto"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
)

// runConnector runs the standalone connector until the test ends.
func runConnector(t *testing.T, cfg fs.FS, brokerURL string) {
	t.Helper()
	s := settings.Defaults()
	s.Broker = brokerURL
	s.ClientID = "connector-" + strings.ReplaceAll(t.Name(), "/", "-")
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() {
		done <- connector.Run(ctx, folder.New(folder.Options{Settings: &s, Config: cfg, Display: "test", Logger: zerolog.Nop()}), connector.FromSettings(&s, zerolog.Nop()))
	}()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("connector: %v", err)
		}
	})
}

// The walkthrough, configuration only: the example device and asset against
// the example thermostat, on the embedded broker and on Mosquitto.
func TestThermostatWalkthrough(t *testing.T) {
	brokers := map[string]func(t *testing.T) string{
		"embedded": func(t *testing.T) string {
			b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
			if err != nil {
				t.Fatal(err)
			}
			t.Cleanup(func() { b.Close() })
			return b.URL()
		},
		"mosquitto": func(t *testing.T) string { return mosquitto.ForTest(t).URL() },
	}
	for name, start := range brokers {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			brokerURL := start(t)
			srv := httptest.NewServer(thermostat.New(1).Handler())
			defer srv.Close()
			fsys, err := thermostat.ConfigAt(strings.TrimPrefix(srv.URL, "http://"))
			if err != nil {
				t.Fatal(err)
			}
			sub := mqtttest.Listen(t, brokerURL, "test-subscriber-"+t.Name(), "machine/#")
			runConnector(t, fsys, brokerURL)

			msgs := sub.Wait(t, 2)
			for _, m := range msgs[:2] {
				if m.Topic != "machine/thermostat1/status" {
					t.Errorf("topic: got %q", m.Topic)
				}
				if m.QoS != 1 || m.Retain {
					t.Errorf("QoS %d retain %v, want QoS 1 and no retain", m.QoS, m.Retain)
				}
				if m.MessageExpiry == 0 || m.MessageExpiry > 60 {
					t.Errorf("message expiry: got %d, want the destination's ttl of 60 s (less the time in the broker)", m.MessageExpiry)
				}
				if m.ContentType != "application/json" {
					t.Errorf("content type: got %q", m.ContentType)
				}
				var payload map[string]any
				if err := json.Unmarshal(m.Payload, &payload); err != nil {
					t.Fatalf("payload %s: %v", m.Payload, err)
				}
				if len(payload) != 2 {
					t.Errorf("payload %s: want exactly currentTemperature and desiredTemperature", m.Payload)
				}
				for _, k := range []string{"currentTemperature", "desiredTemperature"} {
					v, ok := payload[k].(float64)
					if !ok || v < 68 || v > 77 {
						t.Errorf("payload %s: %s is %v, want a number in 68..77", m.Payload, k, payload[k])
					}
				}
			}
		})
	}
}

// A device that never answers must not delay another asset's samples: the
// healthy asset keeps publishing while the other device holds every
// request it gets until the connector gives up on it.
func TestHangingDeviceDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	var (
		mu        sync.Mutex
		hungSince time.Time // when the first request to hang arrived
		requests  int       // requests it got
	)
	hung := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		mu.Lock()
		if hungSince.IsZero() {
			hungSince = time.Now()
		}
		requests++
		mu.Unlock()
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hung.Close()
	defer close(release)
	healthy := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"v": 1}`)
	}))
	defer healthy.Close()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()

	resources := ""
	for i, addr := range []string{hung.URL, healthy.URL} {
		resources += fmt.Sprintf(`---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Device
metadata: {name: dev-%[1]d}
spec:
  endpoints: {inbound: {rest: {address: %[2]q, endpointType: Microsoft.Http}}}
---
apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: asset-%[1]d}
spec:
  deviceRef: {deviceName: dev-%[1]d, endpointName: rest}
  datasets:
    - name: d
      datasetConfiguration: '{"samplingInterval": 200}'
      dataPoints: [{name: v, dataSource: /v}]
      destinations: [{target: Mqtt, configuration: {topic: out/%[1]d}}]
`, i, addr)
	}
	sub := mqtttest.Listen(t, b.URL(), "test-subscriber-"+t.Name(), "out/#")
	runConnector(t, fstest.MapFS{"all.yaml": {Data: []byte(resources)}}, b.URL())

	msgs := sub.Wait(t, 10)
	mu.Lock()
	since, n := hungSince, requests
	mu.Unlock()
	if n == 0 {
		t.Fatal("the hanging device got no request")
	}
	after := 0
	for _, m := range msgs {
		if m.Topic != "out/1" {
			t.Fatalf("message from %s: the hanging device published", m.Topic)
		}
		if m.At.After(since) {
			after++
		}
	}
	// One sample before the other device hung is possible; the rest came
	// while it held its request.
	if after < len(msgs)-2 {
		t.Errorf("%d of the healthy asset's %d messages came while the other device hung", after, len(msgs))
	}
}

// A folder without resources runs, with a warning that names the
// subfolders it did not read.
func TestEmptyFolderWarnsOfSkippedSubfolders(t *testing.T) {
	cfg := fstest.MapFS{
		"config/device.yaml": {Data: []byte("kind: Device\n")},
		"server/main.go":     {Data: []byte("package main\n")},
		"mappings/m.yaml":    {Data: []byte("namespace: m\nmappings:\n  id:\n    kind: dataset\n    jq: .\n")},
		"README.md":          {Data: []byte("# notes\n")},
	}
	s := settings.Defaults()
	s.Broker = "mqtt://127.0.0.1:1883"
	logs := &logbuf.Buffer{}
	src := folder.New(folder.Options{Settings: &s, Config: cfg, Display: "examples/thermostat", Logger: zerolog.New(logs)})
	if _, err := src.Prepare(context.Background()); err != nil {
		t.Fatalf("Prepare: %v", err)
	}
	var warned map[string]any
	for _, r := range logs.Records() {
		if r["level"] == "warn" && strings.HasPrefix(r["message"].(string), "no Device or Asset resources") {
			warned = r
		}
	}
	if warned == nil {
		t.Fatalf("no warning for a folder without resources:\n%s", logs)
	}
	if got := fmt.Sprint(warned["skipped_subfolders"]); warned["folder"] != "examples/thermostat" || got != "[config server]" {
		t.Errorf("warning names folder %v and subfolders %s, want examples/thermostat and [config server]", warned["folder"], got)
	}
}
