package plan_test

import (
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/plan"
)

// ADR's JSON in Akri mode is not checked against the resource schema: the
// planner itself refuses what a schema enum would, naming the field.
func TestEnumsCheckedAtLoad(t *testing.T) {
	pl, err := plan.NewPlanner(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	device := func(method adr.AuthMethod) *adr.Device {
		return &adr.Device{Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
			"rest": {Address: "http://127.0.0.1:8080", EndpointType: "Microsoft.Http", Authentication: &adr.Authentication{Method: method}},
		}}}
	}
	if _, probs := pl.Endpoint("d", device("Kerberos"), "rest"); len(probs) != 1 || probs[0].Error() != `spec.endpoints.inbound.rest.authentication.method: "Kerberos" is not one of "Anonymous", "UsernamePassword", "Certificate"` {
		t.Errorf("unknown method: %v", probs)
	}
	ep, probs := pl.Endpoint("d", device(adr.AuthAnonymous), "rest")
	if len(probs) != 0 {
		t.Fatal(probs)
	}
	asset := func(qos adr.QoS, retain adr.Retain) *adr.Asset {
		return &adr.Asset{Datasets: []adr.Dataset{{Name: "s", DataSource: "/x", Destinations: []adr.Destination{{
			Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "t", Qos: qos, Retain: retain},
		}}}}}
	}
	for _, c := range []struct {
		qos    adr.QoS
		retain adr.Retain
		want   string
	}{
		{"Qos2", "", `spec.datasets[0].destinations[0]: configuration.qos: "Qos2" is not one of "Qos0", "Qos1"`},
		{"", "Always", `spec.datasets[0].destinations[0]: configuration.retain: "Always" is not one of "Keep", "Never"`},
		{adr.Qos0, adr.RetainKeep, ""},
	} {
		_, probs := pl.Asset("a", asset(c.qos, c.retain), ep)
		var got []string
		for _, p := range probs {
			got = append(got, p.Error())
		}
		if strings.Join(got, "\n") != c.want {
			t.Errorf("qos %q retain %q: problems %q, want %q", c.qos, c.retain, got, c.want)
		}
	}
}
