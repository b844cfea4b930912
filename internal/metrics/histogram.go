package metrics

import (
	"sync/atomic"
	"time"
)

// NumBuckets is the number of bounded buckets of a Histogram; one more
// counts what is above the last bound.
const NumBuckets = 13

// Buckets are the upper bounds of a Histogram's buckets, inclusive:
// 1, 2.5 and 5 per decade from 1 ms to 10 s. A request to a device on the
// local network takes a few milliseconds, a slow PLC web server or a cloud
// API some hundred, and requests time out after 10 s by default; the 1-2.5-5
// steps keep a quantile read from the buckets within a factor 2.5.
func Buckets() []time.Duration {
	return []time.Duration{
		time.Millisecond, 2500 * time.Microsecond, 5 * time.Millisecond,
		10 * time.Millisecond, 25 * time.Millisecond, 50 * time.Millisecond,
		100 * time.Millisecond, 250 * time.Millisecond, 500 * time.Millisecond,
		time.Second, 2500 * time.Millisecond, 5 * time.Second,
		10 * time.Second,
	}
}

// bucket is the index of the bucket d falls in: the first whose bound is
// at least d, NumBuckets above the last. It agrees with Buckets (a test
// checks).
func bucket(d time.Duration) int {
	switch {
	case d <= 100*time.Millisecond:
		switch {
		case d <= time.Millisecond:
			return 0
		case d <= 2500*time.Microsecond:
			return 1
		case d <= 5*time.Millisecond:
			return 2
		case d <= 10*time.Millisecond:
			return 3
		case d <= 25*time.Millisecond:
			return 4
		case d <= 50*time.Millisecond:
			return 5
		}
		return 6
	case d <= 250*time.Millisecond:
		return 7
	case d <= 500*time.Millisecond:
		return 8
	case d <= time.Second:
		return 9
	case d <= 2500*time.Millisecond:
		return 10
	case d <= 5*time.Second:
		return 11
	case d <= 10*time.Second:
		return 12
	}
	return NumBuckets
}

// Histogram counts durations in the fixed Buckets. Observe is two atomic
// additions and allocates nothing, so the samplers call it on every
// request; the metrics read it with Snapshot at collection. The zero value
// is empty and ready; a Histogram must not be copied after first use.
type Histogram struct {
	counts [NumBuckets + 1]atomic.Uint64
	sum    atomic.Int64 // ns
}

// Observe records one duration; a negative one counts as zero.
func (h *Histogram) Observe(d time.Duration) {
	d = max(d, 0)
	h.counts[bucket(d)].Add(1)
	h.sum.Add(int64(d))
}

// Merge adds the observations of s to h: the runtime keeps the latencies of
// the datasets that stopped (ConnectorTotals.Stopped) by merging their last
// snapshots into one Histogram.
func (h *Histogram) Merge(s HistogramSnapshot) {
	for i, c := range s.Counts {
		if c != 0 {
			h.counts[i].Add(c)
		}
	}
	h.sum.Add(int64(s.Sum))
}

// HistogramSnapshot is what a Histogram had counted at one moment.
type HistogramSnapshot struct {
	// Counts are the observations per bucket, not cumulative: Counts[i]
	// for i < NumBuckets are those above bound i-1 and at most bound i,
	// Counts[NumBuckets] those above the last bound.
	Counts [NumBuckets + 1]uint64
	// Sum is the sum of the observations.
	Sum time.Duration
}

// Snapshot reads the histogram. Observations made meanwhile may be counted
// in their bucket and not yet in Sum, or the other way round; Count always
// agrees with the buckets.
func (h *Histogram) Snapshot() HistogramSnapshot {
	var s HistogramSnapshot
	for i := range h.counts {
		s.Counts[i] = h.counts[i].Load()
	}
	s.Sum = time.Duration(h.sum.Load())
	return s
}

// Count is the number of observations.
func (s *HistogramSnapshot) Count() uint64 {
	var n uint64
	for _, c := range s.Counts {
		n += c
	}
	return n
}

// add adds o's observations to s.
func (s *HistogramSnapshot) add(o *HistogramSnapshot) {
	for i, c := range o.Counts {
		s.Counts[i] += c
	}
	s.Sum += o.Sum
}
