package plan_test

import (
	"fmt"
	"runtime"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/plan"
)

// benchThermostat is thermostat id as a device and an asset, as the
// benchmark's generated files hold them.
func benchThermostat(id int) (*adr.Device, *adr.Asset) {
	enabled := true
	d := &adr.Device{Enabled: &enabled, Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"rest": {Address: fmt.Sprintf("http://127.0.0.1:3100/api/thermostat/%d", id), EndpointType: "Microsoft.Http", Authentication: &adr.Authentication{Method: adr.AuthAnonymous}},
	}}}
	a := &adr.Asset{
		DeviceRef: adr.DeviceRef{DeviceName: fmt.Sprintf("thermostat-%05d", id), EndpointName: "rest"},
		Datasets: []adr.Dataset{{
			Name:                 "thermostat_status",
			DatasetConfiguration: `{"samplingInterval": 1000}`,
			DataPoints: []adr.DataPoint{
				{Name: "currentTemperature", DataSource: "/current", DataPointConfiguration: `{"HttpRequestMethod": "GET"}`},
				{Name: "desiredTemperature", DataSource: "/desired", DataPointConfiguration: `{"HttpRequestMethod": "GET"}`},
			},
			Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: fmt.Sprintf("bench/thermostat/%d/status", id), Qos: adr.Qos1, Retain: adr.RetainNever}}},
		}},
	}
	return d, a
}

// BenchmarkPlanAsset plans one thermostat (its endpoint and its asset with
// two data points): schema validation of the configuration strings,
// requests, destinations. One op is one asset; retained-B/asset is the heap
// that 10,000 planned assets keep.
func BenchmarkPlanAsset(b *testing.B) {
	const n = 10000
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		b.Fatal(err)
	}
	devices := make([]*adr.Device, n)
	assets := make([]*adr.Asset, n)
	for i := range n {
		devices[i], assets[i] = benchThermostat(i + 1)
	}
	build := func(i int) *plan.Asset {
		name := fmt.Sprintf("thermostat-%05d", i+1)
		ep, probs := pl.Endpoint(name, devices[i], "rest")
		if len(probs) > 0 {
			b.Fatal(probs)
		}
		a, probs := pl.Asset(name, assets[i], ep)
		if len(probs) > 0 {
			b.Fatal(probs)
		}
		return a
	}

	kept := make([]*plan.Asset, n)
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	for i := range n {
		kept[i] = build(i)
	}
	runtime.GC()
	runtime.ReadMemStats(&after)
	retained := float64(after.HeapAlloc-before.HeapAlloc) / n
	runtime.KeepAlive(kept)

	b.ReportAllocs()
	i := 0
	for b.Loop() {
		build(i % n)
		i++
	}
	b.ReportMetric(retained, "retained-B/asset")
}
