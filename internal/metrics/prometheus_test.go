package metrics

import (
	"io"
	"maps"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
	"github.com/rs/zerolog"

	"github.com/http-connector/http-connector/internal/testing/logbuf"
)

// scrape GETs url and parses the text exposition.
func scrape(t *testing.T, url string) map[string]*dto.MetricFamily {
	t.Helper()
	resp, err := http.Get(url)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatalf("scrape: %v", err)
	}
	if resp.StatusCode != http.StatusOK {
		t.Fatalf("scrape: status %d, want 200; body:\n%s", resp.StatusCode, body)
	}
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("Content-Type = %q, want the text format 0.0.4", ct)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	fams, err := p.TextToMetricFamilies(strings.NewReader(string(body)))
	if err != nil {
		t.Fatalf("parse the exposition: %v\n%s", err, body)
	}
	return fams
}

// flatten is every sample of fams as `name{label="value",...}` → value,
// histograms as their _bucket, _sum and _count samples.
func flatten(fams map[string]*dto.MetricFamily) map[string]float64 {
	out := map[string]float64{}
	key := func(name string, labels []*dto.LabelPair, extra ...string) string {
		var parts []string
		for _, l := range labels {
			parts = append(parts, l.GetName()+"="+strconv.Quote(l.GetValue()))
		}
		parts = append(parts, extra...)
		slices.Sort(parts)
		if len(parts) == 0 {
			return name
		}
		return name + "{" + strings.Join(parts, ",") + "}"
	}
	for name, f := range fams {
		for _, m := range f.GetMetric() {
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[key(name, m.GetLabel())] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[key(name, m.GetLabel())] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				h := m.GetHistogram()
				for _, b := range h.GetBucket() {
					le := strconv.FormatFloat(b.GetUpperBound(), 'g', -1, 64)
					out[key(name+"_bucket", m.GetLabel(), "le="+strconv.Quote(le))] = float64(b.GetCumulativeCount())
				}
				out[key(name+"_sum", m.GetLabel())] = h.GetSampleSum()
				out[key(name+"_count", m.GetLabel())] = float64(h.GetSampleCount())
			default:
				out[key(name, m.GetLabel())+" unexpected type "+f.GetType().String()] = 0
			}
		}
	}
	return out
}

// histogramSamples are the samples of a histogram named name with labels
// (already formatted, `asset="a",dataset="b"` or empty) whose cumulative
// bucket counts are cum (NumBuckets of them), then count and sum.
func histogramSamples(name, labels string, cum [NumBuckets]float64, count, sum float64) map[string]float64 {
	sep := ""
	if labels != "" {
		sep = ","
	}
	out := map[string]float64{}
	for i, b := range Buckets() {
		le := strconv.FormatFloat(b.Seconds(), 'g', -1, 64)
		out[name+"_bucket{"+labels+sep+`le="`+le+`"}`] = cum[i]
	}
	out[name+"_bucket{"+labels+sep+`le="+Inf"}`] = count
	brace := func(s string) string {
		if s == "" {
			return s
		}
		return "{" + s + "}"
	}
	out[name+"_count"+brace(labels)] = count
	out[name+"_sum"+brace(labels)] = sum
	return out
}

// connectorSamples are the connector-wide samples of newTestSource.
func connectorSamples() map[string]float64 {
	return map[string]float64{
		`aio_rest_connector_heartbeat`: 3,
		`http_connector_build_info{commit="abc123",go_version="go1.26.8",version="1.2.3"}`: 1,
		`http_connector_start_time_seconds`:                                                float64(testNow.Add(-95 * time.Second).Unix()),
		`http_connector_assets`:                                                            2,
		`http_connector_datasets`:                                                          2,
		`http_connector_mqtt_delivered_total{qos="0"}`:                                     7,
		`http_connector_mqtt_dropped_total{qos="0"}`:                                       1,
		`http_connector_mqtt_queued_total{qos="1"}`:                                        20,
		`http_connector_mqtt_delivered_total{qos="1"}`:                                     15,
		`http_connector_mqtt_dropped_total{qos="1"}`:                                       2,
		`http_connector_mqtt_expired_total{qos="1"}`:                                       1,
		`http_connector_mqtt_queue_messages`:                                               2,
		`http_connector_mqtt_spool_bytes`:                                                  4096,
		`http_connector_mqtt_connected`:                                                    1,
		`http_connector_mqtt_reconnects_total`:                                             3,
	}
}

