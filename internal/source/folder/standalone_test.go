package folder_test

import (
	"context"
	"encoding/json"
	"fmt"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"sync"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/connector"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/settings"
	"github.com/http-connector/http-connector/internal/source/folder"
	"github.com/http-connector/http-connector/internal/testing/mosquitto"
)

// subscriber collects the messages of one topic filter.
type subscriber struct {
	mu   sync.Mutex
	msgs []received
	got  chan struct{}
}

type received struct {
	mqttclient.Message
	at time.Time
}

func subscribe(t *testing.T, brokerURL, filter string) *subscriber {
	t.Helper()
	u, err := url.Parse(brokerURL)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := mqttclient.Connect(ctx, mqttclient.Options{Servers: []*url.URL{u}, ClientID: "test-subscriber-" + t.Name(), KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop()})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
		defer cancel()
		_ = c.Close(ctx)
	})
	s := &subscriber{got: make(chan struct{}, 1000)}
	if err := c.Subscribe(ctx, filter, 1, func(m mqttclient.Message) {
		s.mu.Lock()
		s.msgs = append(s.msgs, received{m, time.Now()})
		s.mu.Unlock()
		s.got <- struct{}{}
	}); err != nil {
		t.Fatal(err)
	}
	wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	if err := c.AwaitConnection(wctx); err != nil {
		t.Fatal(err)
	}
	return s
}

func (s *subscriber) wait(t *testing.T, n int, timeout time.Duration) []received {
	t.Helper()
	deadline := time.After(timeout)
	for {
		s.mu.Lock()
		if len(s.msgs) >= n {
			out := append([]received(nil), s.msgs...)
			s.mu.Unlock()
			return out
		}
		s.mu.Unlock()
		select {
		case <-s.got:
		case <-deadline:
			t.Fatalf("got %d messages in %v, want %d", len(s.msgs), timeout, n)
		}
	}
}

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
			sub := subscribe(t, brokerURL, "machine/#")
			runConnector(t, fsys, brokerURL)

			msgs := sub.wait(t, 2, 12*time.Second)
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
			if gap := msgs[1].at.Sub(msgs[0].at); gap < 3500*time.Millisecond || gap > 4500*time.Millisecond {
				t.Errorf("messages %v apart, want the 4 s sampling interval", gap)
			}
		})
	}
}

// A device that never answers must not delay another asset's samples.
func TestHangingDeviceDoesNotDelayOthers(t *testing.T) {
	t.Parallel()
	release := make(chan struct{})
	hanging := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		select {
		case <-release:
		case <-r.Context().Done():
		}
	}))
	defer hanging.Close()
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
	for i, addr := range []string{hanging.URL, healthy.URL} {
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
	sub := subscribe(t, b.URL(), "out/#")
	runConnector(t, fstest.MapFS{"all.yaml": {Data: []byte(resources)}}, b.URL())

	msgs := sub.wait(t, 10, 5*time.Second)
	for i, m := range msgs {
		if m.Topic != "out/1" {
			t.Fatalf("message from %s: the hanging device published", m.Topic)
		}
		if i > 0 {
			if gap := m.at.Sub(msgs[i-1].at); gap > 350*time.Millisecond {
				t.Errorf("healthy asset: %v between samples %d and %d, want about 200 ms", gap, i-1, i)
			}
		}
	}
}
