package adrclient_test

import (
	"context"
	"net/url"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/adrclient"
	"github.com/http-connector/http-connector/internal/aiorpc"
	"github.com/http-connector/http-connector/internal/broker"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
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

// clients closes the MQTT clients of a test after its broker: mochi v2.7.9
// can deadlock in Close (a recursive read lock in Clients.GetByListener) when
// a client disconnects at the same moment, so the broker goes first while the
// clients are idle.
type clients struct {
	mu   sync.Mutex
	list []*mqttclient.Client
}

func startBroker(t *testing.T) (*broker.Broker, *clients) {
	t.Helper()
	b, err := broker.Start(broker.Options{Address: "127.0.0.1:0"})
	if err != nil {
		t.Fatal(err)
	}
	cs := &clients{}
	t.Cleanup(func() {
		_ = b.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		cs.mu.Lock()
		defer cs.mu.Unlock()
		for _, c := range cs.list {
			_ = c.Close(ctx)
		}
	})
	return b, cs
}

func (cs *clients) connect(t *testing.T, b *broker.Broker, id string) *mqttclient.Client {
	t.Helper()
	u, err := url.Parse(b.URL())
	if err != nil {
		t.Fatal(err)
	}
	up := make(chan struct{})
	var once sync.Once
	c, err := mqttclient.Connect(context.Background(), mqttclient.Options{
		Servers: []*url.URL{u}, ClientID: id, KeepAlive: 30, CleanStart: true, Logger: zerolog.Nop(),
		OnConnectionUp: func(context.Context, bool) { once.Do(func() { close(up) }) },
	})
	if err != nil {
		t.Fatal(err)
	}
	cs.mu.Lock()
	cs.list = append(cs.list, c)
	cs.mu.Unlock()
	select {
	case <-up:
	case <-time.After(5 * time.Second):
		t.Fatalf("client %s did not connect", id)
	}
	return c
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
	b, cs := startBroker(t)
	fakeConn := cs.connect(t, b, "adr-service")
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
	conn := cs.connect(t, b, connectorID)
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

func waitFor(t *testing.T, f *adrfake.Fake, what string, cond func() bool) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := f.Wait(ctx, cond); err != nil {
		t.Fatalf("waiting for %s: %v", what, err)
	}
}
