package akri_test

import (
	"compress/gzip"
	"io"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"

	colmetricpb "go.opentelemetry.io/proto/otlp/collector/metrics/v1"
	"google.golang.org/protobuf/proto"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// collector is an OpenTelemetry collector's OTLP/HTTP receiver: it keeps
// the export requests it gets.
type collector struct {
	mu   sync.Mutex
	reqs []*colmetricpb.ExportMetricsServiceRequest
}

func (c *collector) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.URL.Path != "/v1/metrics" || r.Header.Get("Content-Type") != "application/x-protobuf" {
		http.Error(w, "not an OTLP/HTTP metrics export", http.StatusNotFound)
		return
	}
	var body io.Reader = r.Body
	if r.Header.Get("Content-Encoding") == "gzip" {
		zr, err := gzip.NewReader(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		body = zr
	}
	b, err := io.ReadAll(body)
	req := &colmetricpb.ExportMetricsServiceRequest{}
	if err == nil {
		err = proto.Unmarshal(b, req)
	}
	if err != nil {
		http.Error(w, err.Error(), http.StatusBadRequest)
		return
	}
	c.mu.Lock()
	c.reqs = append(c.reqs, req)
	c.mu.Unlock()
	resp, _ := proto.Marshal(&colmetricpb.ExportMetricsServiceResponse{})
	w.Header().Set("Content-Type", "application/x-protobuf")
	_, _ = w.Write(resp)
}

// forwarded is the last exported aio_rest_connector_messages_forwarded of
// an asset, and the resource attributes of its export.
func (c *collector) forwarded(asset string) (n int64, resource map[string]string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, req := range c.reqs {
		for _, rm := range req.GetResourceMetrics() {
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
	var col collector
	srv := httptest.NewServer(&col)
	t.Cleanup(srv.Close)
	h := startHarnessWith(t, map[string]adr.Asset{
		"thermostat-1": thermostatAsset(1, "plant/thermostat-1", "GET"),
	}, "thermostat-1\n", setup{vars: map[string]string{"OTLP_HTTP_METRIC_ENDPOINT": srv.URL}})
	wait.For(t, "messages on plant/thermostat-1", func() bool { return len(h.in.On("plant/thermostat-1")) >= 2 })
	if err := h.stop(); err != nil {
		t.Fatalf("run: %v", err)
	}
	published := int64(len(h.in.On("plant/thermostat-1")))
	n, resource := col.forwarded("thermostat-1")
	if n < published {
		t.Errorf("aio_rest_connector_messages_forwarded of thermostat-1 = %d in the last export, %d messages received by the subscriber", n, published)
	}
	if resource["service.name"] != "http-connector" || resource["service.instance.id"] != connectorID || resource["k8s.namespace.name"] != "azure-iot-operations" {
		t.Errorf("resource attributes %v, want the connector's name, its CONNECTOR_ID and namespace", resource)
	}
}
