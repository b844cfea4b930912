package odata

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/testing/mqtttest"
)

func fixedClock() time.Time { return time.Date(2025, 6, 1, 12, 0, 0, 0, time.UTC) }

// get fetches url and decodes its OData JSON answer.
func get(t *testing.T, url string) (int, map[string]any) {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json;odata.metadata=minimal") {
		t.Errorf("GET %s: Content-Type %q, want application/json;odata.metadata=minimal…", url, ct)
	}
	var body map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&body); err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	return resp.StatusCode, body
}

// The service pages as OData v4 says: absolute next links that keep
// $select, none on the last page.
func TestServicePages(t *testing.T) {
	svc := New(Options{Now: fixedClock})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	url := srv.URL + "/odata/Meters?$select=MeterId,Reading"
	var ids []string
	for page := 1; url != ""; page++ {
		code, body := get(t, url)
		if code != 200 {
			t.Fatalf("page %d: %d %v", page, code, body)
		}
		if want := srv.URL + "/odata/$metadata#Meters(MeterId,Reading)"; body["@odata.context"] != want {
			t.Errorf("page %d: @odata.context %v, want %s", page, body["@odata.context"], want)
		}
		for _, e := range body["value"].([]any) {
			m := e.(map[string]any)
			if len(m) != 2 {
				t.Errorf("page %d: %v, want only MeterId and Reading ($select)", page, m)
			}
			ids = append(ids, m["MeterId"].(string))
		}
		url, _ = body["@odata.nextLink"].(string)
		if url != "" && !strings.HasPrefix(url, srv.URL+"/odata/Meters?$select=MeterId%2CReading&$skiptoken=") {
			t.Errorf("page %d: next link %s", page, url)
		}
	}
	if got := strings.Join(ids, " "); got != "M-001 M-002 M-003 M-004 M-005 M-006 M-007" {
		t.Errorf("meters: %s", got)
	}
	if svc.Polls() != 1 || len(svc.Served()) != 7 {
		t.Errorf("polls %d, served %d; want 1 and 7", svc.Polls(), len(svc.Served()))
	}
}

func TestServiceErrors(t *testing.T) {
	srv := httptest.NewServer(New(Options{}).Handler())
	defer srv.Close()
	tests := []struct {
		path string
		code int
		msg  string
	}{
		{"/odata/Meters?$filter=Reading%20gt%201", 501, "query option $filter is not supported"},
		{"/odata/Meters?$select=Power", 400, `$select: Meter has no property "Power"`},
		{"/odata/Meters?$skiptoken=M-999", 400, "$skiptoken: no meter M-999"},
		{"/odata/Inverters", 404, "no resource at /odata/Inverters"},
	}
	for _, tt := range tests {
		code, body := get(t, srv.URL+tt.path)
		e, _ := body["error"].(map[string]any)
		if code != tt.code || e["message"] != tt.msg {
			t.Errorf("GET %s: %d %v, want %d %q", tt.path, code, body, tt.code, tt.msg)
		}
	}
}

// The example's configuration against the service: each sample follows
// the three pages of a poll and publishes one message per meter, every
// meter once per sample, in order, with the values the service served.
func TestEveryMeterOncePerSample(t *testing.T) {
	svc := New(Options{})
	srv := httptest.NewServer(svc.Handler())
	defer srv.Close()
	broker := mqtttest.Embedded(t)
	inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "plant/#")
	dir := writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), `"samplingInterval": 10000`, `"samplingInterval": 100`)
	run := startConnector(t, dir, broker.URL(), nil)

	const meters, samples = 7, 4
	inbox.Wait(t, samples*meters)
	run.Stop(t)
	stopped := run.Record(t, "stopped")
	published, _ := stopped["messages"].(float64)
	msgs := inbox.Wait(t, int(published))
	served := svc.Served()
	if len(msgs) != int(published) || stopped["failed_samples"] != 0.0 {
		t.Errorf("stopped: %v; want no failed sample and the %d messages received", stopped, len(msgs))
	}
	if len(msgs)%meters != 0 {
		t.Fatalf("%d messages: not whole samples of %d meters", len(msgs), meters)
	}
	// A sample the stop cut short is served, not published: at most one.
	if extra := len(served) - len(msgs); extra < 0 || extra > meters {
		t.Errorf("%d meters served, %d published: want at most one poll more served than published", len(served), len(msgs))
	}
	stamps := map[string]bool{}
	for i, m := range msgs {
		if m.Topic != "plant/energy/meters" {
			t.Errorf("message %d: topic %q", i, m.Topic)
		}
		got, err := decodeReading(m.Payload)
		if err != nil {
			t.Fatalf("message %d: %v", i, err)
		}
		want := served[i]
		if got.MeterID != meterID(i%meters) || got.MeterID != want.MeterID || got.Reading != want.Reading || got.ReadAt != want.ReadAt || got.Unit != "kWh" {
			t.Errorf("message %d: %s\nwant the %d-th meter served: %+v", i, m.Payload, i+1, want)
		}
		if got.Asset != "plant-energy-meters" || got.Name != nil {
			t.Errorf("message %d: %s: want the asset, and no Name ($select kept on every page)", i, m.Payload)
		}
		// The sample's timestamp is the same for the meters of a sample and
		// differs from one sample to the next.
		first, _ := decodeReading(msgs[i-i%meters].Payload)
		if got.Timestamp != first.Timestamp {
			t.Errorf("message %d: timestamp %s, want its sample's %s", i, got.Timestamp, first.Timestamp)
		}
		stamps[got.Timestamp] = true
	}
	if len(stamps) != len(msgs)/meters {
		t.Errorf("%d timestamps for %d samples", len(stamps), len(msgs)/meters)
	}
	t.Logf("%d samples of %d pages, %d messages; %d polls begun", len(msgs)/meters, 3, len(msgs), svc.Polls())
}

// meterMessage is a message of the dataset.
type meterMessage struct {
	Asset     string  `json:"asset"`
	Timestamp string  `json:"timestamp"`
	MeterID   string  `json:"MeterId"`
	Reading   float64 `json:"Reading"`
	Unit      string  `json:"Unit"`
	ReadAt    string  `json:"ReadAt"`
	Name      *string `json:"Name"`
}

func decodeReading(payload []byte) (meterMessage, error) {
	var r meterMessage
	if err := json.Unmarshal(payload, &r); err != nil {
		return r, fmt.Errorf("payload %s: %w", payload, err)
	}
	return r, nil
}
