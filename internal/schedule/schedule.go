// Package schedule runs periodic jobs on time with one timer for all of
// them. A due job runs on a worker goroutine of the scheduler's pool (see
// pool.go), never waiting for another job: when every worker is busy the
// pool grows. A job still running at its next tick does not run twice: that
// tick is skipped and counted as missed, and so are ticks the scheduler
// itself was too late for. First ticks are spread over the interval by a
// stable hash of the job's key, so that thousands of jobs with one interval
// do not fire at once; they are rounded to a tenth of the interval, at most
// 100 ms (Quantum), so that jobs due together share one wake-up of the
// scheduler and run as a burst.
package schedule

import (
	"container/heap"
	"context"
	"hash/fnv"
	"sync"
	"sync/atomic"
	"time"
)

// Func is the work of a job: due is the tick it runs for.
type Func func(ctx context.Context, due time.Time)

// Observer is told how late each run started; it must be cheap.
type Observer func(lateness time.Duration)

// Scheduler owns the jobs and the goroutines that run them.
type Scheduler struct {
	mu      sync.Mutex
	jobs    jobHeap
	wake    chan struct{}
	ctx     context.Context // set by Run
	wg      sync.WaitGroup
	observe Observer
	missed  atomic.Int64
	runs    atomic.Int64
	pool    pool
}

// New returns an idle scheduler; call Run to start it.
func New(observe Observer) *Scheduler {
	s := &Scheduler{wake: make(chan struct{}, 1), observe: observe}
	s.pool.idleTimeout = IdleWorkerTimeout
	return s
}

// Job is a scheduled job.
type Job struct {
	key      string
	interval time.Duration
	fn       Func
	next     time.Time
	index    int // in the heap; -1 when removed
	running  atomic.Bool
	missed   atomic.Int64
	cancel   context.CancelFunc
	ctx      context.Context
	inflight sync.WaitGroup
}

// Missed counts this job's skipped ticks.
func (j *Job) Missed() int64 { return j.missed.Load() }

// Phase is where in [0, interval) a job with this key first ticks: a
// stable hash of the key, rounded down to a multiple of Quantum(interval).
func Phase(key string, interval time.Duration) time.Duration {
	h := fnv.New64a()
	h.Write([]byte(key))
	p := time.Duration(h.Sum64() % uint64(interval))
	if q := Quantum(interval); q > 0 {
		p -= p % q
	}
	return p
}

// Quantum is the step first ticks of jobs with this interval are rounded to:
// a tenth of the interval, at most 100 ms. Jobs whose phases round alike
// are due at the same instant: they are started by one wake-up of the
// scheduler and run as a burst, in which the process stays busy from one
// request, response and message to the next instead of going to sleep and
// being woken for each (2,000 datasets at 1 s: ten bursts of about 200 a
// second). That roughly halves the CPU per sample against phases spread to
// the millisecond, and still spreads the load over the interval. Samples
// of a burst start within milliseconds of their tick (the bench command
// reports the lateness).
func Quantum(interval time.Duration) time.Duration {
	return min(interval/10, 100*time.Millisecond)
}

// Add schedules fn every interval. The first run is at the next instant
// whose offset within the interval (counted from the Unix epoch) equals the
// key's phase.
func (s *Scheduler) Add(key string, interval time.Duration, fn Func) *Job {
	now := time.Now()
	phase := Phase(key, interval)
	base := now.Truncate(interval)
	next := base.Add(phase)
	if !next.After(now) {
		next = next.Add(interval)
	}
	j := &Job{key: key, interval: interval, fn: fn, next: next}
	s.mu.Lock()
	parent := s.ctx
	if parent == nil {
		parent = context.Background()
	}
	j.ctx, j.cancel = context.WithCancel(parent)
	heap.Push(&s.jobs, j)
	s.mu.Unlock()
	s.poke()
	return j
}

