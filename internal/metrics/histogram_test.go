package metrics

import (
	"math"
	"sync"
	"testing"
	"time"
)

func TestBucketAgreesWithBuckets(t *testing.T) {
	bounds := Buckets()
	if len(bounds) != NumBuckets {
		t.Fatalf("len(Buckets()) = %d, want NumBuckets = %d", len(bounds), NumBuckets)
	}
	// The reference: the first bound at least d.
	want := func(d time.Duration) int {
		for i, b := range bounds {
			if d <= b {
				return i
			}
		}
		return NumBuckets
	}
	probe := []time.Duration{math.MinInt64, -1, 0, 1, time.Duration(math.MaxInt64)}
	for i, b := range bounds {
		if i > 0 && b <= bounds[i-1] {
			t.Fatalf("Buckets()[%d] = %v is not above %v", i, b, bounds[i-1])
		}
		probe = append(probe, b-1, b, b+1, (b+bounds[max(i-1, 0)])/2)
	}
	for _, d := range probe {
		if got, w := bucket(max(d, 0)), want(max(d, 0)); got != w {
			t.Errorf("bucket(%v) = %d, want %d", d, got, w)
		}
	}
}

func TestHistogramObserve(t *testing.T) {
	tests := []struct {
		name   string
		in     []time.Duration
		counts map[int]uint64 // bucket → count; the others zero
		sum    time.Duration
	}{
		{name: "empty", counts: map[int]uint64{}},
		{name: "negative counts as zero", in: []time.Duration{-time.Second}, counts: map[int]uint64{0: 1}, sum: 0},
		{name: "bounds are inclusive", in: []time.Duration{time.Millisecond, 10 * time.Second}, counts: map[int]uint64{0: 1, 12: 1}, sum: 10*time.Second + time.Millisecond},
		{name: "just above a bound", in: []time.Duration{time.Millisecond + 1}, counts: map[int]uint64{1: 1}, sum: time.Millisecond + 1},
		{name: "overflow", in: []time.Duration{11 * time.Second, time.Hour}, counts: map[int]uint64{NumBuckets: 2}, sum: time.Hour + 11*time.Second},
		{name: "typical", in: []time.Duration{3 * time.Millisecond, 4 * time.Millisecond, 120 * time.Millisecond}, counts: map[int]uint64{2: 2, 7: 1}, sum: 127 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var h Histogram
			for _, d := range tt.in {
				h.Observe(d)
			}
			s := h.Snapshot()
			for i, c := range s.Counts {
				if c != tt.counts[i] {
					t.Errorf("Counts[%d] = %d, want %d", i, c, tt.counts[i])
				}
			}
			if s.Sum != tt.sum {
				t.Errorf("Sum = %v, want %v", s.Sum, tt.sum)
			}
			if got, want := s.Count(), uint64(len(tt.in)); got != want {
				t.Errorf("Count() = %d, want %d", got, want)
			}
		})
	}
}

// TestHistogramConcurrent observes from many goroutines while snapshots are
// taken (run with -race); the final snapshot has every observation.
func TestHistogramConcurrent(t *testing.T) {
	const goroutines, each = 16, 5000
	var h Histogram
	var wg sync.WaitGroup
	for g := range goroutines {
		wg.Go(func() {
			for i := range each {
				// Spread over every bucket, overflow included.
				h.Observe(time.Duration((g*each+i)%12000) * time.Millisecond)
			}
		})
	}
	stop := make(chan struct{})
	readerDone := make(chan struct{})
	go func() {
		defer close(readerDone)
		var last uint64
		for {
			select {
			case <-stop:
				return
			default:
			}
			s := h.Snapshot()
			if n := s.Count(); n < last {
				t.Errorf("Count went down from %d to %d", last, n)
				return
			} else {
				last = n
			}
		}
	}()
	wg.Wait()
	close(stop)
	<-readerDone

	s := h.Snapshot()
	if got, want := s.Count(), uint64(goroutines*each); got != want {
		t.Fatalf("Count() = %d, want %d", got, want)
	}
	var want HistogramSnapshot
	for g := range goroutines {
		for i := range each {
			d := time.Duration((g*each+i)%12000) * time.Millisecond
			want.Counts[bucket(d)]++
			want.Sum += d
		}
	}
	if s != want {
		t.Fatalf("snapshot = %+v, want %+v", s, want)
	}
}

func TestHistogramObserveAllocatesNothing(t *testing.T) {
	var h Histogram
	if n := testing.AllocsPerRun(1000, func() { h.Observe(42 * time.Millisecond) }); n != 0 {
		t.Fatalf("Observe allocates %v times per call, want 0", n)
	}
}

func TestSnapshotAdd(t *testing.T) {
	var a, b Histogram
	a.Observe(time.Millisecond)
	b.Observe(time.Millisecond)
	b.Observe(time.Minute)
	s, o := a.Snapshot(), b.Snapshot()
	s.add(&o)
	if s.Counts[0] != 2 || s.Counts[NumBuckets] != 1 || s.Sum != time.Minute+2*time.Millisecond {
		t.Fatalf("sum of snapshots = %+v, want 2 in bucket 0, 1 in overflow, sum 1m0.002s", s)
	}
}

func BenchmarkObserve(b *testing.B) {
	var h Histogram
	d := []time.Duration{800 * time.Microsecond, 3 * time.Millisecond, 40 * time.Millisecond, 700 * time.Millisecond, 3 * time.Second}
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		h.Observe(d[i%len(d)])
	}
}

// BenchmarkObserveParallel is every core observing the same histogram,
// which the samplers never do (one dataset, one sampler): the worst case.
func BenchmarkObserveParallel(b *testing.B) {
	var h Histogram
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		for pb.Next() {
			h.Observe(40 * time.Millisecond)
		}
	})
}
