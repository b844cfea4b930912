package metrics

import (
	"io"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/client_golang/prometheus/testutil/promlint"
	dto "github.com/prometheus/client_model/go"
	"google.golang.org/protobuf/encoding/prototext"
	"google.golang.org/protobuf/proto"
)

// latency is a Histogram of the observations ds.
func latency(ds ...time.Duration) *Histogram {
	h := &Histogram{}
	for _, d := range ds {
		h.Observe(d)
	}
	return h
}

// variedSource is newTestSource with more datasets, in no order: names
// that sort one way by bytes and another by eye (capitals, a hyphen, an
// umlaut, an empty name), several datasets of one asset, some without
// latency, some started later, and stopped totals for the sums.
func variedSource() *fakeSource {
	src := newTestSource()
	src.datasets = append(src.datasets,
		DatasetTotals{Asset: "pump", Dataset: "Flow", Samples: 7, BytesIn: 70, Failures: [NumFailureKinds]int64{FailureAuth: 2}, Latency: latency(time.Millisecond, 11*time.Second)},
		DatasetTotals{Asset: "Pump", Dataset: "flow", Messages: 3, Failing: true, Started: testNow.Add(-time.Second)},
		DatasetTotals{Asset: "boiler", Dataset: "temps-2", Samples: 1, Failures: [NumFailureKinds]int64{FailureInternal: 1}, Latency: latency(2 * time.Millisecond)},
		DatasetTotals{Asset: "boiler-2", Dataset: "temps", BytesOut: 12, Latency: latency()},
		DatasetTotals{Asset: "böiler", Dataset: "tëmps", Duplicates: 4, MissedTicks: 2, SkippedTicks: 1},
		DatasetTotals{Asset: "pump", Dataset: "", Filtered: 9, Suppressed: 8},
		DatasetTotals{Asset: "a", Dataset: "z", Samples: 1 << 40, Latency: latency(500*time.Millisecond, 500*time.Millisecond)},
	)
	src.connector.Stopped = DatasetTotals{Samples: 100, Failures: [NumFailureKinds]int64{FailureMapping: 3}, Latency: latency(time.Millisecond)}
	return src
}

// gatherConst is what the const metrics of the reference collector give,
// through a pedantic registry, which checks them against the descriptors.
func gatherConst(t *testing.T, src Source, o Options) ([]*dto.MetricFamily, error) {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(newConstCollector(src, o)); err != nil {
		t.Fatalf("register the const-metric collector: %v", err)
	}
	return reg.Gather()
}

// TestGathererMatchesConstMetrics checks that the gatherer gives, family
// for family, what the const metrics gave through a registry, with the
// registry's order, for sources with several datasets, histograms and
// errors, and with series that cannot be exposed.
func TestGathererMatchesConstMetrics(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fakeSource)
		// bad: some series cannot be exposed; both report an error.
		bad bool
	}{
		{name: "varied"},
		{name: "no dataset", change: func(src *fakeSource) { src.datasets = nil }},
		{name: "many datasets in no order", change: func(src *fakeSource) {
			src.datasets = manyDatasets(300).datasets
			r := rand.New(rand.NewPCG(3, 4))
			r.Shuffle(len(src.datasets), func(i, j int) { src.datasets[i], src.datasets[j] = src.datasets[j], src.datasets[i] })
		}},
		{name: "no start time", change: func(src *fakeSource) { src.connector.Started = time.Time{} }},
		{name: "no latency anywhere", change: func(src *fakeSource) {
			src.connector.Stopped.Latency = nil
			for i := range src.datasets {
				src.datasets[i].Latency = nil
			}
		}},
		{name: "dataset name not UTF-8", bad: true, change: func(src *fakeSource) { src.datasets[3].Dataset = "t\xffmps" }},
		{name: "asset name not UTF-8", bad: true, change: func(src *fakeSource) { src.datasets[0].Asset = "\xc3" }},
		{
			name: "two datasets with one name, the first kept", bad: true,
			change: func(src *fakeSource) {
				// Same names as the first, other totals: the first is kept,
				// as the registry kept the series collected first.
				src.datasets = append(src.datasets, DatasetTotals{Asset: "boiler", Dataset: "temps", Samples: 99, Latency: latency(time.Second)})
				src.datasets = slices.Insert(src.datasets, 2, DatasetTotals{Asset: "pump", Dataset: "flow", Samples: 98})
			},
		},
		{
			name: "two datasets with one name not UTF-8", bad: true,
			change: func(src *fakeSource) {
				src.datasets[1].Asset, src.datasets[2].Asset = "p\xffmp", "p\xffmp"
				src.datasets[1].Dataset, src.datasets[2].Dataset = "flow", "flow"
			},
		},
		{name: "build info not UTF-8", bad: true, change: func(src *fakeSource) { src.connector.Commit = "abc\xff" }},
	}
	for _, tt := range tests {
		for _, perDataset := range []bool{true, false} {
			name := tt.name + "/per dataset"
			if !perDataset {
				name = tt.name + "/summed"
			}
			t.Run(name, func(t *testing.T) {
				src := variedSource()
				if tt.change != nil {
					tt.change(src)
				}
				o := Options{PerDataset: perDataset, Now: testClock}
				want, wantErr := gatherConst(t, src, o)
				g := newGatherer(src, o)
				// The second Gather starts from the sizes of the first.
				for round := range 2 {
					got, err := g.Gather()
					if (err != nil) != (wantErr != nil) {
						t.Fatalf("round %d: error %v, the const metrics' %v", round, err, wantErr)
					}
					if tt.bad && perDataset && err == nil {
						t.Fatalf("round %d: no error for the series left out", round)
					}
					equalFamilies(t, got, want)
				}
			})
		}
	}
}

