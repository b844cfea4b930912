package adrfake_test

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	mqtt "github.com/mochi-mqtt/server/v2"
	"github.com/mochi-mqtt/server/v2/hooks/auth"
	"github.com/mochi-mqtt/server/v2/listeners"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/reference"
)

var referenceDir = reference.Dir()

// rig is the fake plus a raw MQTT client that sends hand-made requests.
type rig struct {
	fake  *adrfake.Fake
	raw   *mqttclient.Client
	resps chan mqttclient.Message
}

func newRig(t *testing.T) *rig {
	t.Helper()
	b := mqtttest.Embedded(t)
	devices := map[string]adr.Device{"dev": {Endpoints: &adr.DeviceEndpoints{Inbound: map[string]adr.InboundEndpoint{
		"ep": {Address: "http://x", EndpointType: "t"}, "ep2": {Address: "http://y", EndpointType: "t"},
	}}}}
	assets := map[string]adr.Asset{"a": {DeviceRef: adr.DeviceRef{DeviceName: "dev", EndpointName: "ep"}}}
	fake, err := adrfake.Start(context.Background(), b.Connect(t, "adr-service"), devices, assets, adrfake.Options{ReferenceDir: referenceDir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	r := &rig{fake: fake, raw: b.Connect(t, "tester"), resps: make(chan mqttclient.Message, 10)}
	if err := r.raw.Subscribe(context.Background(), "clients/tester/#", 1, func(m mqttclient.Message) { r.resps <- m }); err != nil {
		t.Fatal(err)
	}
	return r
}

var corr16 = []byte("0123456789abcdef")

// request is a well-formed getDevice request from client "tester".
func request() *mqttclient.Message {
	topic := "akri/connector/resources/tester/dev/ep/getDevice"
	return &mqttclient.Message{
		Topic: topic, QoS: 1, MessageExpiry: 10, ResponseTopic: "clients/tester/" + topic, CorrelationData: corr16,
		UserProperties: []mqttclient.UserProperty{
			{Key: "__protVer", Value: "1.0"}, {Key: "__srcId", Value: "tester"},
			{Key: "__ts", Value: "001753180800123:00000:n"}, {Key: "$high_priority", Value: ""},
		},
	}
}

func (r *rig) send(t *testing.T, m *mqttclient.Message) {
	t.Helper()
	if err := r.raw.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
}

func (r *rig) response(t *testing.T) mqttclient.Message {
	t.Helper()
	select {
	case m := <-r.resps:
		return m
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
		return mqttclient.Message{}
	}
}

func prop(m mqttclient.Message, k string) string { v, _ := m.Property(k); return v }

func TestExecutorValidation(t *testing.T) {
	tests := []struct {
		name   string
		modify func(m *mqttclient.Message)
		want   map[string]string // user properties of the response
	}{
		{"valid", func(*mqttclient.Message) {}, map[string]string{"__stat": "200", "__protVer": "1.0", "$high_priority": ""}},
		{"short correlation data", func(m *mqttclient.Message) { m.CorrelationData = []byte("12345678") },
			map[string]string{"__stat": "400", "__propName": "Correlation Data"}},
		{"protocol 2.0", func(m *mqttclient.Message) { m.UserProperties[0].Value = "2.0" },
			map[string]string{"__stat": "505", "__supProtMajVer": "1", "__requestProtVer": "2.0"}},
		{"content type", func(m *mqttclient.Message) { m.ContentType = "text/plain" },
			map[string]string{"__stat": "415", "__propName": "Content Type", "__propVal": "text/plain"}},
	}
	r := newRig(t)
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			m := request()
			m.CorrelationData = append([]byte(nil), corr16...)
			m.CorrelationData[0] = byte(i) // distinct, or the fake replays
			tt.modify(m)
			r.send(t, m)
			resp := r.response(t)
			if string(resp.CorrelationData) != string(m.CorrelationData) || resp.Topic != m.ResponseTopic {
				t.Errorf("response on %s with correlation %q", resp.Topic, resp.CorrelationData)
			}
			for k, v := range tt.want {
				if got, ok := resp.Property(k); !ok || got != v {
					t.Errorf("%s = %q (present %v), want %q", k, got, ok, v)
				}
			}
			if resp.MessageExpiry == 0 || resp.MessageExpiry > 10 {
				t.Errorf("response expiry %d", resp.MessageExpiry)
			}
		})
	}
}

