package connector

import (
	"math/bits"
	"sync/atomic"
	"time"
)

// Lateness is a histogram of how late samples start, cheap enough to feed
// from every run: Observe is a few atomic operations and never allocates.
// Buckets are log-linear, eight per power of two, so a quantile read from it
// is at most 12.5% above the true value (exact below 16 ns). Pass its
// Observe method as Options.Observe.
type Lateness struct {
	counts    [latenessBuckets]atomic.Uint64
	total     atomic.Uint64
	max       atomic.Int64 // since the start, in ns
	periodMax atomic.Int64 // since the last Snapshot, in ns
}

// Eight sub-buckets per power of two; a lateness is a non-negative int64 in
// nanoseconds, so its bit length is at most 63.
const (
	latenessSubBits = 3
	latenessSub     = 1 << latenessSubBits
	latenessBuckets = (63 - latenessSubBits + 1) * latenessSub
)

// Observe records one start lateness. Negative values count as zero.
func (l *Lateness) Observe(d time.Duration) {
	ns := max(int64(d), 0)
	l.counts[latenessBucket(uint64(ns))].Add(1)
	l.total.Add(1)
	raise(&l.max, ns)
	raise(&l.periodMax, ns)
}

func raise(a *atomic.Int64, v int64) {
	for {
		cur := a.Load()
		if v <= cur || a.CompareAndSwap(cur, v) {
			return
		}
	}
}

// latenessBucket maps v to its bucket: values below 2·latenessSub have
// their own bucket; above, each power of two is cut into latenessSub.
func latenessBucket(v uint64) int {
	if v < 2*latenessSub {
		return int(v)
	}
	e := bits.Len64(v) // ≥ latenessSubBits+2
	sub := (v >> (e - latenessSubBits - 1)) & (latenessSub - 1)
	return (e-latenessSubBits)*latenessSub + int(sub)
}

// latenessUpper is the largest value that falls in bucket i.
func latenessUpper(i int) uint64 {
	if i < 2*latenessSub {
		return uint64(i)
	}
	e := i/latenessSub + latenessSubBits
	sub := uint64(i % latenessSub)
	shift := e - latenessSubBits - 1
	return (latenessSub+sub+1)<<shift - 1
}

// LatenessSnapshot is the state of a Lateness at one moment, as it is
// written to a stats file. Counts are totals since the start, so the
// difference of two snapshots (Sub) is the histogram of the time between.
type LatenessSnapshot struct {
	Count uint64 `json:"count"`
	// MaxNs is the largest lateness since the start.
	MaxNs int64 `json:"max_ns"`
	// PeriodMaxNs is the largest lateness since the previous snapshot.
	PeriodMaxNs int64 `json:"period_max_ns"`
	// Buckets are the non-empty buckets as [index, count] pairs.
	Buckets [][2]uint64 `json:"buckets,omitempty"`
}

// Snapshot reads the histogram and starts a new period for PeriodMaxNs.
func (l *Lateness) Snapshot() LatenessSnapshot {
	s := LatenessSnapshot{Count: l.total.Load(), MaxNs: l.max.Load(), PeriodMaxNs: l.periodMax.Swap(0)}
	for i := range l.counts {
		if n := l.counts[i].Load(); n > 0 {
			s.Buckets = append(s.Buckets, [2]uint64{uint64(i), n})
		}
	}
	return s
}

// Sub returns the histogram of the observations made after prev and up to
// s. MaxNs and PeriodMaxNs are s's: the caller keeps track of the period
// maxima it wants.
func (s LatenessSnapshot) Sub(prev LatenessSnapshot) LatenessSnapshot {
	out := LatenessSnapshot{Count: s.Count - prev.Count, MaxNs: s.MaxNs, PeriodMaxNs: s.PeriodMaxNs}
	before := map[uint64]uint64{}
	for _, b := range prev.Buckets {
		before[b[0]] = b[1]
	}
	for _, b := range s.Buckets {
		if n := b[1] - before[b[0]]; n > 0 {
			out.Buckets = append(out.Buckets, [2]uint64{b[0], n})
		}
	}
	return out
}

// Quantile returns the q-quantile (0 < q ≤ 1) as the upper bound of the
// bucket it falls in, capped at MaxNs; zero when there is no observation.
func (s LatenessSnapshot) Quantile(q float64) time.Duration {
	if s.Count == 0 {
		return 0
	}
	rank := uint64(q*float64(s.Count) + 0.999999)
	rank = min(max(rank, 1), s.Count)
	var seen uint64
	for _, b := range s.Buckets {
		seen += b[1]
		if seen >= rank {
			v := int64(latenessUpper(int(b[0])))
			if s.MaxNs > 0 {
				v = min(v, s.MaxNs)
			}
			return time.Duration(v)
		}
	}
	return time.Duration(s.MaxNs)
}

// Highest is the upper bound of the highest non-empty bucket, capped at
// MaxNs: the maximum of a Sub difference, to within one bucket.
func (s LatenessSnapshot) Highest() time.Duration {
	if len(s.Buckets) == 0 {
		return 0
	}
	v := int64(latenessUpper(int(s.Buckets[len(s.Buckets)-1][0])))
	if s.MaxNs > 0 {
		v = min(v, s.MaxNs)
	}
	return time.Duration(v)
}
