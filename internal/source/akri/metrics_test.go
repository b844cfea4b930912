package akri_test

import (
	"net/http/httptest"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/otlptest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// forwarded is the last exported aio_rest_connector_messages_forwarded of
// an asset among the exports received so far, and the resource attributes
// of its export.
func forwarded(got chan otlptest.Export, asset string) (n int64, resource map[string]string) {
	for len(got) > 0 {
		ex := <-got
		for _, rm := range ex.Request.GetResourceMetrics() {
			for _, sm := range rm.GetScopeMetrics() {
				for _, m := range sm.GetMetrics() {
					if m.GetName() != "aio_rest_connector_messages_forwarded" {
						continue
					}
					for _, dp := range m.GetSum().GetDataPoints() {
						for _, kv := range dp.GetAttributes() {
							if kv.GetKey() == "asset" && kv.GetValue().GetStringValue() == asset {
								n = dp.GetAsInt()
								resource = map[string]string{}
								for _, a := range rm.GetResource().GetAttributes() {
									resource[a.GetKey()] = a.GetValue().GetStringValue()
								}
							}
						}
					}
				}
			}
		}
	}
	return n, resource
}

// In Akri mode the connector pushes its metrics to the collector the
// operator names, under Microsoft's names, and makes a last export when
// it stops, so that the messages of its last moments are counted.
func TestAkriMetricsPushedWithOTLP(t *testing.T) {
	col := &otlptest.HTTPReceiver{Got: make(chan otlptest.Export, 16)}
	srv := httptest.NewServer(col)
	t.Cleanup(srv.Close)
	h := startHarnessWith(t, map[string]adr.Asset{
		"thermostat-1": thermostatAsset(1, "plant/thermostat-1", "GET"),
	}, "thermostat-1\n", setup{vars: map[string]string{"OTLP_HTTP_METRIC_ENDPOINT": srv.URL}})
	wait.For(t, "messages on plant/thermostat-1", func() bool { return len(h.in.On("plant/thermostat-1")) >= 2 })
	if err := h.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	published := int64(len(h.in.On("plant/thermostat-1")))
	n, resource := forwarded(col.Got, "thermostat-1")
	if n < published {
		t.Errorf("aio_rest_connector_messages_forwarded of thermostat-1 = %d in the last export, %d messages received by the subscriber", n, published)
	}
	if resource["service.name"] != "http-connector" || resource["service.instance.id"] != connectorID || resource["k8s.namespace.name"] != "azure-iot-operations" {
		t.Errorf("resource attributes %v, want the connector's name, its CONNECTOR_ID and namespace", resource)
	}
}
