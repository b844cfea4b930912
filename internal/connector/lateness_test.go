package connector

import (
	"testing"
	"time"
)

func TestLatenessBuckets(t *testing.T) {
	// Every value falls in a bucket whose bounds hold it, and buckets are
	// contiguous and in order.
	prevUpper := int64(-1)
	for i := 0; i < latenessBuckets; i++ {
		up := int64(latenessUpper(i))
		if up <= prevUpper {
			t.Fatalf("bucket %d: upper %d not above previous %d", i, up, prevUpper)
		}
		if got := latenessBucket(uint64(prevUpper + 1)); got != i {
			t.Fatalf("value %d: bucket %d, want %d", prevUpper+1, got, i)
		}
		if got := latenessBucket(uint64(up)); got != i {
			t.Fatalf("value %d: bucket %d, want %d", up, got, i)
		}
		prevUpper = up
		if up < 0 || up == 1<<63-1 {
			break
		}
	}
}

func TestLatenessQuantiles(t *testing.T) {
	var l Lateness
	for i := 1; i <= 1000; i++ {
		l.Observe(time.Duration(i) * time.Millisecond)
	}
	l.Observe(-time.Second) // counts as zero
	first := l.Snapshot()
	for i := 0; i < 100; i++ {
		l.Observe(5 * time.Second)
	}
	second := l.Snapshot()
	tests := []struct {
		name string
		got  time.Duration
		min  time.Duration
		max  time.Duration
	}{
		{"p50", first.Quantile(0.5), 500 * time.Millisecond, 500 * time.Millisecond * 9 / 8},
		{"p99", first.Quantile(0.99), 990 * time.Millisecond, 990 * time.Millisecond * 9 / 8},
		{"p100 capped at max", first.Quantile(1), time.Second, time.Second},
		{"window p50", second.Sub(first).Quantile(0.5), 5 * time.Second, 5 * time.Second},
		{"window highest", second.Sub(first).Highest(), 5 * time.Second, 5 * time.Second},
	}
	for _, tc := range tests {
		if tc.got < tc.min || tc.got > tc.max {
			t.Errorf("%s = %v, want within [%v, %v]", tc.name, tc.got, tc.min, tc.max)
		}
	}
	if first.Count != 1001 || second.Sub(first).Count != 100 {
		t.Errorf("counts = %d, %d; want 1001, 100", first.Count, second.Sub(first).Count)
	}
	if first.PeriodMaxNs != int64(time.Second) || second.PeriodMaxNs != int64(5*time.Second) {
		t.Errorf("period maxima = %d, %d; want 1s, 5s", first.PeriodMaxNs, second.PeriodMaxNs)
	}
	if (LatenessSnapshot{}).Quantile(0.5) != 0 {
		t.Error("empty histogram: quantile not zero")
	}
}

func BenchmarkLatenessObserve(b *testing.B) {
	var l Lateness
	b.ReportAllocs()
	b.RunParallel(func(pb *testing.PB) {
		d := time.Duration(0)
		for pb.Next() {
			d += 37 * time.Microsecond
			l.Observe(d % (50 * time.Millisecond))
		}
	})
}
