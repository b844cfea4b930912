package adrclient_test

import (
	"context"
	"encoding/json"
	"errors"
	"reflect"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
)

func TestTopics(t *testing.T) {
	if got, want := adrclient.CommandTopic("rest-ctemplate-0", "my-thermostat", "my-rest-endpoint", "getAsset"),
		"akri/connector/resources/rest-ctemplate-0/my-thermostat/my-rest-endpoint/getAsset"; got != want {
		t.Errorf("CommandTopic = %s, want %s", got, want)
	}
	if got, want := aiorpc.ResponseTopic("rest-ctemplate-0", adrclient.CommandTopic("rest-ctemplate-0", "my-thermostat", "my-rest-endpoint", "getAsset")),
		"clients/rest-ctemplate-0/akri/connector/resources/rest-ctemplate-0/my-thermostat/my-rest-endpoint/getAsset"; got != want {
		t.Errorf("response topic = %s, want %s", got, want)
	}
	if got, want := adrclient.TelemetryTopic("c", "d", "e", "deviceUpdateEvent"),
		"akri/connector/resources/telemetry/c/d/e/deviceUpdateEvent"; got != want {
		t.Errorf("TelemetryTopic = %s, want %s", got, want)
	}
}

func TestGetDevice(t *testing.T) {
	e := setup(t)
	got, err := e.client.GetDevice(context.Background(), device, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	want := testDevices()[device]
	want.Endpoints = &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{endpoint: want.Endpoints.Inbound[endpoint]}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	calls := e.fake.Calls("getDevice")
	if len(calls) != 1 {
		t.Fatalf("%d getDevice calls, want 1", len(calls))
	}
	req := calls[0].Request
	if calls[0].ClientID != connectorID || calls[0].Device != device || calls[0].Endpoint != endpoint {
		t.Errorf("call %+v", calls[0])
	}
	if len(req.Payload) != 0 || req.ContentType != "" || req.UTF8Payload {
		t.Errorf("getDevice payload %q content type %q PFI %v, want empty and none", req.Payload, req.ContentType, req.UTF8Payload)
	}
}

func TestGetAssetAndServiceErrors(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	got, err := e.client.GetAsset(ctx, device, endpoint, asset)
	if err != nil {
		t.Fatal(err)
	}
	if want := testAssets()[asset]; !reflect.DeepEqual(got, want) {
		t.Errorf("got  %+v\nwant %+v", got, want)
	}
	if req := e.fake.Calls("getAsset")[0].Request; string(req.Payload) != `{"assetName":"my-rest-thermostat-asset"}` || req.ContentType != "application/json" {
		t.Errorf("getAsset request %s (%s)", req.Payload, req.ContentType)
	}

	tests := []struct {
		name string
		call func() error
		want adrclient.ServiceError
	}{
		{"unknown asset", func() error { _, err := e.client.GetAsset(ctx, device, endpoint, "nope"); return err },
			adrclient.ServiceError{Command: "getAsset", Code: "KubeError", Message: `asset "nope" not found`}},
		{"asset of another endpoint", func() error { _, err := e.client.GetAssetStatus(ctx, device, endpoint, "elsewhere"); return err },
			adrclient.ServiceError{Command: "getAssetStatus", Code: "KubeError", Message: `asset "elsewhere" belongs to my-thermostat/other-endpoint, not my-thermostat/my-rest-endpoint`}},
		{"unknown device", func() error { _, err := e.client.GetDevice(ctx, "ghost", endpoint); return err },
			adrclient.ServiceError{Command: "getDevice", Code: "KubeError", Message: `device "ghost" with inbound endpoint "my-rest-endpoint" not found`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.call()
			var se *adrclient.ServiceError
			if !errors.As(err, &se) {
				t.Fatalf("error %v, want *ServiceError", err)
			}
			if se.Timestamp == "" {
				t.Error("no timestamp")
			}
			se.Timestamp = ""
			if *se != tt.want {
				t.Errorf("got  %+v\nwant %+v", *se, tt.want)
			}
		})
	}
	// In-band errors are answers, not transient failures: one call each.
	if n := len(e.fake.Calls("getAsset")); n != 2 {
		t.Errorf("%d getAsset calls, want 2 (no retry of in-band errors)", n)
	}
}

func TestServiceErrorMessage(t *testing.T) {
	e := &adrclient.ServiceError{Command: "getDevice", Code: "KubeError", Message: "not found"}
	if got, want := e.Error(), "adr service error KubeError: not found"; got != want {
		t.Errorf("Error = %q, want %q", got, want)
	}
}

func TestStatusCommands(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	now := time.Date(2025, 7, 22, 10, 0, 3, 0, time.UTC)

	empty, err := e.client.GetDeviceStatus(ctx, device, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(empty, adr.DeviceStatus{}) {
		t.Errorf("initial device status %+v, want empty", empty)
	}
	var ds adr.DeviceStatus
	ds.SetEndpointHealthy(endpoint, ptr(uint64(2)), now)
	updated, err := e.client.UpdateDeviceStatus(ctx, device, endpoint, ds)
	if err != nil {
		t.Fatal(err)
	}
	read, err := e.client.GetDeviceStatus(ctx, device, endpoint)
	if err != nil {
		t.Fatal(err)
	}
	for name, got := range map[string]adr.DeviceStatus{"updated": updated, "read": read} {
		if !reflect.DeepEqual(got, ds) {
			t.Errorf("%s device status %+v, want %+v", name, got, ds)
		}
	}
	raw, _ := json.Marshal(read)
	if want := `{"config":{"version":2,"lastTransitionTime":"2025-07-22T10:00:03Z"},"endpoints":{"inbound":{"my-rest-endpoint":{}}}}`; string(raw) != want {
		t.Errorf("device status JSON %s, want %s", raw, want)
	}

	as := adr.AssetStatus{}
	as.SetConfig(ptr(uint64(1)), now, nil)
	as.SetDataset(adr.DatasetStatus{Name: "thermostat_status", MessageSchemaReference: &adr.MessageSchemaReference{
		SchemaName: "ABC", SchemaRegistryNamespace: "DefaultSRNamespace", SchemaVersion: "1.0"}})
	gotAS, err := e.client.UpdateAssetStatus(ctx, device, endpoint, asset, as)
	if err != nil {
		t.Fatal(err)
	}
	readAS, err := e.client.GetAssetStatus(ctx, device, endpoint, asset)
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(gotAS, as) || !reflect.DeepEqual(readAS, as) {
		t.Errorf("asset status updated %+v read %+v, want %+v", gotAS, readAS, as)
	}
	req := e.fake.Calls("updateAssetStatus")[0].Request
	want := `{"assetStatusUpdate":{"assetName":"my-rest-thermostat-asset","assetStatus":{"config":{"version":1,"lastTransitionTime":"2025-07-22T10:00:03Z"},` +
		`"datasets":[{"name":"thermostat_status","messageSchemaReference":{"schemaName":"ABC","schemaRegistryNamespace":"DefaultSRNamespace","schemaVersion":"1.0"}}]}}}`
	if string(req.Payload) != want {
		t.Errorf("updateAssetStatus request\n got %s\nwant %s", req.Payload, want)
	}
}

func TestNotifications(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	type devEvent struct {
		device, endpoint string
		d                adr.Device
	}
	type assetEvent struct {
		device, endpoint, asset string
		a                       adr.Asset
	}
	devEvents := make(chan devEvent, 10)
	assetEvents := make(chan assetEvent, 10)
	if err := e.client.OnDeviceUpdate(ctx, func(device, endpoint string, d adr.Device) { devEvents <- devEvent{device, endpoint, d} }); err != nil {
		t.Fatal(err)
	}
	if err := e.client.OnAssetUpdate(ctx, func(device, endpoint, asset string, a adr.Asset) {
		assetEvents <- assetEvent{device, endpoint, asset, a}
	}); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SetDeviceNotifications(ctx, device, endpoint, true); err != nil {
		t.Fatal(err)
	}
	if err := e.client.SetAssetNotifications(ctx, device, endpoint, asset, true); err != nil {
		t.Fatal(err)
	}
	if !e.fake.DeviceNotifications(device, endpoint) || !e.fake.AssetNotifications(asset) {
		t.Fatal("notifications not on in the fake")
	}
	reqs := []string{
		string(e.fake.Calls("setNotificationPreferenceForDeviceUpdates")[0].Request.Payload),
		string(e.fake.Calls("setNotificationPreferenceForAssetUpdates")[0].Request.Payload),
	}
	if want := []string{`{"notificationPreferenceRequest":"On"}`,
		`{"notificationPreferenceRequest":{"assetName":"my-rest-thermostat-asset","notificationPreference":"On"}}`}; !reflect.DeepEqual(reqs, want) {
		t.Errorf("requests %q, want %q", reqs, want)
	}

	d := testDevices()[device]
	d.Version = ptr(uint64(3))
	if err := e.fake.SetDevice(ctx, device, d); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-devEvents:
		if ev.device != device || ev.endpoint != endpoint || *ev.d.Version != 3 || len(ev.d.Endpoints.Inbound) != 1 {
			t.Errorf("device event %s/%s version %d endpoints %d", ev.device, ev.endpoint, *ev.d.Version, len(ev.d.Endpoints.Inbound))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no deviceUpdateEvent")
	}

	a := testAssets()[asset]
	a.Version = ptr(uint64(7))
	if err := e.fake.SetAsset(ctx, asset, a); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-assetEvents:
		if ev.device != device || ev.endpoint != endpoint || ev.asset != asset || !reflect.DeepEqual(ev.a, a) {
			t.Errorf("asset event %s/%s/%s %+v", ev.device, ev.endpoint, ev.asset, ev.a)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no assetUpdateEvent")
	}

	// Off: the fake stops notifying.
	if err := e.client.SetDeviceNotifications(ctx, device, endpoint, false); err != nil {
		t.Fatal(err)
	}
	if e.fake.DeviceNotifications(device, endpoint) {
		t.Error("device notifications still on")
	}
	if err := e.fake.SetDevice(ctx, device, d); err != nil {
		t.Fatal(err)
	}
	select {
	case ev := <-devEvents:
		t.Errorf("event after Off: %+v", ev)
	case <-time.After(200 * time.Millisecond):
	}
}

func TestNotificationNotAccepted(t *testing.T) {
	e := setup(t)
	e.fake.Inject("setNotificationPreferenceForDeviceUpdates", adrfake.Fault{Times: 1, Response: `{"responsePayload":"Rejected"}`})
	err := e.client.SetDeviceNotifications(context.Background(), device, endpoint, true)
	if !errors.Is(err, adrclient.ErrNotAccepted) {
		t.Fatalf("error %v, want ErrNotAccepted", err)
	}
	want := `setNotificationPreferenceForDeviceUpdates my-thermostat/my-rest-endpoint: service answered "Rejected": notification preference not accepted`
	if err.Error() != want {
		t.Errorf("error %q, want %q", err, want)
	}
	e.fake.Inject("setNotificationPreferenceForAssetUpdates", adrfake.Fault{Times: 1, Response: `{"responsePayload":"accepted"}`})
	if err := e.client.SetAssetNotifications(context.Background(), device, endpoint, asset, true); err != nil {
		t.Errorf("lower-case accepted: %v", err)
	}
}

func TestTransientFailuresRetried(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	e.fake.Inject("getDevice", adrfake.Fault{Times: 2, Status: 503})
	if _, err := e.client.GetDevice(ctx, device, endpoint); err != nil {
		t.Fatal(err)
	}
	if n := len(e.fake.Calls("getDevice")); n != 3 {
		t.Errorf("%d getDevice calls, want 3", n)
	}

	e.fake.Inject("getAsset", adrfake.Fault{Times: 1, Status: 500, ApplicationError: true, Message: "boom"})
	_, err := e.client.GetAsset(ctx, device, endpoint, asset)
	var re *aiorpc.RemoteError
	if !errors.As(err, &re) || re.Kind != aiorpc.KindExecutionException || re.Message != "boom" {
		t.Fatalf("error %v, want execution exception", err)
	}
	if want := "getAsset my-thermostat/my-rest-endpoint: invoke akri/connector/resources/rest-ctemplate-0/my-thermostat/my-rest-endpoint/getAsset: status 500 execution exception: boom"; err.Error() != want {
		t.Errorf("error %q\nwant %q", err, want)
	}
}

func TestMalformedResponses(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	tests := []struct {
		response string
		want     string
	}{
		{`{"other":1}`, `getDevice my-thermostat/my-rest-endpoint: response has neither "device" nor "getDeviceError"`},
		{`[1]`, `getDevice my-thermostat/my-rest-endpoint: decode response: json: cannot unmarshal array into Go value of type map[string]json.RawMessage`},
		{`{"device":{"version":"two"}}`, `getDevice my-thermostat/my-rest-endpoint: decode device: json: cannot unmarshal string into Go struct field Device.version of type uint64`},
	}
	for _, tt := range tests {
		e.fake.Inject("getDevice", adrfake.Fault{Times: 1, Response: tt.response})
		_, err := e.client.GetDevice(ctx, device, endpoint)
		if err == nil || err.Error() != tt.want {
			t.Errorf("response %s: error %v\nwant %s", tt.response, err, tt.want)
		}
	}
	// The fake's injected responses are not schema-checked; the connector's
	// requests all were, so the cleanup sees no violation.
}
