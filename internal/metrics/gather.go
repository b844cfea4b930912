package metrics

import (
	"cmp"
	"fmt"
	"slices"
	"strings"
	"sync/atomic"
	"time"
	"unicode/utf8"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"
)

// gatherer is the prometheus.Gatherer of NewPrometheus. Each Gather reads
// the Source once and builds the metric families directly, as a
// prometheus.Registry gives them for const metrics: the families sorted by
// name, the label pairs of a series sorted by name, the series of a family
// sorted by their label values. What makes a registry slow on 10,000
// datasets it does not do: a Metric per series to convert, a consistency
// check and a hash per series, a generic sort of every family. The asset
// and dataset label pairs are made once per dataset and shared among its
// series.
//
// The families it returns share their names, help texts, label names and
// bucket bounds with every other Gather: whoever reads them must not change
// them (promhttp only reads).
type gatherer struct {
	src        Source
	perDataset bool
	now        func() time.Time
	layouts    [numFamilies]layout
	// byName are the families in the order of their names.
	byName []family
	// bounds are the upper bounds of the histogram buckets, in seconds.
	bounds [NumBuckets]float64
	// assetLabel and datasetLabel are the label names that the asset and
	// dataset label pairs point to.
	assetLabel, datasetLabel string
	// lastSizes are the lengths the buffers of the last Gather reached, so
	// that the next one allocates them at their size at once instead of
	// growing them.
	lastSizes atomic.Pointer[gatherSizes]
}

// layout is how the series of a family are made.
type layout struct {
	name, help string
	typ        dto.MetricType
	// datasetLabels: the family's series have the asset and dataset labels,
	// first among their label values and first by name.
	datasetLabels bool
	// otherLabels are the names of the family's other labels, in the order
	// collect gives their values; nameOrder are their indexes in the order
	// of the names, the order of the label pairs of a series.
	otherLabels []string
	nameOrder   []int
}

// gatherSizes are the lengths of the buffers of one Gather.
type gatherSizes struct {
	datasets, pairs, histograms int
	series                      [numFamilies]int
}

func newGatherer(src Source, o Options) *gatherer {
	g := &gatherer{src: src, perDataset: o.PerDataset, now: o.now, assetLabel: labelAsset, datasetLabel: labelDataset}
	types := map[kind]dto.MetricType{counter: dto.MetricType_COUNTER, gauge: dto.MetricType_GAUGE, histogram: dto.MetricType_HISTOGRAM}
	for f := range numFamilies {
		sp := f.spec()
		l := layout{name: sp.name, help: sp.help, typ: types[sp.kind], datasetLabels: sp.perDataset && o.PerDataset, otherLabels: sp.labels}
		for i, name := range sp.labels {
			// The series of a family are ordered by their asset and
			// dataset first, which is the registry's order only while no
			// other label name sorts before them.
			if l.datasetLabels && name <= labelDataset {
				panic(fmt.Sprintf("metrics: label %s of %s does not sort after %s and %s", name, sp.name, labelAsset, labelDataset))
			}
			l.nameOrder = append(l.nameOrder, i)
		}
		slices.SortFunc(l.nameOrder, func(a, b int) int { return strings.Compare(sp.labels[a], sp.labels[b]) })
		g.layouts[f] = l
		g.byName = append(g.byName, f)
	}
	slices.SortFunc(g.byName, func(a, b family) int { return strings.Compare(g.layouts[a].name, g.layouts[b].name) })
	for i, b := range Buckets() {
		g.bounds[i] = b.Seconds()
	}
	return g
}

// Gather reads the Source once and returns its metric families. The error
// lists the series left out, if any: those with a label value that is not
// UTF-8, and the datasets that have the asset and dataset names of another
// one (the first in the Source's order is kept). The families returned are
// complete but for those.
func (g *gatherer) Gather() ([]*dto.MetricFamily, error) {
	c := newGathering(g)
	collect(c, g.perDataset, g.now(), c)
	g.lastSizes.Store(c.sizes())
	fams := c.families()
	return fams, c.errs.MaybeUnwrap()
}