// boilerLatency are the cumulative buckets of the boiler's observations:
// 3 ms, 3 ms, 40 ms and 20 s.
var boilerLatency = [NumBuckets]float64{0, 0, 2, 2, 2, 3, 3, 3, 3, 3, 3, 3, 3}

func wantPerDataset() map[string]float64 {
	want := connectorSamples()
	const b, p = `asset="boiler",dataset="temps"`, `asset="pump",dataset="flow"`
	for k, v := range map[string]float64{
		`aio_rest_connector_messages_received{` + b + `}`:       10,
		`aio_rest_connector_messages_forwarded{` + b + `}`:      9,
		`aio_rest_connector_messages_failed{` + b + `}`:         12, // parse 3 + mapping 4 + publish 5
		`aio_rest_connector_errors{` + b + `,error="request"}`:  1,
		`aio_rest_connector_errors{` + b + `,error="auth"}`:     2,
		`aio_rest_connector_errors{` + b + `,error="parse"}`:    3,
		`aio_rest_connector_errors{` + b + `,error="mapping"}`:  4,
		`aio_rest_connector_errors{` + b + `,error="publish"}`:  5,
		`aio_rest_connector_errors{` + b + `,error="internal"}`: 6,
		`aio_rest_connector_bytes_in{` + b + `}`:                1000,
		`aio_rest_connector_bytes_out{` + b + `}`:               900,
		`http_connector_samples_suppressed_total{` + b + `}`:    1,
		`http_connector_samples_filtered_total{` + b + `}`:      2,
		`http_connector_duplicates_dropped_total{` + b + `}`:    3,
		`http_connector_ticks_missed_total{` + b + `}`:          4,
		`http_connector_ticks_skipped_total{` + b + `}`:         5,
		`http_connector_datasets_failing{` + b + `}`:            1,
		`aio_rest_connector_messages_received{` + p + `}`:       5,
		`aio_rest_connector_messages_forwarded{` + p + `}`:      5,
		`aio_rest_connector_messages_failed{` + p + `}`:         0,
		`aio_rest_connector_errors{` + p + `,error="request"}`:  0,
		`aio_rest_connector_errors{` + p + `,error="auth"}`:     0,
		`aio_rest_connector_errors{` + p + `,error="parse"}`:    0,
		`aio_rest_connector_errors{` + p + `,error="mapping"}`:  0,
		`aio_rest_connector_errors{` + p + `,error="publish"}`:  0,
		`aio_rest_connector_errors{` + p + `,error="internal"}`: 0,
		`aio_rest_connector_bytes_in{` + p + `}`:                50,
		`aio_rest_connector_bytes_out{` + p + `}`:               40,
		`http_connector_samples_suppressed_total{` + p + `}`:    0,
		`http_connector_samples_filtered_total{` + p + `}`:      0,
		`http_connector_duplicates_dropped_total{` + p + `}`:    0,
		`http_connector_ticks_missed_total{` + p + `}`:          0,
		`http_connector_ticks_skipped_total{` + p + `}`:         0,
		`http_connector_datasets_failing{` + p + `}`:            0,
	} {
		want[k] = v
	}
	// The pump keeps no latency: no histogram for it.
	maps.Copy(want, histogramSamples("http_connector_request_duration_seconds", b, boilerLatency, 4, 20.046))
	return want
}