// Remove unschedules j, cancels its running sample and waits until it has
// returned or ctx ends.
func (s *Scheduler) Remove(ctx context.Context, j *Job) error {
	s.mu.Lock()
	if j.index >= 0 {
		heap.Remove(&s.jobs, j.index)
		j.index = -1
	}
	s.mu.Unlock()
	j.cancel()
	idle := make(chan struct{})
	go func() { j.inflight.Wait(); close(idle) }()
	select {
	case <-idle:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *Scheduler) poke() {
	select {
	case s.wake <- struct{}{}:
	default:
	}
}

// Missed is the total of skipped ticks.
func (s *Scheduler) Missed() int64 { return s.missed.Load() }

// Runs is the total of started runs.
func (s *Scheduler) Runs() int64 { return s.runs.Load() }

// Len is the number of scheduled jobs.
func (s *Scheduler) Len() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return len(s.jobs)
}

// Run fires jobs until ctx ends, then cancels running jobs and waits for them.
func (s *Scheduler) Run(ctx context.Context) {
	s.mu.Lock()
	s.ctx = ctx
	s.mu.Unlock()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		wait := s.fire()
		// Idle workers are let go at least every IdleWorkerTimeout.
		s.pool.reap(time.Now())
		timer.Reset(min(wait, s.pool.idleTimeout))
		select {
		case <-ctx.Done():
			s.mu.Lock()
			jobs := append(jobHeap(nil), s.jobs...)
			s.mu.Unlock()
			for _, j := range jobs {
				j.cancel()
			}
			s.wg.Wait()
			s.pool.close()
			return
		case <-timer.C:
		case <-s.wake:
		}
	}
}

// fire starts every due job and returns how long to sleep.
func (s *Scheduler) fire() time.Duration {
	s.mu.Lock()
	defer s.mu.Unlock()
	now := time.Now()
	for len(s.jobs) > 0 {
		j := s.jobs[0]
		if j.next.After(now) {
			return j.next.Sub(now)
		}
		due := j.next
		if j.running.Load() {
			j.missed.Add(1)
			s.missed.Add(1)
		} else {
			j.running.Store(true)
			j.inflight.Add(1)
			s.wg.Add(1)
			s.runs.Add(1)
			s.pool.run(task{s: s, j: j, due: due})
		}
		j.next = due.Add(j.interval)
		if !j.next.After(now) {
			// The scheduler was late by more than an interval: skip.
			skipped := int64(now.Sub(j.next)/j.interval) + 1
			j.next = j.next.Add(time.Duration(skipped) * j.interval)
			j.missed.Add(skipped)
			s.missed.Add(skipped)
		}
		heap.Fix(&s.jobs, 0)
	}
	return time.Hour
}

// Go runs fn on a worker of the scheduler's pool, as a job runs, and
// returns at once; Run waits for it before it returns. It is how a job
// spreads its own work (the requests of a sample) without starting
// goroutines. Once Run has returned, fn runs in the caller's goroutine.
func (s *Scheduler) Go(fn func()) {
	s.wg.Add(1)
	s.pool.run(task{s: s, fn: fn})
}

func (s *Scheduler) run(j *Job, due time.Time) {
	defer s.wg.Done()
	defer j.inflight.Done()
	defer j.running.Store(false)
	if s.observe != nil {
		s.observe(time.Since(due))
	}
	j.fn(j.ctx, due)
}

type jobHeap []*Job

func (h jobHeap) Len() int           { return len(h) }
func (h jobHeap) Less(i, k int) bool { return h[i].next.Before(h[k].next) }
func (h jobHeap) Swap(i, k int) {
	h[i], h[k] = h[k], h[i]
	h[i].index = i
	h[k].index = k
}
func (h *jobHeap) Push(x any) {
	j := x.(*Job)
	j.index = len(*h)
	*h = append(*h, j)
}
func (h *jobHeap) Pop() any {
	old := *h
	j := old[len(old)-1]
	old[len(old)-1] = nil
	j.index = -1
	*h = old[:len(old)-1]
	return j
}