// gathering is one Gather: the Source that collect reads and the sink that
// it fills, which keeps the series until they are all there and can be
// sorted.
type gathering struct {
	g *gatherer
	// datasets are the names of the datasets, in the Source's order.
	datasets []datasetNames
	// series are each family's series, in the order collect gives them.
	series [numFamilies][]series
	// pairs are the label pairs of the series but asset and dataset, each
	// series' in the order of their names from series.pairs on.
	pairs []*dto.LabelPair
	// interned are the label pairs made so far, by name and value; the
	// series with the same label share one.
	interned map[labelValue]*dto.LabelPair
	// histograms are the latency snapshots, series.histogram their index.
	histograms []HistogramSnapshot
	errs       prometheus.MultiError
}

// datasetNames are the values of a dataset's asset and dataset labels.
type datasetNames struct{ asset, dataset string }

// numDatasetLabels is the number of labels that datasetNames hold.
const numDatasetLabels = 2

// labelValue is a label pair's name and value.
type labelValue struct{ name, value string }

// series is one series of a family, until it is made into a dto.Metric.
type series struct {
	// dataset is the index in gathering.datasets, -1 for a series without
	// the asset and dataset labels.
	dataset int32
	// rank is the dataset's position in the order of the names, once the
	// datasets are ranked (-1 without the labels).
	rank int32
	// pairs is where the series' other label pairs begin in
	// gathering.pairs.
	pairs int32
	// histogram is the index in gathering.histograms, for a histogram.
	histogram int32
	value     float64
}

func newGathering(g *gatherer) *gathering {
	c := &gathering{g: g}
	if last := g.lastSizes.Load(); last != nil {
		c.datasets = make([]datasetNames, 0, last.datasets)
		c.pairs = make([]*dto.LabelPair, 0, last.pairs)
		c.histograms = make([]HistogramSnapshot, 0, last.histograms)
		for f, n := range last.series {
			c.series[f] = make([]series, 0, n)
		}
	}
	return c
}

// sizes are the lengths c's buffers reached.
func (c *gathering) sizes() *gatherSizes {
	s := &gatherSizes{datasets: len(c.datasets), pairs: len(c.pairs), histograms: len(c.histograms)}
	for f := range c.series {
		s.series[f] = len(c.series[f])
	}
	return s
}

// Datasets walks the Source's datasets and notes the names of each one
// before collect makes its series, so that a series knows its dataset by
// the order alone.
func (c *gathering) Datasets(f func(DatasetTotals)) {
	c.g.src.Datasets(func(d DatasetTotals) {
		if c.g.perDataset {
			c.datasets = append(c.datasets, datasetNames{asset: d.Asset, dataset: d.Dataset})
		}
		f(d)
	})
}

// Connector reads the Source's connector-wide totals.
func (c *gathering) Connector() ConnectorTotals { return c.g.src.Connector() }

func (c *gathering) point(f family, v int64, _ time.Time, labels []string) {
	c.add(f, series{value: float64(v)}, labels)
}

func (c *gathering) histogram(f family, h *HistogramSnapshot, _ time.Time, labels []string) {
	c.add(f, series{histogram: int32(len(c.histograms))}, labels)
	c.histograms = append(c.histograms, *h)
}

// add keeps s as a series of f with labels, or notes the error if a label
// value other than asset and dataset is not UTF-8 (those two are checked
// once per dataset, when the datasets are ranked).
func (c *gathering) add(f family, s series, labels []string) {
	l := &c.g.layouts[f]
	s.dataset, s.rank = -1, -1
	if l.datasetLabels {
		s.dataset = int32(len(c.datasets) - 1)
		labels = labels[numDatasetLabels:]
	}
	s.pairs = int32(len(c.pairs))
	for _, i := range l.nameOrder {
		p, err := c.pair(l.otherLabels[i], labels[i])
		if err != nil {
			c.pairs = c.pairs[:s.pairs]
			c.errs = append(c.errs, fmt.Errorf("%s: a series left out of the scrape: %w", l.name, err))
			return
		}
		c.pairs = append(c.pairs, p)
	}
	c.series[f] = append(c.series[f], s)
}

// pair is the label pair name=value, made once per Gather.
func (c *gathering) pair(name, value string) (*dto.LabelPair, error) {
	key := labelValue{name: name, value: value}
	if p, ok := c.interned[key]; ok {
		return p, nil
	}
	if !utf8.ValidString(value) {
		return nil, fmt.Errorf("label %s: value %q is not valid UTF-8", name, value)
	}
	if c.interned == nil {
		c.interned = make(map[labelValue]*dto.LabelPair)
	}
	p := newLabelPair(name, value)
	c.interned[key] = p
	return p, nil
}

