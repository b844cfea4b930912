package sampling_test

import (
	"strings"
	"testing"
)

// Devices that answer in XML, CSV, Prometheus text or key=value lines give
// the same messages a JSON device would.
func TestResponseFormats(t *testing.T) {
	srv, _ := server(t, map[string]string{
		"GET /status.xml":  `application/xml|<status><temp unit="C">21.5</temp><mode>auto</mode><alarm>low</alarm></status>`,
		"GET /log.csv":     "text/csv|time,power\n10:00,1.5\n10:01,\n",
		"GET /logger":      "text/plain|time;power\n10:00;1.5\n",
		"GET /metrics":     "text/plain; version=0.0.4|# TYPE up gauge\nup{job=\"x\"} 1\n",
		"GET /cgi/status":  "text/plain|temp=21.5\nmode = auto\n",
		"GET /plain":       "text/plain|OK",
		"GET /bad.xml":     `application/xml|<status><temp>21.5</status>`,
		"GET /counter.xml": `application/xml|<counter>42</counter>`,
	})
	tests := []struct {
		name, dataset, want, fails string
	}{
		{"xml by content type", `    - name: d
      dataSource: /status.xml
`, `{"status":{"alarm":"low","mode":"auto","temp":{"#text":21.5,"@unit":"C"}}}`, ""},
		{"xml data points with arrays", `    - name: d
      datasetConfiguration: '{"format": "xml", "xml": {"arrays": ["alarm"]}}'
      dataPoints:
        - {name: temp, dataSource: /status.xml, dataPointConfiguration: '{"jq": ".status.temp[\"#text\"]"}'}
        - {name: alarms, dataSource: /status.xml, dataPointConfiguration: '{"jq": ".status.alarm"}'}
`, `{"temp":21.5,"alarms":["low"]}`, ""},
		{"csv by content type", `    - name: d
      dataSource: /log.csv
`, `[{"power":1.5,"time":"10:00"},{"power":null,"time":"10:01"}]`, ""},
		{"csv declared with a delimiter", `    - name: d
      dataSource: /logger
      datasetConfiguration: '{"format": "csv", "csv": {"delimiter": ";"}}'
`, `[{"power":1.5,"time":"10:00"}]`, ""},
		{"prometheus by content type", `    - name: d
      dataSource: /metrics
`, `[{"labels":{"job":"x"},"name":"up","type":"gauge","value":1}]`, ""},
		{"key=value declared on the data point", `    - name: d
      dataPoints:
        - {name: temp, dataSource: /cgi/status, dataPointConfiguration: '{"format": "keyValue", "jq": ".temp"}'}
`, `{"temp":21.5}`, ""},
		{"text declared", `    - name: d
      dataSource: /counter.xml
      datasetConfiguration: '{"format": "text"}'
`, `"<counter>42</counter>"`, ""},
		{"malformed xml names the format and the position", `    - name: d
      dataSource: /bad.xml
`, "", "XML"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec, err := sampleOnce(t, dataset(t, srv.URL, tt.dataset))
			if tt.fails != "" {
				if err == nil || !strings.Contains(err.Error(), tt.fails) || !strings.Contains(err.Error(), "line 1") {
					t.Fatalf("sample error %v, want one naming %s and the position", err, tt.fails)
				}
				return
			}
			if err != nil {
				t.Fatalf("sample failed: %v", err)
			}
			if got := strings.Join(rec.payloads(), " "); got != tt.want {
				t.Errorf("payloads:\ngot  %s\nwant %s", got, tt.want)
			}
		})
	}
}
