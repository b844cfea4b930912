package schedule

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
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

func TestRunsOnTheIntervalAndStops(t *testing.T) {
	s := New(nil)
	var runs atomic.Int64
	var mu sync.Mutex
	var dues []time.Time
	s.Add("job", 50*time.Millisecond, func(ctx context.Context, due time.Time) {
		runs.Add(1)
		mu.Lock()
		dues = append(dues, due)
		mu.Unlock()
	})
	ctx, cancel := context.WithTimeout(context.Background(), 560*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if n := runs.Load(); n < 9 || n > 12 {
		t.Errorf("runs in 560 ms at 50 ms: got %d, want about 10", n)
	}
	for i := 1; i < len(dues); i++ {
		if d := dues[i].Sub(dues[i-1]); d != 50*time.Millisecond {
			t.Errorf("due times %v apart, want exactly the interval", d)
		}
	}
	if s.Missed() != 0 {
		t.Errorf("missed %d ticks with a quick job", s.Missed())
	}
}

func TestOverrunSkipsAndCountsTicks(t *testing.T) {
	s := New(nil)
	var running, overlaps, runs atomic.Int64
	job := s.Add("slow", 20*time.Millisecond, func(ctx context.Context, due time.Time) {
		if running.Add(1) > 1 {
			overlaps.Add(1)
		}
		runs.Add(1)
		select {
		case <-time.After(70 * time.Millisecond): // three ticks and a half
		case <-ctx.Done():
		}
		running.Add(-1)
	})
	ctx, cancel := context.WithTimeout(context.Background(), 400*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	if overlaps.Load() != 0 {
		t.Errorf("a job ran %d times alongside itself", overlaps.Load())
	}
	if job.Missed() < 8 {
		t.Errorf("missed ticks: got %d, want the ticks that fell while it ran (about 15)", job.Missed())
	}
	if r := runs.Load(); r < 3 || r > 7 {
		t.Errorf("runs: got %d, want about 5", r)
	}
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

func TestHangingJobDelaysNoOther(t *testing.T) {
	s := New(nil)
	release := make(chan struct{})
	var quick atomic.Int64
	s.Add("hangs", 10*time.Millisecond, func(ctx context.Context, _ time.Time) {
		select {
		case <-release:
		case <-ctx.Done():
		}
	})
	for i := range 5 {
		s.Add(fmt.Sprintf("quick-%d", i), 10*time.Millisecond, func(context.Context, time.Time) { quick.Add(1) })
	}
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	s.Run(ctx)
	close(release)
	if n := quick.Load(); n < 5*20 {
		t.Errorf("quick jobs ran %d times in 300 ms at 10 ms beside a hanging one, want about 150", n)
	}
}

func TestWorkersAreReusedAndLetGo(t *testing.T) {
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
	s.pool.mu.Lock()
	idle := len(s.pool.idle)
	s.pool.mu.Unlock()
	if r := runs.Load(); r < 20*30 {
		t.Errorf("runs: got %d, want about %d", r, 20*60)
	}
	if idle > 20 {
		t.Errorf("%d idle workers for 20 quick jobs: workers are not reused", idle)
	}
	s.mu.Lock()
	jobs := append(jobHeap(nil), s.jobs...)
	s.mu.Unlock()
	for _, j := range jobs {
		if err := s.Remove(context.Background(), j); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for {
		s.pool.mu.Lock()
		idle = len(s.pool.idle)
		s.pool.mu.Unlock()
		if idle == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d workers still idle 2 s after the last job, want them let go after 100 ms", idle)
		}
		time.Sleep(20 * time.Millisecond)
	}
	cancel()
	<-done
}

func TestGoRunsOnThePoolAndRunWaits(t *testing.T) {
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