// equalFamilies checks that got and want are the same families in the
// same order, each with the same metrics in the same order.
func equalFamilies(t *testing.T, got, want []*dto.MetricFamily) {
	t.Helper()
	names := func(fams []*dto.MetricFamily) []string {
		var out []string
		for _, mf := range fams {
			out = append(out, mf.GetName())
		}
		return out
	}
	if !slices.Equal(names(got), names(want)) {
		t.Fatalf("families\n%v\nwant\n%v", names(got), names(want))
	}
	for i, g := range got {
		w := want[i]
		if proto.Equal(g, w) {
			continue
		}
		if len(g.Metric) != len(w.Metric) {
			t.Errorf("%s: %d metrics, want %d", g.GetName(), len(g.Metric), len(w.Metric))
			continue
		}
		for j := range g.Metric {
			if !proto.Equal(g.Metric[j], w.Metric[j]) {
				t.Errorf("%s: metric %d is\n%s\nwant\n%s", g.GetName(), j, prototext.Format(g.Metric[j]), prototext.Format(w.Metric[j]))
				break
			}
		}
		if !proto.Equal(&dto.MetricFamily{Name: g.Name, Help: g.Help, Type: g.Type, Unit: g.Unit}, &dto.MetricFamily{Name: w.Name, Help: w.Help, Type: w.Type, Unit: w.Unit}) {
			t.Errorf("family %s: %v, want %v", g.GetName(), prototext.Format(g), prototext.Format(w))
		}
	}
}

// TestGathererConsistent checks the gathered families as a registry checks
// what it collects (label names valid, label values UTF-8, the label pairs
// sorted by name, no two series alike, each of its family's type) and
// that they are already in the order a registry sorts them into.
func TestGathererConsistent(t *testing.T) {
	for _, perDataset := range []bool{true, false} {
		g := newGatherer(variedSource(), Options{PerDataset: perDataset, Now: testClock})
		got, err := g.Gather()
		if err != nil {
			t.Fatalf("PerDataset %v: gather: %v", perDataset, err)
		}
		if len(got) != int(numFamilies) {
			t.Errorf("PerDataset %v: %d families, want %d", perDataset, len(got), numFamilies)
		}
		for _, mf := range got {
			for _, m := range mf.Metric {
				if !slices.IsSortedFunc(m.Label, func(a, b *dto.LabelPair) int { return strings.Compare(a.GetName(), b.GetName()) }) {
					t.Errorf("PerDataset %v: %s: label pairs not sorted by name: %v", perDataset, mf.GetName(), m.Label)
				}
			}
		}
		// Gatherers checks every metric and sorts the families and their
		// metrics anew: the same metrics must come out, in the same order.
		checked, err := prometheus.Gatherers{g}.Gather()
		if err != nil {
			t.Fatalf("PerDataset %v: the registry's checks: %v", perDataset, err)
		}
		again, err := g.Gather()
		if err != nil {
			t.Fatalf("PerDataset %v: gather again: %v", perDataset, err)
		}
		equalFamilies(t, again, checked)
	}
}

// TestGathererLint runs promlint on the gathered families. Microsoft's
// counter names have no _total suffix, as documented: that is the one
// problem allowed.
func TestGathererLint(t *testing.T) {
	fams, err := newGatherer(variedSource(), Options{PerDataset: true, Now: testClock}).Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	problems, err := promlint.NewWithMetricFamilies(fams).Lint()
	if err != nil {
		t.Fatalf("lint: %v", err)
	}
	for _, p := range problems {
		if strings.HasPrefix(p.Metric, "aio_rest_connector_") && strings.Contains(p.Text, `"_total" suffix`) {
			continue
		}
		t.Errorf("%s: %s", p.Metric, p.Text)
	}
}

// TestPrometheusExpositionMatchesConstMetrics checks that a scrape serves,
// byte for byte once decompressed, the text that promhttp made of the
// const metrics through a registry.
func TestPrometheusExpositionMatchesConstMetrics(t *testing.T) {
	for _, perDataset := range []bool{true, false} {
		src := variedSource()
		o := Options{PerDataset: perDataset, Now: testClock}
		reg := prometheus.NewRegistry()
		reg.MustRegister(newConstCollector(src, o))
		old := httptest.NewServer(promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
		defer old.Close()
		srv := httptest.NewServer(NewPrometheus(src, o))
		defer srv.Close()
		got, want := get(t, srv.URL), get(t, old.URL)
		if got != want {
			t.Errorf("PerDataset %v: the exposition differs from the const metrics'\n%s\nwant\n%s", perDataset, got, want)
		}
	}
}

// get is the body of a GET of url, decompressed by the client.
func get(t *testing.T, url string) string {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("GET %s: %v", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("GET %s: status %d\n%s", url, resp.StatusCode, body)
	}
	return string(body)
}
