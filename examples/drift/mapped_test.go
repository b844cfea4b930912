// Report by exception with a dataset mapping: the rules judge the data
// points' values, not the mapped message.
package drift

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/http-connector/http-connector/internal/testing/mqtttest"
	"github.com/http-connector/http-connector/internal/testing/wait"
)

// A rule on the data point, or on the dataset for its data points, judges
// the data point's value whatever the dataset mapping makes of the message
// (README, "Report by exception": "On a dataset it applies to each data
// point without a rule of its own"). With the shipped metadata/stamp, the
// point's rule is ignored and every sample after the first is suppressed
// (point rule), or the message's timestamp counts as a change and every
// sample is published (dataset rule).
func TestReportRuleWithDatasetMapping(t *testing.T) {
	tests := []struct {
		name  string
		edits []string
	}{
		{"data point rule", []string{
			`'{"samplingInterval": 1000}'`, `'{"samplingInterval": 50, "mapping": "metadata/stamp"}'`,
		}},
		{"dataset rule", []string{
			`'{"samplingInterval": 1000}'`, `'{"samplingInterval": 50, "mapping": "metadata/stamp", "report": {"deadband": 0.5, "heartbeat": 60000}}'`,
			`dataPointConfiguration: '{"report": {"deadband": 0.5, "heartbeat": 60000}}'`, `dataPointConfiguration: '{}'`,
			"        - name: sequence\n", "",
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := New(7)
			s.HoldFrom(40)
			srv := httptest.NewServer(s.Handler())
			defer srv.Close()
			broker := mqtttest.Embedded(t)
			inbox := mqtttest.Subscribe(t, broker.Connect(t, "subscriber"), "building/#")
			run := startConnector(t, writeConfig(t, strings.TrimPrefix(srv.URL, "http://"), tt.edits...), broker.URL(), nil)
			wait.For(t, "40 samples and one more on hold", func() bool { return s.Holding() > 0 })
			run.Stop(t)
			published := int(run.Record(t, "stopped")["messages"].(float64))
			var got []string
			for _, m := range inbox.Wait(t, published) {
				var p struct{ Temperature json.RawMessage }
				_ = json.Unmarshal(m.Payload, &p)
				got = append(got, string(p.Temperature))
			}
			// No heartbeat within the run: the first, then each crossing.
			var want []string
			last := math.NaN()
			for _, r := range s.Served() {
				v := number(t, r.Temperature)
				if math.IsNaN(last) || math.Abs(v-last) > deadband {
					want = append(want, r.Temperature)
					last = v
				}
			}
			if fmt.Sprint(got) != fmt.Sprint(want) {
				t.Errorf("published %d samples of 40: %v\nwant the first and the crossings of the deadband, %d: %v", len(got), got, len(want), want)
			}
		})
	}
}
