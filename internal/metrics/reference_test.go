package metrics

import (
	"time"

	"github.com/prometheus/client_golang/prometheus"
)

// constCollector is the reference for the gatherer: how NewPrometheus
// exposed the Source before it, a prometheus.Collector whose every Collect
// is one collection made of const metrics, for a prometheus.Registry to
// gather. TestGathererMatchesConstMetrics checks that both give the same
// families.
type constCollector struct {
	src    Source
	opts   Options
	descs  [numFamilies]*prometheus.Desc
	kinds  [numFamilies]kind
	bounds []float64 // histogram bucket bounds, in seconds
}

func newConstCollector(src Source, o Options) *constCollector {
	c := &constCollector{src: src, opts: o}
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
func (c *constCollector) Describe(ch chan<- *prometheus.Desc) {
	for _, d := range c.descs {
		ch <- d
	}
}

// Collect reads the Source once and sends its metrics.
func (c *constCollector) Collect(ch chan<- prometheus.Metric) {
	collect(c.src, c.opts.PerDataset, c.opts.now(), constSink{c, ch})
}

type constSink struct {
	c  *constCollector
	ch chan<- prometheus.Metric
}

func (s constSink) point(f family, v int64, _ time.Time, labels []string) {
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

func (s constSink) histogram(f family, h *HistogramSnapshot, _ time.Time, labels []string) {
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
