package main

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"

	"github.com/http-connector/http-connector/internal/testing/wait"
)

// scrape is one /metrics scrape as a Prometheus server reads it: series
// name{label="value",...} → value, labels sorted by name, histograms by
// their _count.
func (c *opsConnector) scrape() (map[string]float64, error) {
	resp, err := http.Get(c.base + "/metrics")
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET /metrics: %s", resp.Status)
	}
	parser := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := parser.TextToMetricFamilies(resp.Body)
	if err != nil {
		return nil, fmt.Errorf("GET /metrics: %w", err)
	}
	out := map[string]float64{}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(labels)
			key := name
			if len(labels) > 0 {
				key += "{" + strings.Join(labels, ",") + "}"
			}
			out[key] = value(m)
		}
	}
	return out, nil
}

func value(m *dto.Metric) float64 {
	switch {
	case m.Counter != nil:
		return m.Counter.GetValue()
	case m.Gauge != nil:
		return m.Gauge.GetValue()
	case m.Histogram != nil:
		return float64(m.Histogram.GetSampleCount())
	}
	return m.GetUntyped().GetValue()
}

// The metrics of a running connector with a healthy asset, a failing one
// and a disabled one, per dataset as an operator's dashboards read them.
func TestMetricsOfRunningConnector(t *testing.T) {
	c := startOpsConnector(t)
	const boiler, chiller = `asset="boiler-1",dataset="status"`, `asset="chiller-7",dataset="telemetry"`
	var got map[string]float64
	wait.Until(t, "the boiler's messages delivered and the chiller's failures counted", func() (err error) {
		if got, err = c.scrape(); err != nil {
			return err
		}
		for _, series := range []string{
			"aio_rest_connector_messages_received{" + boiler + "}",
			"aio_rest_connector_messages_forwarded{" + boiler + "}",
			"aio_rest_connector_bytes_in{" + boiler + "}",
			"aio_rest_connector_bytes_out{" + boiler + "}",
			"http_connector_request_duration_seconds{" + boiler + "}",
			"aio_rest_connector_errors{" + chiller + `,error="request"}`,
			`http_connector_mqtt_delivered_total{qos="1"}`,
			"http_connector_datasets_failing{" + chiller + "}",
		} {
			if got[series] < 1 {
				return fmt.Errorf("%s = %v, want at least 1 (%v)", series, got[series], got)
			}
		}
		return nil
	})
	for series, want := range map[string]float64{
		"aio_rest_connector_messages_received{" + chiller + "}":     0, // a 503 is not a message received
		"aio_rest_connector_errors{" + boiler + `,error="request"}`: 0,
		"http_connector_datasets_failing{" + boiler + "}":           0,
		"http_connector_assets":                                     2, // pump-3 is disabled
		"http_connector_datasets":                                   2,
		"http_connector_mqtt_connected":                             1,
		"http_connector_mqtt_reconnects_total":                      0,
		`http_connector_mqtt_dropped_total{qos="1"}`:                0,
	} {
		if v, ok := got[series]; !ok || v != want {
			t.Errorf("%s = %v (present %v), want %v", series, v, ok, want)
		}
	}
	// The boiler's two requests per sample (two data points, two paths)
	// are both timed.
	if n, r := got["http_connector_request_duration_seconds{"+boiler+"}"], got["aio_rest_connector_messages_received{"+boiler+"}"]; n < r {
		t.Errorf("%v request durations for %v responses received", n, r)
	}
	var build bool
	for series := range got {
		if strings.Contains(series, "pump-3") {
			t.Errorf("%s: a disabled asset has series", series)
		}
		build = build || strings.HasPrefix(series, "http_connector_build_info{") && strings.Contains(series, `go_version="go1.`)
	}
	if !build {
		t.Errorf("no http_connector_build_info with the Go version among %d series", len(got))
	}
}

// Summed over the datasets (metricsPerDataset off), the counters keep
// what an asset had counted when it leaves: a sum that went down would
// read as a counter reset and its rate as a burst.
func TestSummedMetricsKeepStoppedAssets(t *testing.T) {
	c := startOpsConnector(t, "HTTP_CONNECTOR_METRICS_PER_DATASET=false")
	const forwarded = "aio_rest_connector_messages_forwarded"
	var before float64
	wait.Until(t, "the boiler's messages forwarded", func() error {
		got, err := c.scrape()
		if err != nil {
			return err
		}
		for series := range got {
			if strings.Contains(series, "asset=") {
				return fmt.Errorf("%s: per-dataset series while summed", series)
			}
		}
		if before = got[forwarded]; before < 2 {
			return fmt.Errorf("%s = %v", forwarded, before)
		}
		return nil
	})
	// The boiler leaves: only the chiller's asset stays.
	chillerOnly := opsAssets[strings.Index(opsAssets, "---\n")+4:]
	if err := os.WriteFile(filepath.Join(c.config, "assets.yaml"), []byte(chillerOnly), 0o644); err != nil {
		t.Fatal(err)
	}
	wait.Until(t, "the boiler stopped", func() error {
		got, err := c.scrape()
		if err != nil {
			return err
		}
		if got["http_connector_assets"] != 1 {
			return fmt.Errorf("http_connector_assets = %v", got["http_connector_assets"])
		}
		if got[forwarded] < before {
			t.Fatalf("%s went down from %v to %v when the boiler stopped", forwarded, before, got[forwarded])
		}
		if got["http_connector_request_duration_seconds"] < before {
			t.Fatalf("request durations %v after %v messages forwarded", got["http_connector_request_duration_seconds"], before)
		}
		return nil
	})
}
