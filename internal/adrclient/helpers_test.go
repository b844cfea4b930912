package adrclient_test

import (
	"context"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/reference"
)

var referenceDir = reference.Dir()

const (
	connectorID = "rest-ctemplate-0"
	device      = "my-thermostat"
	endpoint    = "my-rest-endpoint"
	asset       = "my-rest-thermostat-asset"
)

func ptr[T any](v T) *T { return &v }

func testDevices() map[string]adr.Device {
	return map[string]adr.Device{
		device: {
			Attributes: map[string]string{"deviceId": device},
			Enabled:    ptr(true),
			Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
				endpoint: {
					Address:                 "http://rest-server-service.azure-iot-operations.svc.cluster.local:80",
					EndpointType:            "rest-thermostat",
					AdditionalConfiguration: `{"key1": "value1"}`,
					Authentication: &adr.Authentication{Method: adr.AuthUsernamePassword, UsernamePasswordCredentials: &adr.UsernamePasswordCredentials{
						UsernameSecretName: "rest-server-auth-creds/username", PasswordSecretName: "rest-server-auth-creds/password",
					}},
				},
				"other-endpoint": {Address: "http://other:80", EndpointType: "rest-thermostat"},
			}},
			UUID:    "1234-5678-9012-3456",
			Version: ptr(uint64(2)),
		},
	}
}

func testAssets() map[string]adr.Asset {
	return map[string]adr.Asset{
		asset: {
			DeviceRef: adr.DeviceRef{DeviceName: device, EndpointName: endpoint},
			Enabled:   ptr(true),
			UUID:      "asset-uuid",
			Version:   ptr(uint64(1)),
			Datasets: []adr.Dataset{{
				Name: "thermostat_status", DataSource: "/api/thermostat",
				Destinations: []adr.Destination{{Target: adr.TargetMqtt, Configuration: adr.DestinationConfiguration{Topic: "mqtt/machine/asset1/status", Qos: adr.Qos1}}},
			}},
		},
		"elsewhere": {DeviceRef: adr.DeviceRef{DeviceName: device, EndpointName: "other-endpoint"}},
	}
}

// env is a broker with the ADR fake and a connector-side ADR client.
type env struct {
	fake   *adrfake.Fake
	client *adrclient.Client
	inv    *aiorpc.Invoker
	opts   adrclient.Options
}

func setup(t *testing.T) *env {
	t.Helper()
	b := mqtttest.Embedded(t)
	fakeConn := b.Connect(t, "adr-service")
	fake, err := adrfake.Start(context.Background(), fakeConn, testDevices(), testAssets(), adrfake.Options{ReferenceDir: referenceDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		fake.Close()
		for _, v := range fake.Violations() {
			t.Errorf("wire violation: %s", v)
		}
	})
	conn := b.Connect(t, connectorID)
	clock := aiorpc.NewClock()
	inv := aiorpc.NewInvoker(conn, connectorID, clock, zerolog.Nop())
	opts := adrclient.Options{
		Timeout: 2 * time.Second,
		Retry:   &aiorpc.RetryPolicy{MaxRetries: 3, MaxDelay: 10 * time.Millisecond},
		Logger:  zerolog.Nop(),
	}
	client := adrclient.New(conn, inv, aiorpc.NewTelemetrySender(conn, connectorID, clock), opts)
	return &env{fake: fake, client: client, inv: inv, opts: opts}
}
