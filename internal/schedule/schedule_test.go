package schedule

import (
	"context"
	"fmt"
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"
)

func TestPhaseSpreadsKeysOverTheInterval(t *testing.T) {
	const n, interval = 2000, time.Second
	buckets := make([]int, 10)
	for i := range n {
		p := Phase(fmt.Sprintf("asset-%d/status", i), interval)
		if p < 0 || p >= interval {
			t.Fatalf("phase %v outside [0, %v)", p, interval)
		}
		buckets[p*10/interval]++
	}
	for i, c := range buckets {
		if c < n/10/2 || c > n/10*2 {
			t.Errorf("tenth %d of the interval holds %d of %d first ticks; want them spread", i, c, n)
		}
	}
}

// ticks is when a job of this key and interval added at start ticks before
// end: its first tick at its phase, then every interval.
func ticks(key string, interval time.Duration, start, end time.Time) []time.Time {
	next := start.Truncate(interval).Add(Phase(key, interval))
	if !next.After(start) {
		next = next.Add(interval)
	}
	var out []time.Time
	for ; next.Before(end); next = next.Add(interval) {
		out = append(out, next)
	}
	return out
}

// The scheduler in virtual time: a job runs at exactly its ticks, due
// times exactly an interval apart, and no tick is missed.
func TestRunsOnTheIntervalAndStops(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil)
		var mu sync.Mutex
		var dues, starts []time.Time
		start := time.Now()
		s.Add("job", 50*time.Millisecond, func(ctx context.Context, due time.Time) {
			mu.Lock()
			dues, starts = append(dues, due), append(starts, time.Now())
			mu.Unlock()
		})
		ctx, cancel := context.WithTimeout(context.Background(), 557*time.Millisecond)
		defer cancel()
		s.Run(ctx)
		want := ticks("job", 50*time.Millisecond, start, start.Add(557*time.Millisecond))
		if !slices.Equal(dues, want) || !slices.Equal(starts, want) {
			t.Errorf("due %v, started %v, want both %v", dues, starts, want)
		}
		if s.Missed() != 0 {
			t.Errorf("missed %d ticks with a quick job", s.Missed())
		}
	})
}

// A job still running at its next tick skips that tick and counts it.
func TestOverrunSkipsAndCountsTicks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const interval, takes = 20 * time.Millisecond, 70 * time.Millisecond // three ticks and a half
		s := New(nil)
		var running, overlaps, runs atomic.Int64
		start := time.Now()
		job := s.Add("slow", interval, func(ctx context.Context, due time.Time) {
			if running.Add(1) > 1 {
				overlaps.Add(1)
			}
			runs.Add(1)
			select {
			case <-time.After(takes):
			case <-ctx.Done():
			}
			running.Add(-1)
		})
		ctx, cancel := context.WithTimeout(context.Background(), 397*time.Millisecond)
		defer cancel()
		s.Run(ctx)
		var wantRuns, wantMissed int64
		var busy time.Time
		for _, tick := range ticks("slow", interval, start, start.Add(397*time.Millisecond)) {
			if tick.Before(busy) {
				wantMissed++
				continue
			}
			wantRuns++
			busy = tick.Add(takes)
		}
		if overlaps.Load() != 0 {
			t.Errorf("a job ran %d times alongside itself", overlaps.Load())
		}
		if job.Missed() != wantMissed || runs.Load() != wantRuns {
			t.Errorf("%d runs and %d missed ticks, want %d and %d", runs.Load(), job.Missed(), wantRuns, wantMissed)
		}
	})
}

func TestRemoveCancelsAndWaits(t *testing.T) {
	s := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	go s.Run(ctx)
	started := make(chan struct{})
	var finished atomic.Bool
	j := s.Add("job", 10*time.Millisecond, func(ctx context.Context, _ time.Time) {
		select {
		case started <- struct{}{}:
		default:
		}
		<-ctx.Done()
		finished.Store(true)
	})
	<-started
	if err := s.Remove(context.Background(), j); err != nil {
		t.Fatal(err)
	}
	if !finished.Load() {
		t.Error("Remove returned before the running sample ended")
	}
	if s.Len() != 0 {
		t.Errorf("jobs left: %d", s.Len())
	}
}