// newLabelPair is the label pair name=value.
func newLabelPair(name, value string) *dto.LabelPair {
	return &dto.LabelPair{Name: &name, Value: &value}
}

// families makes the metric families of the series, in the registry's
// order, leaving out the empty ones as the registry does.
func (c *gathering) families() []*dto.MetricFamily {
	datasetPairs := c.rankDatasets()
	all := make([]dto.MetricFamily, len(c.g.byName))
	out := make([]*dto.MetricFamily, 0, len(all))
	for i, f := range c.g.byName {
		mf := &all[i]
		if c.family(mf, f, datasetPairs) {
			out = append(out, mf)
		}
	}
	return out
}

// rankDatasets orders the datasets by their asset and then dataset names,
// as the registry orders the series of a family, and gives each its rank
// in that order: the series are sorted by rank. A dataset with a name that
// is not UTF-8 is left out, and so is a dataset with the names of one
// before it in the Source's order; both are noted as errors. The result
// are the asset and dataset label pairs of each rank.
func (c *gathering) rankDatasets() [][]*dto.LabelPair {
	order := make([]int32, len(c.datasets))
	for i := range order {
		order[i] = int32(i)
	}
	slices.SortFunc(order, func(a, b int32) int {
		da, db := &c.datasets[a], &c.datasets[b]
		if r := strings.Compare(da.asset, db.asset); r != 0 {
			return r
		}
		if r := strings.Compare(da.dataset, db.dataset); r != 0 {
			return r
		}
		return cmp.Compare(a, b)
	})
	ranks := make([]int32, len(c.datasets))
	kept := make([]int32, 0, len(c.datasets))
	for _, i := range order {
		d := &c.datasets[i]
		ranks[i] = -1
		switch {
		case !utf8.ValidString(d.asset) || !utf8.ValidString(d.dataset):
			c.errs = append(c.errs, fmt.Errorf("asset %q, dataset %q: a name is not valid UTF-8; the dataset's series are left out of the scrape", d.asset, d.dataset))
		case len(kept) > 0 && c.datasets[kept[len(kept)-1]] == *d:
			c.errs = append(c.errs, fmt.Errorf("asset %q, dataset %q: two datasets have these names; the series of the second are left out of the scrape", d.asset, d.dataset))
		default:
			ranks[i] = int32(len(kept))
			kept = append(kept, i)
		}
	}
	for f := range c.series {
		for j := range c.series[f] {
			if s := &c.series[f][j]; s.dataset >= 0 {
				s.rank = ranks[s.dataset]
			}
		}
	}

	pairs := make([]dto.LabelPair, numDatasetLabels*len(kept))
	pointers := make([]*dto.LabelPair, len(pairs))
	byRank := make([][]*dto.LabelPair, len(kept))
	for r, i := range kept {
		d, at := &c.datasets[i], numDatasetLabels*r
		asset, dataset := &pairs[at], &pairs[at+1]
		asset.Name, asset.Value = &c.g.assetLabel, &d.asset
		dataset.Name, dataset.Value = &c.g.datasetLabel, &d.dataset
		pointers[at], pointers[at+1] = asset, dataset
		byRank[r] = pointers[at : at+numDatasetLabels : at+numDatasetLabels]
	}
	return byRank
}