func wantSummed() map[string]float64 {
	want := connectorSamples()
	maps.Copy(want, map[string]float64{
		`aio_rest_connector_messages_received`:        15,
		`aio_rest_connector_messages_forwarded`:       14,
		`aio_rest_connector_messages_failed`:          12,
		`aio_rest_connector_errors{error="request"}`:  1,
		`aio_rest_connector_errors{error="auth"}`:     2,
		`aio_rest_connector_errors{error="parse"}`:    3,
		`aio_rest_connector_errors{error="mapping"}`:  4,
		`aio_rest_connector_errors{error="publish"}`:  5,
		`aio_rest_connector_errors{error="internal"}`: 6,
		`aio_rest_connector_bytes_in`:                 1050,
		`aio_rest_connector_bytes_out`:                940,
		`http_connector_samples_suppressed_total`:     1,
		`http_connector_samples_filtered_total`:       2,
		`http_connector_duplicates_dropped_total`:     3,
		`http_connector_ticks_missed_total`:           4,
		`http_connector_ticks_skipped_total`:          5,
		`http_connector_datasets_failing`:             1,
	})
	maps.Copy(want, histogramSamples("http_connector_request_duration_seconds", "", boilerLatency, 4, 20.046))
	return want
}

func TestPrometheusExposition(t *testing.T) {
	tests := []struct {
		name       string
		perDataset bool
		// change alters the test source before the scrape.
		change func(*fakeSource)
		want   func() map[string]float64
	}{
		{name: "per dataset", perDataset: true, want: wantPerDataset},
		{name: "summed", perDataset: false, want: wantSummed},
		{
			name: "summed with stopped datasets",
			change: func(src *fakeSource) {
				stopped := &Histogram{}
				stopped.Observe(time.Millisecond)
				src.connector.Stopped = DatasetTotals{Samples: 100, Messages: 90, Failures: [NumFailureKinds]int64{FailureParse: 7}, Latency: stopped}
			},
			want: func() map[string]float64 {
				want := wantSummed()
				want[`aio_rest_connector_messages_received`] += 100
				want[`aio_rest_connector_messages_forwarded`] += 90
				want[`aio_rest_connector_messages_failed`] += 7
				want[`aio_rest_connector_errors{error="parse"}`] += 7
				cum := boilerLatency
				for i := range cum {
					cum[i]++
				}
				maps.Copy(want, histogramSamples("http_connector_request_duration_seconds", "", cum, 5, 20.047))
				return want
			},
		},
		{
			name: "per dataset ignores stopped datasets", perDataset: true,
			change: func(src *fakeSource) { src.connector.Stopped = DatasetTotals{Samples: 100} },
			want:   wantPerDataset,
		},
		{
			name:   "no start time, no heartbeat",
			change: func(src *fakeSource) { src.connector.Started = time.Time{} },
			want: func() map[string]float64 {
				want := wantSummed()
				want[`aio_rest_connector_heartbeat`] = 0
				want[`http_connector_start_time_seconds`] = 0
				return want
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newTestSource()
			if tt.change != nil {
				tt.change(src)
			}
			srv := httptest.NewServer(NewPrometheus(src, Options{PerDataset: tt.perDataset, Now: testClock}))
			defer srv.Close()
			fams := scrape(t, srv.URL)
			checkFamilies(t, fams)
			got, want := flatten(fams), tt.want()
			for k, w := range want {
				g, ok := got[k]
				switch {
				case !ok:
					t.Errorf("missing %s (want %v)", k, w)
				case g != w:
					t.Errorf("%s = %v, want %v", k, g, w)
				}
			}
			for k, g := range got {
				if _, ok := want[k]; !ok {
					t.Errorf("unexpected %s = %v", k, g)
				}
			}
		})
	}
}

// checkFamilies checks that every family is exposed with its spec's type
// and help, and nothing else.
func checkFamilies(t *testing.T, fams map[string]*dto.MetricFamily) {
	t.Helper()
	types := map[kind]dto.MetricType{counter: dto.MetricType_COUNTER, gauge: dto.MetricType_GAUGE, histogram: dto.MetricType_HISTOGRAM}
	seen := map[string]bool{}
	for f := range numFamilies {
		sp := f.spec()
		seen[sp.name] = true
		mf, ok := fams[sp.name]
		if !ok {
			t.Errorf("family %s is not exposed", sp.name)
			continue
		}
		if mf.GetType() != types[sp.kind] {
			t.Errorf("%s: type %v, want %v", sp.name, mf.GetType(), types[sp.kind])
		}
		if mf.GetHelp() != sp.help {
			t.Errorf("%s: help %q, want %q", sp.name, mf.GetHelp(), sp.help)
		}
	}
	for name := range fams {
		if !seen[name] {
			t.Errorf("unexpected family %s", name)
		}
	}
}

