package adrclient_test

import (
	"context"
	"encoding/json"
	"sync"
	"testing"
	"time"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

type endpointHealthEvent struct {
	Event struct {
		RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
	} `json:"deviceEndpointRuntimeHealthEvent"`
}

type datasetHealthEvent struct {
	Event struct {
		AssetName string `json:"assetName"`
		Datasets  []struct {
			DatasetName   string            `json:"datasetName"`
			RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
		} `json:"datasets"`
	} `json:"datasetRuntimeHealthEvent"`
}

func healthOf(t *testing.T, f *adrfake.Fake, name string) []adrfake.HealthReport {
	t.Helper()
	var out []adrfake.HealthReport
	for _, h := range f.Health() {
		if h.Name == name {
			out = append(out, h)
		}
	}
	return out
}

func TestEndpointHealthCaching(t *testing.T) {
	e := setup(t)
	ctx := context.Background()
	h := e.client.NewEndpointHealth(device, endpoint, time.Hour)
	t0 := time.Date(2025, 7, 22, 10, 0, 0, 0, time.UTC)
	count := func() int { return len(healthOf(t, e.fake, "deviceEndpointRuntimeHealthEvent")) }

	steps := []struct {
		name string
		rh   adr.RuntimeHealth
		sent bool
	}{
		{"first report is sent", adr.RuntimeHealth{Version: 2, Status: adr.HealthAvailable, LastUpdateTime: t0}, true},
		{"same but for the time is cached", adr.RuntimeHealth{Version: 2, Status: adr.HealthAvailable, LastUpdateTime: t0.Add(time.Second)}, false},
		{"status change is sent", adr.RuntimeHealth{Version: 2, Status: adr.HealthUnavailable, Message: "Failed to sample the dataset: 503", ReasonCode: "SampleFailed", LastUpdateTime: t0.Add(2 * time.Second)}, true},
		{"older version is dropped", adr.RuntimeHealth{Version: 1, Status: adr.HealthAvailable, LastUpdateTime: t0.Add(3 * time.Second)}, false},
		{"message change is sent", adr.RuntimeHealth{Version: 2, Status: adr.HealthUnavailable, Message: "other", ReasonCode: "SampleFailed", LastUpdateTime: t0.Add(4 * time.Second)}, true},
		{"newer version is sent", adr.RuntimeHealth{Version: 3, Status: adr.HealthUnavailable, Message: "other", ReasonCode: "SampleFailed", LastUpdateTime: t0.Add(5 * time.Second)}, true},
	}
	want := 0
	for _, s := range steps {
		if err := h.Report(ctx, s.rh); err != nil {
			t.Fatalf("%s: %v", s.name, err)
		}
		if s.sent {
			want++
			wait.For(t, s.name, func() bool { return count() >= want })
			reports := healthOf(t, e.fake, "deviceEndpointRuntimeHealthEvent")
			var ev endpointHealthEvent
			if err := json.Unmarshal(reports[len(reports)-1].Payload, &ev); err != nil {
				t.Fatal(err)
			}
			if ev.Event.RuntimeHealth != s.rh {
				t.Errorf("%s: sent %+v, want %+v", s.name, ev.Event.RuntimeHealth, s.rh)
			}
		}
	}
	// What was cached is not sent: the report of the last step that is
	// sent is the last message (TestHealthCache checks the rules in
	// virtual time).
	if n := count(); n != want {
		t.Errorf("%d reports sent, want %d", n, want)
	}
	r := healthOf(t, e.fake, "deviceEndpointRuntimeHealthEvent")[0]
	if r.ClientID != connectorID || r.Device != device || r.Endpoint != endpoint || r.Message.QoS != 1 || r.Message.MessageExpiry != 10 {
		t.Errorf("report %+v", r)
	}
}

func TestHealthResendAndPause(t *testing.T) {
	e := setup(t)
	ctx, cancel := context.WithCancel(context.Background())
	h := e.client.NewDatasetHealth(device, endpoint, asset, 30*time.Millisecond)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); h.Run(ctx) }()
	defer func() { cancel(); wg.Wait() }()
	count := func() int { return len(healthOf(t, e.fake, "datasetRuntimeHealthEvent")) }

	old := time.Date(2025, 7, 22, 10, 0, 0, 0, time.UTC)
	if err := h.Report(ctx, "b-dataset", adr.RuntimeHealth{Version: 1, Status: adr.HealthAvailable, LastUpdateTime: old}); err != nil {
		t.Fatal(err)
	}
	if err := h.Report(ctx, "a-dataset", adr.RuntimeHealth{Version: 1, Status: adr.HealthUnavailable, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	// Two immediate reports, then periodic resends of both datasets in one
	// message with a fresh lastUpdateTime.
	wait.For(t, "resends", func() bool { return count() >= 4 })
	reports := healthOf(t, e.fake, "datasetRuntimeHealthEvent")
	var first, resend datasetHealthEvent
	if err := json.Unmarshal(reports[0].Payload, &first); err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(reports[len(reports)-1].Payload, &resend); err != nil {
		t.Fatal(err)
	}
	if first.Event.AssetName != asset || len(first.Event.Datasets) != 1 || first.Event.Datasets[0].DatasetName != "b-dataset" {
		t.Errorf("first report %+v", first)
	}
	if len(resend.Event.Datasets) != 2 || resend.Event.Datasets[0].DatasetName != "a-dataset" || resend.Event.Datasets[1].DatasetName != "b-dataset" {
		t.Fatalf("resend %+v, want both datasets", resend)
	}
	if !resend.Event.Datasets[1].RuntimeHealth.LastUpdateTime.After(old) {
		t.Errorf("resend lastUpdateTime %v not refreshed", resend.Event.Datasets[1].RuntimeHealth.LastUpdateTime)
	}

	// After Pause the next report is new again and sent at once (that
	// nothing is resent while paused, TestHealthCache checks in virtual
	// time).
	h.Pause()
	before := count()
	if err := h.Report(ctx, "a-dataset", adr.RuntimeHealth{Version: 1, Status: adr.HealthUnavailable, Message: "x"}); err != nil {
		t.Fatal(err)
	}
	wait.For(t, "report after pause", func() bool { return count() > before })
}