// family fills mf with the series of f, sorted, and reports whether it has
// any. datasetPairs are the asset and dataset label pairs by rank.
func (c *gathering) family(mf *dto.MetricFamily, f family, datasetPairs [][]*dto.LabelPair) bool {
	l := &c.g.layouts[f]
	kept := slices.DeleteFunc(c.series[f], func(s series) bool { return s.dataset >= 0 && s.rank < 0 })
	if len(kept) == 0 {
		return false
	}
	// The registry's order: by the label values, in the order of the
	// label names, which is by rank and then by the other labels.
	if l.datasetLabels {
		kept = byRank(kept, len(datasetPairs))
	}
	others := len(l.otherLabels)
	if others > 0 {
		byOtherLabels := func(a, b series) int {
			for i := range others {
				// Equal label pairs are one pair: interned.
				if pa, pb := c.pairs[int(a.pairs)+i], c.pairs[int(b.pairs)+i]; pa != pb {
					return strings.Compare(pa.GetValue(), pb.GetValue())
				}
			}
			return 0
		}
		for start := 0; start < len(kept); {
			end := start + 1
			for end < len(kept) && kept[end].rank == kept[start].rank {
				end++
			}
			slices.SortFunc(kept[start:end], byOtherLabels)
			start = end
		}
	}

	n := len(kept)
	metrics := make([]dto.Metric, n)
	pointers := make([]*dto.Metric, n)
	var labelPairs []*dto.LabelPair // both the dataset's and other label pairs, per series
	width := numDatasetLabels + others
	if l.datasetLabels && others > 0 {
		labelPairs = make([]*dto.LabelPair, n*width)
	}
	for i, s := range kept {
		m := &metrics[i]
		switch {
		case l.datasetLabels && others > 0:
			m.Label = labelPairs[i*width : (i+1)*width : (i+1)*width]
			copy(m.Label, datasetPairs[s.rank])
			copy(m.Label[width-others:], c.pairs[s.pairs:int(s.pairs)+others])
		case l.datasetLabels:
			m.Label = datasetPairs[s.rank]
		case others > 0:
			m.Label = c.pairs[s.pairs : int(s.pairs)+others : int(s.pairs)+others]
		}
		pointers[i] = m
	}
	switch l.typ {
	case dto.MetricType_COUNTER:
		values := make([]float64, n)
		counters := make([]dto.Counter, n)
		for i, s := range kept {
			values[i] = s.value
			counters[i].Value = &values[i]
			metrics[i].Counter = &counters[i]
		}
	case dto.MetricType_GAUGE:
		values := make([]float64, n)
		gauges := make([]dto.Gauge, n)
		for i, s := range kept {
			values[i] = s.value
			gauges[i].Value = &values[i]
			metrics[i].Gauge = &gauges[i]
		}
	case dto.MetricType_HISTOGRAM:
		c.histogramValues(metrics, kept)
	}
	mf.Name, mf.Help, mf.Type, mf.Metric = &l.name, &l.help, &l.typ, pointers
	return true
}

// byRank orders ss by rank, keeping the order of those of one rank, in
// one pass (a counting sort): the ranks are 0 to ranks-1. The Source gives
// the datasets in any order, and a generic sort of 10,000 series in each
// family would take a tenth of a scrape.
func byRank(ss []series, ranks int) []series {
	sorted := true
	for i := 1; i < len(ss) && sorted; i++ {
		sorted = ss[i-1].rank <= ss[i].rank
	}
	if sorted {
		return ss
	}
	// next[r] is where the next series of rank r goes.
	next := make([]int32, ranks+1)
	for _, s := range ss {
		next[s.rank+1]++
	}
	for r := 1; r < len(next); r++ {
		next[r] += next[r-1]
	}
	out := make([]series, len(ss))
	for _, s := range ss {
		out[next[s.rank]] = s
		next[s.rank]++
	}
	return out
}

// histogramValues sets the histograms of metrics from the snapshots of
// their series: cumulative bucket counts, the +Inf bucket left to the
// count as in a const histogram, the sum in seconds.
func (c *gathering) histogramValues(metrics []dto.Metric, kept []series) {
	n := len(kept)
	histograms := make([]dto.Histogram, n)
	counts := make([]uint64, n)
	sums := make([]float64, n)
	buckets := make([]dto.Bucket, n*NumBuckets)
	bucketPointers := make([]*dto.Bucket, n*NumBuckets)
	cumulative := make([]uint64, n*NumBuckets)
	for i, s := range kept {
		snap := &c.histograms[s.histogram]
		var cum uint64
		for j := range NumBuckets {
			k := i*NumBuckets + j
			cum += snap.Counts[j]
			cumulative[k] = cum
			buckets[k].CumulativeCount, buckets[k].UpperBound = &cumulative[k], &c.g.bounds[j]
			bucketPointers[k] = &buckets[k]
		}
		counts[i] = cum + snap.Counts[NumBuckets]
		sums[i] = snap.Sum.Seconds()
		h := &histograms[i]
		h.SampleCount, h.SampleSum = &counts[i], &sums[i]
		h.Bucket = bucketPointers[i*NumBuckets : (i+1)*NumBuckets : (i+1)*NumBuckets]
		metrics[i].Histogram = h
	}
}