// TestPrometheusReadsOncePerScrape checks that the Source is read once per
// scrape and never in between, whatever the samplers do meanwhile.
func TestPrometheusReadsOncePerScrape(t *testing.T) {
	src := newTestSource()
	srv := httptest.NewServer(NewPrometheus(src, Options{PerDataset: true, Now: testClock}))
	defer srv.Close()
	check := func(when string, want int64) {
		t.Helper()
		if d, c := src.calls(); d != want || c != want {
			t.Errorf("%s: Datasets called %d times, Connector %d times, want %d each", when, d, c, want)
		}
	}
	check("before any scrape", 0)
	for i := range 3 {
		// The hot path between scrapes: observations only.
		src.datasets[0].Latency.Observe(time.Millisecond)
		check("between scrapes", int64(i))
		scrape(t, srv.URL)
		check("after a scrape", int64(i+1))
	}
}

// TestPrometheusConcurrentScrapes scrapes from several goroutines while
// the samplers observe (run with -race). Each scrape served is one read of
// the Source; those over maxScrapes at once are refused with 503.
func TestPrometheusConcurrentScrapes(t *testing.T) {
	src := manyDatasets(200)
	srv := httptest.NewServer(NewPrometheus(src, Options{PerDataset: true}))
	defer srv.Close()

	// The samplers: a bounded number of observations each, alongside the
	// scrapes.
	var observers sync.WaitGroup
	for _, d := range src.datasets[:4] {
		observers.Go(func() {
			for range 20000 {
				d.Latency.Observe(5 * time.Millisecond)
			}
		})
	}
	var (
		mu       sync.Mutex
		statuses = map[int]int{}
		scrapers sync.WaitGroup
	)
	for range 6 {
		scrapers.Go(func() {
			for range 5 {
				resp, err := http.Get(srv.URL)
				if err != nil {
					t.Errorf("scrape: %v", err)
					return
				}
				_, _ = io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
				mu.Lock()
				statuses[resp.StatusCode]++
				mu.Unlock()
			}
		})
	}
	scrapers.Wait()
	observers.Wait()

	for code := range statuses {
		if code != http.StatusOK && code != http.StatusServiceUnavailable {
			t.Errorf("status %d in %v, want only 200 and 503", code, statuses)
		}
	}
	if statuses[http.StatusOK] == 0 {
		t.Fatalf("no scrape was served: %v", statuses)
	}
	t.Logf("statuses: %v", statuses)
	ok := int64(statuses[http.StatusOK])
	if d, c := src.calls(); d != ok || c != ok {
		t.Errorf("Datasets called %d times, Connector %d, want %d each (the scrapes served)", d, c, ok)
	}
}

// TestPrometheusBadSeries checks that a series that cannot be exposed is
// left out and logged, and the others are served.
func TestPrometheusBadSeries(t *testing.T) {
	tests := []struct {
		name   string
		change func(*fakeSource)
	}{
		{name: "label value not UTF-8", change: func(src *fakeSource) { src.datasets[1].Dataset = "fl\xffow" }},
		{name: "two datasets with one name", change: func(src *fakeSource) { src.datasets[1].Asset, src.datasets[1].Dataset = "boiler", "temps" }},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			src := newTestSource()
			tt.change(src)
			var logs logbuf.Buffer
			srv := httptest.NewServer(NewPrometheus(src, Options{PerDataset: true, Now: testClock, Logger: zerolog.New(&logs)}))
			defer srv.Close()
			got := flatten(scrape(t, srv.URL))
			// The first dataset and the connector are all there.
			for k, w := range wantPerDataset() {
				if strings.Contains(k, `"pump"`) {
					continue
				}
				if g, ok := got[k]; !ok || g != w {
					t.Errorf("%s = %v (present %v), want %v", k, g, ok, w)
				}
			}
			recs := logs.Records()
			if len(recs) == 0 || recs[0]["message"] != "metrics scrape" || recs[0]["level"] != "warn" {
				t.Fatalf("logs = %v, want a warning \"metrics scrape\"", recs)
			}
		})
	}
}