func TestPhasesShareWakeUps(t *testing.T) {
	for _, interval := range []time.Duration{time.Second, 2 * time.Second, 50 * time.Millisecond} {
		q := Quantum(interval)
		distinct := map[time.Duration]bool{}
		for i := range 2000 {
			p := Phase(fmt.Sprintf("asset-%d/status", i), interval)
			if p%q != 0 {
				t.Fatalf("interval %v: phase %v is not a multiple of %v", interval, p, q)
			}
			distinct[p] = true
		}
		if want := int(interval / q); len(distinct) > want || len(distinct) < want/2 {
			t.Errorf("interval %v: %d distinct first ticks, want at most %d, spread over at least half of them", interval, len(distinct), want)
		}
	}
}

// A job that hangs holds one worker and delays no other job.
func TestHangingJobDelaysNoOther(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil)
		release := make(chan struct{})
		var quick atomic.Int64
		start := time.Now()
		s.Add("hangs", 10*time.Millisecond, func(ctx context.Context, _ time.Time) {
			select {
			case <-release:
			case <-ctx.Done():
			}
		})
		want := 0
		for i := range 5 {
			key := fmt.Sprintf("quick-%d", i)
			s.Add(key, 10*time.Millisecond, func(context.Context, time.Time) { quick.Add(1) })
			want += len(ticks(key, 10*time.Millisecond, start, start.Add(297*time.Millisecond)))
		}
		ctx, cancel := context.WithTimeout(context.Background(), 297*time.Millisecond)
		defer cancel()
		s.Run(ctx)
		close(release)
		if n := quick.Load(); n != int64(want) {
			t.Errorf("quick jobs ran %d times beside a hanging one, want every tick: %d", n, want)
		}
	})
}

// Workers are kept for the next task, and let go once idle for long.
func TestWorkersAreReusedAndLetGo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := New(nil)
		s.pool.idleTimeout = 100 * time.Millisecond
		var runs atomic.Int64
		for i := range 20 {
			s.Add(fmt.Sprintf("job-%d", i), 5*time.Millisecond, func(context.Context, time.Time) { runs.Add(1) })
		}
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		go func() {
			defer close(done)
			s.Run(ctx)
		}()
		time.Sleep(300 * time.Millisecond)
		synctest.Wait()
		idle := func() int {
			s.pool.mu.Lock()
			defer s.pool.mu.Unlock()
			return len(s.pool.idle)
		}
		if r := runs.Load(); r < 20*59 {
			t.Errorf("runs: got %d, want every tick: about %d", r, 20*60)
		}
		if n := idle(); n > 20 {
			t.Errorf("%d idle workers after %d runs of 20 quick jobs: workers are not reused", n, runs.Load())
		}
		s.mu.Lock()
		jobs := append(jobHeap(nil), s.jobs...)
		s.mu.Unlock()
		for _, j := range jobs {
			if err := s.Remove(context.Background(), j); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(250 * time.Millisecond) // the idle timeout and one wake-up more
		synctest.Wait()
		if n := idle(); n != 0 {
			t.Errorf("%d workers still idle 250 ms after the last job, want them let go after 100 ms", n)
		}
		cancel()
		<-done
	})
}

func TestGoRunsOnThePoolAndRunWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) { goRunsOnThePool(t) })
}

func goRunsOnThePool(t *testing.T) {
	s := New(nil)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() {
		defer close(done)
		s.Run(ctx)
	}()
	var finished atomic.Bool
	started := make(chan struct{})
	s.Go(func() {
		close(started)
		time.Sleep(50 * time.Millisecond)
		finished.Store(true)
	})
	<-started
	cancel()
	<-done
	if !finished.Load() {
		t.Error("Run returned before a function started with Go ended")
	}
	ran := false
	s.Go(func() { ran = true }) // after Run: in the caller's goroutine
	if !ran {
		t.Error("Go after Run did not run the function before returning")
	}
}
