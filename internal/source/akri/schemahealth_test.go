package akri_test

import (
	"encoding/json"
	"fmt"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/adrfake"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// datasetHealth is the last runtime health reported of an asset's dataset.
func (h *harness) datasetHealth(asset, dataset string) (adr.RuntimeHealth, bool) {
	var last adr.RuntimeHealth
	found := false
	for _, r := range h.fake.Health() {
		if r.Name != "datasetRuntimeHealthEvent" {
			continue
		}
		var ev struct {
			DatasetRuntimeHealthEvent struct {
				AssetName string `json:"assetName"`
				Datasets  []struct {
					DatasetName   string            `json:"datasetName"`
					RuntimeHealth adr.RuntimeHealth `json:"runtimeHealth"`
				} `json:"datasets"`
			} `json:"datasetRuntimeHealthEvent"`
		}
		if json.Unmarshal(r.Payload, &ev) != nil || ev.DatasetRuntimeHealthEvent.AssetName != asset {
			continue
		}
		for _, d := range ev.DatasetRuntimeHealthEvent.Datasets {
			if d.DatasetName == dataset {
				last, found = d.RuntimeHealth, true
			}
		}
	}
	return last, found
}

// A message schema the registry refuses makes the dataset's runtime health
// say so, with its own reason code, while its messages flow; a later
// message's registration that succeeds makes it available again.
func TestAkriSchemaRefusedIsReportedAsHealth(t *testing.T) {
	h := startHarnessWith(t, map[string]adr.Asset{
		"thermostat-1": thermostatAsset(1, "plant/thermostat-1", "GET"),
	}, "thermostat-1\n", setup{faults: map[string]adrfake.Fault{
		"put": {Times: 1, Response: `{"error": {"code": 400, "message": "schema content is not valid"}}`},
	}})
	wait.Until(t, "the refused schema in the dataset's health", func() error {
		rh, _ := h.datasetHealth("thermostat-1", "thermostat_status")
		if rh.Status != "Unavailable" || rh.ReasonCode != "SchemaRegistrationFailed" {
			return fmt.Errorf("health %+v", rh)
		}
		return nil
	})
	if len(h.in.On("plant/thermostat-1")) == 0 {
		t.Error("no message while the schema was refused: its messages must flow without it")
	}
	wait.Until(t, "the dataset available once a later message's schema is registered", func() error {
		rh, _ := h.datasetHealth("thermostat-1", "thermostat_status")
		if rh.Status != "Available" {
			return fmt.Errorf("health %+v", rh)
		}
		if s, ok := h.fake.AssetStatus("thermostat-1"); !ok || len(s.Datasets) != 1 || s.Datasets[0].MessageSchemaReference == nil {
			return fmt.Errorf("asset status %+v has no schema reference", s)
		}
		return nil
	})
}