func TestFamilyNames(t *testing.T) {
	names := map[string]family{}
	for f := range numFamilies {
		sp := f.spec()
		if !model.LegacyValidation.IsValidMetricName(sp.name) {
			t.Errorf("%s is not a valid legacy Prometheus name", sp.name)
		}
		if !strings.HasPrefix(sp.name, "aio_rest_connector_") && !strings.HasPrefix(sp.name, "http_connector_") {
			t.Errorf("%s has neither Microsoft's prefix nor ours", sp.name)
		}
		if ours := strings.HasPrefix(sp.name, "http_connector_"); ours && sp.kind == counter && !strings.HasSuffix(sp.name, "_total") {
			t.Errorf("our counter %s does not end in _total", sp.name)
		}
		if g, dup := names[sp.name]; dup {
			t.Errorf("families %d and %d are both %s", g, f, sp.name)
		}
		names[sp.name] = f
		if sp.help == "" || sp.unit == "" {
			t.Errorf("%s: help %q, unit %q: both are needed", sp.name, sp.help, sp.unit)
		}
	}
}

// BenchmarkScrape is one scrape of 10,000 datasets through the handler, as
// Prometheus asks for it (gzip), written to a sink that keeps nothing:
// collection, encoding and compression; no network. Besides the wall time
// per scrape it reports the CPU time per scrape (cpu-ns/op, where it can
// be read) and the size of the last response (gzip-bytes).
func BenchmarkScrape(b *testing.B) {
	for _, bb := range []struct {
		name       string
		perDataset bool
		// shuffled: the Source gives the datasets in no order, as the
		// runtime does (its assets are a map); else sorted by name.
		shuffled bool
	}{
		{name: "per-dataset", perDataset: true},
		{name: "per-dataset-shuffled", perDataset: true, shuffled: true},
		{name: "summed"},
	} {
		b.Run(bb.name, func(b *testing.B) {
			src := manyDatasets(10000)
			if bb.shuffled {
				r := rand.New(rand.NewPCG(1, 2))
				r.Shuffle(len(src.datasets), func(i, j int) { src.datasets[i], src.datasets[j] = src.datasets[j], src.datasets[i] })
			}
			h := NewPrometheus(src, Options{PerDataset: bb.perDataset})
			req := httptest.NewRequest(http.MethodGet, "/metrics", nil)
			req.Header.Set("Accept", "text/plain;version=0.0.4;q=0.5,*/*;q=0.1")
			req.Header.Set("Accept-Encoding", "gzip")
			b.ReportAllocs()
			var (
				w                  discard
				scrapes            int
				cpuStart, cpuKnown = processCPUTime()
			)
			for b.Loop() {
				w = discard{header: http.Header{}}
				h.ServeHTTP(&w, req)
				if w.code != http.StatusOK {
					b.Fatalf("status %d", w.code)
				}
				scrapes++
			}
			b.ReportMetric(float64(w.n), "gzip-bytes")
			// ns/op is wall time; the CPU time of all threads (the
			// garbage collector's included) is what a scrape costs.
			if cpuEnd, ok := processCPUTime(); cpuKnown && ok && scrapes > 0 {
				b.ReportMetric(float64(cpuEnd-cpuStart)/float64(scrapes), "cpu-ns/op")
			}
		})
	}
}

// discard is a ResponseWriter that counts the body and keeps nothing.
type discard struct {
	header http.Header
	code   int
	n      int
}

func (d *discard) Header() http.Header { return d.header }
func (d *discard) WriteHeader(code int) {
	if d.code == 0 {
		d.code = code
	}
}

func (d *discard) Write(p []byte) (int, error) {
	d.WriteHeader(http.StatusOK)
	d.n += len(p)
	return len(p), nil
}