// TestExecutorRequiresMessageExpiry runs on a mochi server that keeps an
// absent expiry absent: internal/broker's default capabilities turn it into
// 86400 s before the fake sees the request.
func TestExecutorRequiresMessageExpiry(t *testing.T) {
	server := mqtt.New(&mqtt.Options{InlineClient: false, Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	server.Options.Capabilities.MaximumMessageExpiryInterval = 0
	if err := server.AddHook(new(auth.AllowHook), nil); err != nil {
		t.Fatal(err)
	}
	l := listeners.NewTCP(listeners.Config{ID: "tcp", Address: "127.0.0.1:0"})
	if err := server.AddListener(l); err != nil {
		t.Fatal(err)
	}
	if err := server.Serve(); err != nil {
		t.Fatal(err)
	}
	b := mqtttest.CloseFirst(t, "mqtt://"+l.Address(), server.Close)
	fake, err := adrfake.Start(context.Background(), b.Connect(t, "adr-service"), map[string]adr.Device{}, nil, adrfake.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(fake.Close)
	raw := b.Connect(t, "tester")
	resps := make(chan mqttclient.Message, 1)
	if err := raw.Subscribe(context.Background(), "clients/tester/#", 1, func(m mqttclient.Message) { resps <- m }); err != nil {
		t.Fatal(err)
	}
	m := request()
	m.MessageExpiry = 0
	if err := raw.Publish(context.Background(), m); err != nil {
		t.Fatal(err)
	}
	select {
	case resp := <-resps:
		if prop(resp, "__stat") != "400" || prop(resp, "__propName") != "Message Expiry" {
			t.Errorf("__stat %q __propName %q, want 400 Message Expiry", prop(resp, "__stat"), prop(resp, "__propName"))
		}
	case <-time.After(5 * time.Second):
		t.Fatal("no response")
	}
}

func TestExecutorDropsWithoutResponseTopic(t *testing.T) {
	r := newRig(t)
	m := request()
	m.ResponseTopic = ""
	r.send(t, m)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.fake.Wait(ctx, func() bool { return len(r.fake.Calls("getDevice")) == 1 }); err != nil {
		t.Fatal(err)
	}
	if c := r.fake.Calls("getDevice")[0]; c.Status != 0 {
		t.Errorf("status %d, want no response", c.Status)
	}
	if v := r.fake.Violations(); len(v) != 1 || !strings.Contains(v[0], "response topic") {
		t.Errorf("violations %q", v)
	}
}

func TestExecutorReplaysDuplicates(t *testing.T) {
	r := newRig(t)
	m := request()
	r.send(t, m)
	first := r.response(t)
	r.send(t, m)
	second := r.response(t)
	if prop(first, "__ts") != prop(second, "__ts") || string(first.Payload) != string(second.Payload) {
		t.Errorf("duplicate answered anew: %s vs %s", prop(first, "__ts"), prop(second, "__ts"))
	}
}

func TestExecutorChecksPayloadAgainstWireSchemas(t *testing.T) {
	r := newRig(t)
	m := request()
	m.Topic = "akri/connector/resources/tester/dev/ep/getAsset"
	m.ResponseTopic = "clients/tester/" + m.Topic
	m.ContentType, m.UTF8Payload = "application/json", true
	m.Payload = []byte(`{"name":"a"}`)
	r.send(t, m)
	resp := r.response(t)
	if prop(resp, "__stat") != "400" || !strings.Contains(prop(resp, "__stMsg"), "GetAssetRequestPayload.schema.json") {
		t.Errorf("response __stat %s __stMsg %q", prop(resp, "__stat"), prop(resp, "__stMsg"))
	}
	if v := r.fake.Violations(); len(v) != 1 || !strings.Contains(v[0], "request payload") {
		t.Errorf("violations %q", v)
	}
}

func TestRequestConventionViolations(t *testing.T) {
	r := newRig(t)
	m := request()
	m.Payload = []byte(`{}`) // getDevice must be empty
	m.UserProperties = m.UserProperties[:1]
	r.send(t, m)
	r.response(t)
	got := strings.Join(r.fake.Violations(), "\n")
	for _, want := range []string{"no __srcId", "no __ts", "$high_priority", "empty payload"} {
		if !strings.Contains(got, want) {
			t.Errorf("violations lack %q:\n%s", want, got)
		}
	}
}

func TestHealthTelemetryRecorded(t *testing.T) {
	r := newRig(t)
	topic := "akri/connector/resources/telemetry/tester/dev/ep/deviceEndpointRuntimeHealthEvent"
	good := &mqttclient.Message{Topic: topic, QoS: 1, MessageExpiry: 10, ContentType: "application/json", UTF8Payload: true,
		Payload:        []byte(`{"deviceEndpointRuntimeHealthEvent":{"runtimeHealth":{"version":1,"status":"Available","lastUpdateTime":"2025-07-22T10:00:00Z"}}}`),
		UserProperties: []mqttclient.UserProperty{{Key: "__ts", Value: "001:00000:n"}, {Key: "__protVer", Value: "1.0"}, {Key: "__srcId", Value: "tester"}}}
	bad := *good
	bad.Payload = []byte(`{"deviceEndpointRuntimeHealthEvent":{"runtimeHealth":{"status":"Fine"}}}`)
	r.send(t, good)
	r.send(t, &bad)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := r.fake.Wait(ctx, func() bool { return len(r.fake.Health()) == 2 }); err != nil {
		t.Fatal(err)
	}
	h := r.fake.Health()[0]
	if h.ClientID != "tester" || h.Device != "dev" || h.Endpoint != "ep" || h.Name != "deviceEndpointRuntimeHealthEvent" {
		t.Errorf("report %+v", h)
	}
	if v := r.fake.Violations(); len(v) != 1 || !strings.Contains(v[0], "DeviceEndpointRuntimeHealthEventTelemetry") {
		t.Errorf("violations %q, want one schema violation", v)
	}
}

func TestSchemaName(t *testing.T) {
	// SHA-256 of "abc".
	if got := adrfake.SchemaName("abc"); got != "BA7816BF8F01CFEA414140DE5DAE2223B00361A396177A9CB410FF61F20015AD" {
		t.Errorf("SchemaName = %s", got)
	}
}
