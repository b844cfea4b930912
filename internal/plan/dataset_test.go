package plan_test

import (
	"strings"
	"testing"
	"time"

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

// Requests that change with each sample are templates, checked when the
// configuration loads; every mistake names its field.
func TestRequestTemplates(t *testing.T) {
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	dev := &adr.Device{Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"rest": {Address: "http://127.0.0.1:8080/api", EndpointType: "Microsoft.Http"},
	}}}
	ep, probs := pl.Endpoint("hist", dev, "rest")
	if len(probs) > 0 {
		t.Fatal(probs)
	}
	asset := func(source, config string) *adr.Asset {
		return &adr.Asset{Attributes: map[string]string{"line": "L 3"}, Datasets: []adr.Dataset{{Name: "d", DataSource: source, DatasetConfiguration: config,
			Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "t"}}}}}}
	}
	a, aprobs := pl.Asset("a", asset("/lines/${attribute:line}/history?from=${previous:unix}&to=${now:unix}", `{"cursor": {"jq": ".[-1].id"}, "headers": {"X-After": "${cursor}"}}`), ep)
	if len(aprobs) > 0 {
		t.Fatal(aprobs)
	}
	d := a.Datasets[0]
	tmpl := d.Requests[0].Template
	if tmpl == nil || !d.Stateful() {
		t.Fatalf("want a template and a stateful dataset: %+v", d.Requests[0])
	}
	now := time.Unix(1_800_000_060, 0)
	r, err := tmpl.Render(plan.Vars{Now: now, Previous: now.Add(-time.Minute), Cursor: "41"})
	if err != nil {
		t.Fatal(err)
	}
	if got := r.URL.String(); got != "http://127.0.0.1:8080/api/lines/L%203/history?from=1800000000&to=1800000060" || r.Header.Get("X-After") != "41" {
		t.Errorf("rendered %s, X-After %q", got, r.Header.Get("X-After"))
	}
	// A JSON body's strings are filled in place, $$ standing for $.
	b, bprobs := pl.Asset("a", asset("/query", `{"HttpRequestMethod": "POST", "body": {"from": "${now:unix}", "key": "pa$$word", "ids": ["x", "${cursor}"]}, "cursor": {"jq": ".id"}}`), ep)
	if len(bprobs) > 0 {
		t.Fatal(bprobs)
	}
	br, err := b.Datasets[0].Requests[0].Template.Render(plan.Vars{Now: now, Cursor: "41"})
	if err != nil {
		t.Fatal(err)
	}
	if got, want := string(br.Body), `{"from":"1800000060","ids":["x","41"],"key":"pa$word"}`; got != want {
		t.Errorf("body %s, want %s", got, want)
	}
	static, sprobs := pl.Asset("a", asset("/lines/${attribute:line}", ""), ep)
	if len(sprobs) > 0 || static.Datasets[0].Requests[0].Template != nil || static.Datasets[0].Requests[0].URL.Path != "/api/lines/L 3" {
		t.Errorf("an attribute alone is filled in when the configuration loads: %+v %v", static.Datasets[0].Requests[0], sprobs)
	}
	tests := []struct{ source, config, want string }{
		{"/h?from=${since}", "", `spec.datasets[0].dataSource: at offset 0: unknown placeholder ${since}: want ${username}, ${password} or ${secret:NAME}, or the request's ${now}, ${previous}, ${cursor} and ${attribute:NAME}`},
		{"/h?from=${now:iso}", "", `spec.datasets[0].dataSource: at offset 0: ${now:iso}: the time format is rfc3339 (the default), rfc3339ms, unix or unixms`},
		{"/h/${attribute:site}", "", `spec.datasets[0].dataSource: at offset 3: ${attribute:site}: the asset has no attribute "site" (it has "line")`},
		{"/h?after=${cursor}", "", `spec.datasets[0].datasetConfiguration: a request uses ${cursor}, but there is no cursor: give cursor.jq, what a sample takes from its input for the next`},
		{"/h", `{"pages": {"next": "more"}}`, `spec.datasets[0].datasetConfiguration.pages.next: "more": want "link", or an object with url, cursor, page or offset`},
	}
	for _, tt := range tests {
		_, probs := pl.Asset("a", asset(tt.source, tt.config), ep)
		var got []string
		for _, p := range probs {
			got = append(got, p.Error())
		}
		if strings.Join(got, "\n") != tt.want {
			t.Errorf("%s %s:\n got %q\nwant %q", tt.source, tt.config, got, tt.want)
		}
	}
}
