package sampling_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/fstest"
	"time"

	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/config"
	"github.com/http-connector/http-connector/internal/fetch"
	"github.com/http-connector/http-connector/internal/plan"
	"github.com/http-connector/http-connector/internal/sampling"
)

// mappedDataset plans the one dataset of an asset with attributes, whose
// configuration folder has a mappings folder holding mappingFile.
func mappedDataset(t *testing.T, url, datasetConfig, pointConfig, mappingFile string) *plan.Dataset {
	t.Helper()
	asset := fmt.Sprintf(`apiVersion: namespaces.deviceregistry.microsoft.com/v1
kind: Asset
metadata: {name: asset-1}
spec:
  deviceRef: {deviceName: dev, endpointName: rest}
  attributes: {site: berlin, line: "3"}
  defaultDatasetsDestinations: [{target: Mqtt, configuration: {topic: out/t}}]
  datasets:
    - name: d
      datasetConfiguration: '%s'
      dataPoints:
        - {name: t, dataSource: /t, dataPointConfiguration: '%s'}
`, datasetConfig, pointConfig)
	l, err := config.NewLoader(plan.Defaults{})
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := l.LoadDir(fstest.MapFS{
		"device.yaml":        {Data: []byte(fmt.Sprintf(deviceYAML, url))},
		"asset.yaml":         {Data: []byte(asset)},
		"mappings/site.yaml": {Data: []byte(mappingFile)},
	}, ".", "test")
	if err != nil {
		t.Fatal(err)
	}
	return cfg.Assets[0].Datasets[0]
}

const siteMappings = `namespace: site
mappings:
  tagged:
    kind: dataset
    jq: '{t, site: $assetAttributes.site, line: $assetAttributes.line}'
  hot-only:
    kind: dataset
    jq: 'select(.t > 100)'
  broken:
    kind: dataset
    jq: '.t | error("no \(.)")'
  slow:
    kind: dataset
    jq: 'last(range(1e12))'
  tenfold:
    kind: dataPoint
    jq: '.[$dataPoint] * 10'
`

func TestNamedMappings(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		fmt.Fprint(w, `{"t": 21.5}`)
	}))
	defer srv.Close()
	tests := []struct {
		name, dataset, point string
		want, err            string
		filtered             int64
	}{
		{name: "asset attributes", dataset: `{"mapping": "site/tagged"}`, point: `{}`,
			want: `{"line":"3","site":"berlin","t":21.5}`},
		{name: "data point mapping", dataset: `{"mapping": "site/tagged"}`, point: `{"mapping": "site/tenfold"}`,
			want: `{"line":"3","site":"berlin","t":215}`},
		{name: "no output is filtered, not failed", dataset: `{"mapping": "site/hot-only"}`, point: `{}`,
			filtered: 1},
		{name: "an error fails the sample and names the mapping", dataset: `{"mapping": "site/broken"}`, point: `{}`,
			err: `mapping "site/broken": jq: error: no 21.5`},
		{name: "the shipped library", dataset: `{"mapping": "flatten/dotted"}`, point: `{"mapping": "thermostat/celsius"}`,
			want: `{"t":-5.8}`},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ds := mappedDataset(t, srv.URL, tt.dataset, tt.point, siteMappings)
			rec := &recorder{}
			var counters sampling.Counters
			s, err := sampling.New(ds, fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop(), Counters: &counters})
			if err != nil {
				t.Fatal(err)
			}
			s.Sample(context.Background(), time.Now())
			if got := fmt.Sprint(s.Failing()); tt.err != "" && got != tt.err || tt.err == "" && s.Failing() != nil {
				t.Errorf("error: got %s, want %q", got, tt.err)
			}
			if got := strings.Join(rec.payloads(), " "); got != tt.want {
				t.Errorf("payloads: got %s, want %s", got, tt.want)
			}
			if got := counters.Filtered.Load(); got != tt.filtered {
				t.Errorf("filtered samples: got %d, want %d", got, tt.filtered)
			}
			wantFailures := int64(0)
			if tt.err != "" {
				wantFailures = 1
			}
			if got := counters.Failures.Load(); got != wantFailures {
				t.Errorf("failed samples: got %d, want %d", got, wantFailures)
			}
		})
	}
}

// A mapping that runs away is stopped at the time limit and fails only its
// sample.
func TestMappingTimeLimit(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		fmt.Fprint(w, `{"t": 1}`)
	}))
	defer srv.Close()
	ds := mappedDataset(t, srv.URL, `{"mapping": "site/slow"}`, `{}`, siteMappings)
	rec := &recorder{}
	s, err := sampling.New(ds, fetch.New(fetch.Options{}), rec, sampling.Options{Logger: zerolog.Nop(), MappingTimeout: 50 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	s.Sample(context.Background(), time.Now())
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("the sample took %v, want about the 50ms limit", took)
	}
	want := `mapping "site/slow": jq: stopped: context deadline exceeded (the mappings of a sample may take 50ms)`
	if got := fmt.Sprint(s.Failing()); got != want {
		t.Errorf("error:\ngot  %s\nwant %s", got, want)
	}
	if len(rec.msgs) != 0 {
		t.Errorf("published %d messages", len(rec.msgs))
	}
}
