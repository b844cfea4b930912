package exporter

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net/http"
	"net/http/httptest"
	"reflect"
	"strconv"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

func TestExposition(t *testing.T) {
	srv := httptest.NewServer(New().Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); ct != "text/plain; version=0.0.4; charset=utf-8" {
		t.Errorf("Content-Type %q", ct)
	}
	for _, line := range []string{
		"# TYPE pump_runtime_seconds_total counter",
		`pump_runtime_seconds_total{pump="p1"} 86412.5`,
		"# TYPE pump_temperature_celsius gauge",
		`pump_temperature_celsius{pump="p1",sensor="bearing"} 48.25`,
		"# TYPE pump_discharge_pressure_bar histogram",
		`pump_discharge_pressure_bar_bucket{le="6"} 4`,
		`pump_discharge_pressure_bar_bucket{le="+Inf"} 5`,
		"pump_discharge_pressure_bar_sum 24.5",
		"pump_discharge_pressure_bar_count 5",
		"go_goroutines 9",
	} {
		if !strings.Contains(string(b), "\n"+line+"\n") {
			t.Errorf("no line %q in\n%s", line, b)
		}
	}
}

// temperatures is the message of the temperatures dataset for e.
func temperatures(e *Exporter) any {
	m := map[string]any{}
	for _, p := range Pumps {
		by := map[string]any{}
		for _, s := range Sensors {
			if v := e.Temperature(p, s); math.IsNaN(v) {
				by[s] = "NaN" // JSON has no NaN: the format makes it a string
			} else {
				by[s] = v
			}
		}
		m[p] = by
	}
	return m
}

// pumps is the message of the pumps dataset for e, worked out from its
// state rather than from the text it serves.
func pumps(e *Exporter) any {
	cents := func(v float64) float64 { return math.Round(v*100) / 100 }
	hours := map[string]any{}
	for _, p := range Pumps {
		hours[p] = cents(e.Runtime(p) / 3600)
	}
	obs := e.Pressures()
	buckets := map[string]any{"+Inf": float64(len(obs))}
	sum := 0.0
	for _, v := range obs {
		sum += v
	}
	for _, le := range PressureBuckets {
		n := 0
		for _, v := range obs {
			if v <= le {
				n++
			}
		}
		buckets[strconv.FormatFloat(le, 'g', -1, 64)] = float64(n)
	}
	return map[string]any{
		"runtimeHours": hours,
		"pressure":     map[string]any{"count": float64(len(obs)), "sum": sum, "mean": cents(sum / float64(len(obs))), "buckets": buckets},
	}
}

// The example's configuration against the exporter: each dataset picks
// its series out of every family the exporter serves, the gauge by its
// labels, the counters and the histogram's samples, before and after the
// station changes (a sensor disconnected reads NaN).
func TestSeriesPicked(t *testing.T) {
	e := New()
	srv := httptest.NewServer(e.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "water/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"),
		`"samplingInterval": 15000`, `"samplingInterval": 100`,
		`"samplingInterval": 60000`, `"samplingInterval": 100`)
	run := startConnector(t, dir, broker.URL(), nil)

	waitMessage(t, inbox, "water/pump-station-7/temperatures", temperatures(e))
	waitMessage(t, inbox, "water/pump-station-7/pumps", pumps(e))
	e.SetTemperature("p2", "motor", 72.25)
	e.SetTemperature("p1", "bearing", math.NaN()) // its sensor disconnected
	e.SetTemperature("p2", "bearing", -0.5)
	e.Run("p2", 5400)
	e.Observe(1.25, 9.5, 3.75)
	waitMessage(t, inbox, "water/pump-station-7/temperatures", temperatures(e))
	waitMessage(t, inbox, "water/pump-station-7/pumps", pumps(e))
	run.Stop(t)
	if s := run.Record(t, "stopped"); s["failed_samples"] != 0.0 {
		t.Errorf("stopped: %v, want no failed sample", s)
	}
}

// waitMessage waits for a message on topic whose payload is want, as JSON.
func waitMessage(t *testing.T, inbox *mqtttest.Inbox, topic string, want any) {
	t.Helper()
	wait.Until(t, fmt.Sprintf("message %v on %s", want, topic), func() error {
		msgs := inbox.On(topic)
		for _, m := range msgs {
			var got any
			if err := json.Unmarshal(m.Payload, &got); err != nil {
				return fmt.Errorf("%s: %w", m.Payload, err)
			}
			if reflect.DeepEqual(got, want) {
				return nil
			}
		}
		if len(msgs) == 0 {
			return fmt.Errorf("no message")
		}
		return fmt.Errorf("the last is %s", msgs[len(msgs)-1].Payload)
	})
}
