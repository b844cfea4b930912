package plan_test

import (
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/plan"
)

// An asset written as Microsoft's REST connector documentation writes it
// runs unchanged: samplingIntervalInMilliseconds, a dataset without data
// points that GETs the endpoint address joined with its dataSource.
func TestMicrosoftRESTConnectorDataset(t *testing.T) {
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	dev := &adr.Device{Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"rest": {Address: "https://127.0.0.1:8443/base", EndpointType: "Microsoft.Http"},
	}}}
	ep, probs := pl.Endpoint("hall-3", dev, "rest")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	asset := func(config string) *adr.Asset {
		return &adr.Asset{Datasets: []adr.Dataset{{Name: "thermostat_status", DataSource: "/api/thermostat", DatasetConfiguration: config,
			Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "t"}}}}}}
	}
	a, aprobs := pl.Asset("a", asset(`{"samplingIntervalInMilliseconds": 2500}`), ep)
	if len(aprobs) > 0 {
		t.Fatal(aprobs)
	}
	d := a.Datasets[0]
	if d.Interval.Milliseconds() != 2500 || len(d.Requests) != 1 || d.Requests[0].Method != "GET" || d.Requests[0].URL.String() != "https://127.0.0.1:8443/base/api/thermostat" {
		t.Errorf("dataset: interval %v, requests %+v", d.Interval, d.Requests)
	}
	_, aprobs = pl.Asset("a", asset(`{"samplingIntervalInMilliseconds": 2500, "SamplingInterval": 1000}`), ep)
	if len(aprobs) != 1 || aprobs[0].Error() != "spec.datasets[0].datasetConfiguration: SamplingInterval and samplingIntervalInMilliseconds are one setting, the sampling interval: give one" {
		t.Errorf("two spellings: %v", aprobs)
	}
}
