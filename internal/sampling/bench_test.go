package sampling

import (
	"context"
	"encoding/json"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/examples/thermostat"
	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/mqttclient"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/testing/loopback"
)

type nopPublisher struct{ n atomic.Int64 }

func (p *nopPublisher) Publish(context.Context, *mqttclient.Message) error {
	p.n.Add(1)
	return nil
}

// benchDataset loads the walkthrough's configuration with its asset's
// dataset replaced by dataset (YAML at the dataset's indentation, "" keeps
// the walkthrough's) and its device pointed at address.
func benchDataset(b *testing.B, address, dataset string) *plan.Dataset {
	b.Helper()
	files := fstest.MapFS{}
	src := thermostat.Config()
	for _, name := range []string{"device.yaml", "asset.yaml"} {
		data, err := src.(interface{ ReadFile(string) ([]byte, error) }).ReadFile(name)
		if err != nil {
			b.Fatal(err)
		}
		text := strings.ReplaceAll(string(data), "http://localhost:3000", address)
		if name == "asset.yaml" && dataset != "" {
			start := strings.Index(text, "  datasets:\n")
			end := strings.Index(text, "      destinations:\n")
			text = text[:start] + "  datasets:\n" + dataset + text[end:]
		}
		files[name] = &fstest.MapFile{Data: []byte(text)}
	}
	l, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		b.Fatal(err)
	}
	cfg, err := l.LoadDir(files, ".", "walkthrough")
	if err != nil {
		b.Fatal(err)
	}
	return cfg.Assets[0].Datasets[0]
}

const coalescedDataset = `    - name: thermostat_status
      datasetConfiguration: '{"samplingInterval": 1000}'
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/status}
        - {name: desiredTemperature, dataSource: /api/thermostat/status}
        - {name: power, dataSource: /api/thermostat/status}
`

const jqDataset = `    - name: thermostat_status
      datasetConfiguration: '{"samplingInterval": 1000, "jq": "{temperature: .currentTemperature, setpoint: .desiredTemperature, asset: $asset, time: $timestamp}"}'
      dataPoints:
        - {name: currentTemperature, dataSource: /api/thermostat/current}
        - name: desiredTemperature
          dataSource: /api/thermostat/desired
          dataPointConfiguration: '{"jq": ".desiredTemperature * 10 | round / 10"}'
`

// BenchmarkSample is one full sample with a publisher that does nothing:
// requests, decoding, data point values, the message. "walkthrough" is the
// walkthrough's dataset (two GETs, no jq); against httptest the server's
// allocations count too, against the canned server only the connector's.
func BenchmarkSample(b *testing.B) {
	hts := httptest.NewServer(thermostat.New(1).Handler())
	defer hts.Close()
	canned, err := loopback.Start(map[string]string{
		"/api/thermostat/current": `{"currentTemperature": 71.3}`,
		"/api/thermostat/desired": `{"desiredTemperature": 72.5}`,
		"/api/thermostat/status":  `{"currentTemperature": 71.3, "desiredTemperature": 72.5, "power": "on"}`,
	})
	if err != nil {
		b.Fatal(err)
	}
	defer canned.Close()
	cases := []struct{ name, address, dataset string }{
		{"walkthrough/httptest", hts.URL, ""},
		{"walkthrough/canned", canned.URL, ""},
		{"coalesced/canned", canned.URL, coalescedDataset},
		{"jq/canned", canned.URL, jqDataset},
	}
	for _, tc := range cases {
		ds := benchDataset(b, tc.address, tc.dataset)
		client := fetch.New(fetch.Options{})
		pub := new(nopPublisher)
		s, err := New(ds, client, pub, Options{Logger: zerolog.Nop()})
		if err != nil {
			b.Fatal(err)
		}
		ctx := context.Background()
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				s.Sample(ctx, time.Now())
			}
			if err := s.Failing(); err != nil {
				b.Fatal(err)
			}
			if pub.n.Load() == 0 {
				b.Fatal("nothing published")
			}
			b.ReportMetric(float64(len(ds.Requests)), "requests/sample")
		})
		client.Close()
	}
}

// BenchmarkDecode parses a /status response body.
func BenchmarkDecode(b *testing.B) {
	body := []byte(`{"currentTemperature": 71.3, "desiredTemperature": 72.5, "power": "on"}`)
	b.ReportAllocs()
	for b.Loop() {
		if _, err := Decode(body, "application/json"); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkEncodeObject builds the default message of two data points.
func BenchmarkEncodeObject(b *testing.B) {
	pts := []*plan.Point{{Name: "currentTemperature", Key: []byte(`"currentTemperature":`)}, {Name: "desiredTemperature", Key: []byte(`"desiredTemperature":`)}}
	decoded := []value{{v: json.Number("71.3")}, {v: json.Number("72.5")}}
	raw := []value{{raw: []byte("71.3")}, {raw: []byte("72.5")}}
	for _, tc := range []struct {
		name   string
		values []value
	}{{"decoded", decoded}, {"raw", raw}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			var buf []byte
			for b.Loop() {
				var err error
				if buf, err = encodeObject(buf[:0], pts, tc.values); err != nil {
					b.Fatal(err)
				}
			}
		})
	}
}
