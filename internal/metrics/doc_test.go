package metrics

import (
	"net/http/httptest"
	"os"
	"regexp"
	"slices"
	"testing"
	"time"
)

// TestDocNamesEveryMetric checks that the package documentation lists
// every metric, and no metric that does not exist.
func TestDocNamesEveryMetric(t *testing.T) {
	doc, err := os.ReadFile("doc.go")
	if err != nil {
		t.Fatal(err)
	}
	// Microsoft's metric that we do not export, named to say so.
	notOurs := map[string]bool{"aio_rest_connector_processing_latency": true}
	documented := map[string]bool{}
	for _, name := range regexp.MustCompile(`\b(?:aio_rest_connector|http_connector)_[a-z_]*[a-z]\b`).FindAllString(string(doc), -1) {
		documented[name] = true
	}
	if len(documented) == 0 {
		t.Fatal("doc.go names no metric")
	}
	for f := range numFamilies {
		name := f.spec().name
		if !documented[name] {
			t.Errorf("doc.go does not document %s", name)
		}
		delete(documented, name)
	}
	for name := range documented {
		if !notOurs[name] {
			t.Errorf("doc.go documents %s, which is no metric", name)
		}
	}
}

// TestCardinality checks the numbers of series the documentation gives.
func TestCardinality(t *testing.T) {
	withLatency := DatasetTotals{Asset: "a", Dataset: "d", Latency: &Histogram{}}
	noLatency := DatasetTotals{Asset: "a", Dataset: "e"}
	tests := []struct {
		name       string
		perDataset bool
		datasets   []DatasetTotals
		want       int
	}{
		{name: "no dataset", perDataset: true, want: 15},
		{name: "one dataset", perDataset: true, datasets: []DatasetTotals{withLatency}, want: 33 + 15},
		{name: "one dataset without latency", perDataset: true, datasets: []DatasetTotals{noLatency}, want: 17 + 15},
		{name: "two datasets", perDataset: true, datasets: []DatasetTotals{withLatency, noLatency}, want: 33 + 17 + 15},
		{name: "summed, no dataset", want: 48},
		{name: "summed, two datasets", datasets: []DatasetTotals{withLatency, noLatency}, want: 48},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := &fakeSource{datasets: slices.Clone(tt.datasets), connector: ConnectorTotals{Started: time.Unix(0, 0)}}
			srv := httptest.NewServer(NewPrometheus(src, Options{PerDataset: tt.perDataset}))
			defer srv.Close()
			if got := len(flatten(scrape(t, srv.URL))); got != tt.want {
				t.Errorf("%d series, want %d", got, tt.want)
			}
		})
	}
}
