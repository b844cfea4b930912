package akri_test

import (
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/adr"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// Event groups and streams, which the connector does not serve, are said
// in the asset status, each event and stream with its error; the datasets
// beside them run.
func TestAkriUnsupportedAreReported(t *testing.T) {
	asset := thermostatAsset(1, "plant/thermostat-1", "GET")
	asset.EventGroups = []adr.EventGroup{{Name: "alarms", Events: []adr.Event{{Name: "overheat", DataSource: "/alarms/overheat"}}}, {Name: "empty"}}
	asset.Streams = []adr.Stream{{Name: "video"}}
	h := startHarness(t, map[string]adr.Asset{"thermostat-1": asset}, "thermostat-1\n", nil)
	var st adr.AssetStatus
	wait.For(t, "the asset status with the unsupported parts", func() bool {
		var ok bool
		st, ok = h.fake.AssetStatus("thermostat-1")
		return ok && len(st.EventGroups) == 2 && len(st.Streams) == 1
	})
	if e := st.EventGroups[0]; e.Name != "alarms" || len(e.Events) != 1 || e.Events[0].Error == nil ||
		!strings.HasPrefix(e.Events[0].Error.Message, "event groups are not supported by this connector") {
		t.Errorf("event group status %+v", e)
	}
	if s := st.Streams[0]; s.Name != "video" || s.Error == nil || !strings.HasPrefix(s.Error.Message, "streams are not supported by this connector") {
		t.Errorf("stream status %+v", s)
	}
	if st.Config == nil || st.Config.Error == nil || !strings.Contains(st.Config.Error.Message, `event group "empty": event groups are not supported`) {
		t.Errorf("an event group without events is said in the asset's error: %+v", st.Config)
	}
	wait.For(t, "the dataset's messages", func() bool { return len(h.in.On("plant/thermostat-1")) >= 1 })
}
