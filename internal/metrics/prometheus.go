package metrics

import (
	"fmt"
	"net/http"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/rs/zerolog"
)

// Options are what both exports share.
type Options struct {
	// PerDataset exports the per-dataset metrics once per dataset, with
	// asset and dataset labels. Off, they are summed over the datasets
	// into one series each, whatever the number of datasets (see
	// Cardinality in the package documentation).
	PerDataset bool
	// Now is the clock: the heartbeat and the OTLP timestamps. Nil means
	// time.Now.
	Now func() time.Time
	// Logger receives what goes wrong outside a caller's reach: a scrape
	// that could not include some series, an OTLP export that failed.
	// The zero Logger logs nothing.
	Logger zerolog.Logger
}

func (o *Options) now() time.Time {
	if o.Now != nil {
		return o.Now()
	}
	return time.Now()
}

// maxScrapes is how many scrapes run at once; more are answered 503.
// One scrape of 10,000 datasets takes a core for a moment (see the
// benchmark), so two Prometheus servers can scrape, but a burst of
// requests cannot pile up collections.
const maxScrapes = 2

// NewPrometheus is the handler of /metrics: the Prometheus text exposition
// of src, read once per scrape. It has its own registry, holding only these
// metrics. OpenMetrics is not offered, so the names stay as documented
// (OpenMetrics would add _total to Microsoft's counter names).
func NewPrometheus(src Source, o Options) http.Handler {
	reg := prometheus.NewRegistry()
	reg.MustRegister(newCollector(src, o)) // the descriptors are fixed; a test registers them pedantically
	return promhttp.HandlerFor(reg, promhttp.HandlerOpts{
		// A series that cannot be exposed (a label value that is not
		// UTF-8, two datasets with the same asset and dataset names) is
		// logged and left out; the others are served.
		ErrorHandling:       promhttp.ContinueOnError,
		ErrorLog:            promLogger{o.Logger},
		MaxRequestsInFlight: maxScrapes,
	})
}

// collector is the prometheus.Collector over a Source: each Collect is one
// collection, made of const metrics.
type collector struct {
	src    Source
	opts   Options
	descs  [numFamilies]*prometheus.Desc
	kinds  [numFamilies]kind
	bounds []float64 // histogram bucket bounds, in seconds
}

func newCollector(src Source, o Options) *collector {
	c := &collector{src: src, opts: o}
	for f := range numFamilies {
		sp := f.spec()
		var labels []string
		if sp.perDataset && o.PerDataset {
			labels = append(labels, labelAsset, labelDataset)
		}
		labels = append(labels, sp.labels...)
		c.descs[f] = prometheus.NewDesc(sp.name, sp.help, labels, nil)
		c.kinds[f] = sp.kind
	}
	for _, b := range Buckets() {
		c.bounds = append(c.bounds, b.Seconds())
	}
	return c
}

// Describe sends every family's descriptor.
func (c *collector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the Source once and sends its metrics.
func (c *collector) Collect(ch chan<- prometheus.Metric) {
	collect(c.src, c.opts.PerDataset, c.opts.now(), promSink{c, ch})
}

type promSink struct {
	c  *collector
	ch chan<- prometheus.Metric
}

func (s promSink) point(f family, v int64, _ time.Time, labels []string) {
	vt := prometheus.GaugeValue
	if s.c.kinds[f] == counter {
		vt = prometheus.CounterValue
	}
	// Not MustNewConstMetric: a label value that is not UTF-8 would panic
	// in the registry's collecting goroutine and end the process.
	m, err := prometheus.NewConstMetric(s.c.descs[f], vt, float64(v), labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(s.c.descs[f], err)
	}
	s.ch <- m
}

func (s promSink) histogram(f family, h *HistogramSnapshot, _ time.Time, labels []string) {
	buckets := make(map[float64]uint64, NumBuckets)
	var cum uint64
	for i, b := range s.c.bounds {
		cum += h.Counts[i]
		buckets[b] = cum
	}
	count := cum + h.Counts[NumBuckets]
	m, err := prometheus.NewConstHistogram(s.c.descs[f], count, h.Sum.Seconds(), buckets, labels...)
	if err != nil {
		m = prometheus.NewInvalidMetric(s.c.descs[f], err)
	}
	s.ch <- m
}

// promLogger logs promhttp's errors.
type promLogger struct{ log zerolog.Logger }

func (l promLogger) Println(v ...any) {
	l.log.Warn().Str("error", fmt.Sprint(v...)).Msg("metrics scrape")
}
