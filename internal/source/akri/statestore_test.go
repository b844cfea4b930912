package akri_test

import (
	"encoding/json"
	"fmt"
	"net/http"
	"sync/atomic"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/statestorefake"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// steadyDevice always answers the same reading, counting requests.
type steadyDevice struct{ requests atomic.Int64 }

func (d *steadyDevice) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	d.requests.Add(1)
	w.Header().Set("Content-Type", "application/json")
	fmt.Fprint(w, `{"currentTemperature": 70.5}`)
}

// A BrokerStateStore destination SETs each message under its key, beside
// the MQTT one; and what a dataset's samples carry over (here the last
// published values of report by exception) lives in the state store, so
// that a restarted connector does not publish an unchanged value again.
func TestAkriStateStore(t *testing.T) {
	device := &steadyDevice{}
	asset := adr.Asset{
		DeviceRef: adr.DeviceRef{DeviceName: "thermostat", EndpointName: "rest"},
		Version:   u64(1),
		Datasets: []adr.Dataset{{
			Name:                 "status",
			DataSource:           "/api/thermostat/current",
			DatasetConfiguration: `{"samplingInterval": 100, "report": {"onChange": true}}`,
			Destinations: []adr.Destination{
				{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "plant/steady", Qos: adr.Qos1}},
				{Target: adr.TargetBrokerStateStore, Configuration: adr.DestinationConfiguration{Key: "thermostat-1/latest"}},
			},
		}},
	}
	h := startHarnessWith(t, map[string]adr.Asset{"steady": asset}, "steady\n", setup{handler: device})
	store, err := statestorefake.Start(h.ctx, mqtttest.Connect(t, h.broker.URL(), "statestore"), statestorefake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(store.Close)

	wait.For(t, "the message in the state store", func() bool {
		v, ok := store.Value([]byte("thermostat-1/latest"))
		return ok && string(v) == `{"currentTemperature": 70.5}`
	})
	wait.For(t, "more samples, suppressed", func() bool { return device.requests.Load() >= 10 })
	if n := len(h.in.On("plant/steady")); n != 1 {
		t.Errorf("%d MQTT messages of an unchanged value, want 1", n)
	}
	if err := h.stop(); err != nil {
		t.Fatal(err)
	}
	key := "http-connector/" + connectorID + "/steady/status"
	raw, ok := store.Value([]byte(key))
	var st map[string]any
	if !ok || json.Unmarshal(raw, &st) != nil || st["last"] == nil {
		t.Fatalf("state under %s: %s (found %v)", key, raw, ok)
	}

	before := device.requests.Load()
	h.start(t)
	wait.For(t, "samples after the restart", func() bool { return device.requests.Load() >= before+5 })
	if n := len(h.in.On("plant/steady")); n != 1 {
		t.Errorf("%d MQTT messages after a restart with an unchanged value, want still 1: the last published value was not kept", n)
	}
	if v := store.Violations(); len(v) > 0 {
		t.Errorf("state store protocol violations: %v", v)
	}
}
