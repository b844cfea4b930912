// Package exporter is a pump station's Prometheus exporter, as a Go HTTP
// handler, with the device and asset files that make http-connector pick
// a few of its series and publish them, with no Prometheus server in
// between.
//
// Taken from the Prometheus text exposition format 0.0.4, as exporters
// serve it at /metrics: Content-Type text/plain; version=0.0.4;
// charset=utf-8; a # HELP and a # TYPE line before each family; samples
// as name{label="value",…} value; a counter's name ending in _total; a
// histogram as cumulative name_bucket{le="…"} samples ending with
// le="+Inf", then name_sum and name_count; the exporter's own go_* and
// process_* families beside the ones it exports.
//
// Assumed, and simplified: two pumps, each with a run time counter and
// two temperature sensors, and one histogram of the station's discharge
// pressure; values change only when told (Run, SetTemperature, Observe),
// so that a test knows what was served; no timestamps, no exemplars, no
// OpenMetrics negotiation.
package exporter

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
	"sync"
)

// Pumps are the station's pumps, by label.
var Pumps = []string{"p1", "p2"}

// Sensors are each pump's temperature sensors, by label.
var Sensors = []string{"motor", "bearing"}

// PressureBuckets are the upper bounds of the pressure histogram's
// buckets, in bar.
var PressureBuckets = []float64{2, 4, 6, 8}

// Exporter is a simulated pump station exporter.
type Exporter struct {
	mu          sync.Mutex
	runtime     map[string]float64            // seconds, by pump
	temperature map[string]map[string]float64 // °C, by pump and sensor
	pressures   []float64                     // bar, every observation
	scrapes     int
}

// New returns the station as it is after a while: some run time, warm
// motors and a few pressure samples.
func New() *Exporter {
	e := &Exporter{
		runtime:     map[string]float64{"p1": 86412.5, "p2": 512.25},
		temperature: map[string]map[string]float64{"p1": {"motor": 61.5, "bearing": 48.25}, "p2": {"motor": 35, "bearing": 30.5}},
	}
	e.Observe(4.5, 5.25, 5.5, 7.75, 1.5)
	return e
}

// Run adds seconds to a pump's run time counter.
func (e *Exporter) Run(pump string, seconds float64) {
	e.mu.Lock()
	e.runtime[pump] += seconds
	e.mu.Unlock()
}

// SetTemperature sets what a pump's sensor reads.
func (e *Exporter) SetTemperature(pump, sensor string, celsius float64) {
	e.mu.Lock()
	e.temperature[pump][sensor] = celsius
	e.mu.Unlock()
}

// Observe adds pressure samples to the histogram.
func (e *Exporter) Observe(bar ...float64) {
	e.mu.Lock()
	e.pressures = append(e.pressures, bar...)
	e.mu.Unlock()
}

// Runtime is a pump's run time counter.
func (e *Exporter) Runtime(pump string) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.runtime[pump]
}

// Temperature is what a pump's sensor reads.
func (e *Exporter) Temperature(pump, sensor string) float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.temperature[pump][sensor]
}

// Pressures are the histogram's observations.
func (e *Exporter) Pressures() []float64 {
	e.mu.Lock()
	defer e.mu.Unlock()
	return append([]float64(nil), e.pressures...)
}

// Scrapes is how many times /metrics was served.
func (e *Exporter) Scrapes() int {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.scrapes
}

// Handler serves GET /metrics.
func (e *Exporter) Handler() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /metrics", func(w http.ResponseWriter, r *http.Request) {
		e.mu.Lock()
		e.scrapes++
		text := e.exposition()
		e.mu.Unlock()
		w.Header().Set("Content-Type", "text/plain; version=0.0.4; charset=utf-8")
		_, _ = w.Write([]byte(text))
	})
	return mux
}

// exposition is the text of every family.
func (e *Exporter) exposition() string {
	var b strings.Builder
	family := func(name, typ, help string) {
		fmt.Fprintf(&b, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, typ)
	}
	family("go_goroutines", "gauge", "Number of goroutines that currently exist.")
	b.WriteString("go_goroutines 9\n")
	family("process_cpu_seconds_total", "counter", "Total user and system CPU time spent in seconds.")
	fmt.Fprintf(&b, "process_cpu_seconds_total %s\n", num(0.01*float64(e.scrapes)))
	family("pump_discharge_pressure_bar", "histogram", "Discharge pressure of the station, sampled every second.")
	var sum float64
	for _, p := range e.pressures {
		sum += p
	}
	for _, le := range PressureBuckets {
		fmt.Fprintf(&b, "pump_discharge_pressure_bar_bucket{le=%q} %d\n", num(le), countUpTo(e.pressures, le))
	}
	fmt.Fprintf(&b, "pump_discharge_pressure_bar_bucket{le=\"+Inf\"} %d\n", len(e.pressures))
	fmt.Fprintf(&b, "pump_discharge_pressure_bar_sum %s\npump_discharge_pressure_bar_count %d\n", num(sum), len(e.pressures))
	family("pump_runtime_seconds_total", "counter", "Time the pump's motor has run.")
	for _, p := range Pumps {
		fmt.Fprintf(&b, "pump_runtime_seconds_total{pump=%q} %s\n", p, num(e.runtime[p]))
	}
	family("pump_temperature_celsius", "gauge", "Temperature of a pump, by sensor.")
	for _, p := range Pumps {
		for _, s := range Sensors {
			fmt.Fprintf(&b, "pump_temperature_celsius{pump=%q,sensor=%q} %s\n", p, s, num(e.temperature[p][s]))
		}
	}
	return b.String()
}

// countUpTo is how many of vs are at most le.
func countUpTo(vs []float64, le float64) int {
	n := 0
	for _, v := range vs {
		if v <= le {
			n++
		}
	}
	return n
}

func num(v float64) string { return strconv.FormatFloat(v, 'g', -1, 64) }
