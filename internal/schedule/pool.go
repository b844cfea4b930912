package schedule

import (
	"slices"
	"sync"
	"time"
)

// IdleWorkerTimeout is how long a worker of the pool waits for work before
// it exits.
const IdleWorkerTimeout = 30 * time.Second

// pool runs tasks on long-lived worker goroutines. A goroutine started per
// task begins with a small stack and grows it, by copying, on the way down
// the HTTP client; a worker keeps its grown stack from one task to the next
// (until the garbage collector shrinks an idle one). A task never waits for
// a worker: when none is idle, a new one starts, so a task that hangs (a
// device that does not answer) holds one worker and delays no other.
// Workers idle for longer than idleTimeout exit.
type pool struct {
	mu          sync.Mutex
	idle        []*worker // the most recently idle last
	closed      bool
	workers     sync.WaitGroup
	idleTimeout time.Duration
}

type worker struct {
	tasks chan task // one at a time: a worker is handed a task only while idle
	since time.Time // idle since
}

// task is a job's run (j set), a function (fn set), or, zero, the order to
// exit.
type task struct {
	s   *Scheduler
	j   *Job
	due time.Time
	fn  func()
}

func (t task) exec() {
	switch {
	case t.j != nil:
		t.s.run(t.j, t.due)
	case t.fn != nil:
		defer t.s.wg.Done()
		t.fn()
	}
}

// run hands t to an idle worker or to a new one; once the pool is closed it
// runs t in the caller's goroutine.
func (p *pool) run(t task) {
	p.mu.Lock()
	if p.closed {
		p.mu.Unlock()
		t.exec()
		return
	}
	if n := len(p.idle); n > 0 {
		w := p.idle[n-1]
		p.idle[n-1] = nil
		p.idle = p.idle[:n-1]
		p.mu.Unlock()
		w.tasks <- t // buffered: never blocks
		return
	}
	p.workers.Add(1)
	p.mu.Unlock()
	go p.work(&worker{tasks: make(chan task, 1)}, t)
}

func (p *pool) work(w *worker, t task) {
	defer p.workers.Done()
	for {
		t.exec()
		p.mu.Lock()
		if p.closed {
			p.mu.Unlock()
			return
		}
		w.since = time.Now()
		p.idle = append(p.idle, w)
		p.mu.Unlock()
		if t = <-w.tasks; t.s == nil {
			return
		}
	}
}

// reap lets the workers idle for longer than idleTimeout go.
func (p *pool) reap(now time.Time) {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for n < len(p.idle) && now.Sub(p.idle[n].since) > p.idleTimeout {
		p.idle[n].tasks <- task{}
		n++
	}
	p.idle = slices.Delete(p.idle, 0, n)
}

// close lets every worker go, waits for the busy ones to finish and makes
// later tasks run in their caller's goroutine.
func (p *pool) close() {
	p.mu.Lock()
	p.closed = true
	for _, w := range p.idle {
		w.tasks <- task{}
	}
	p.idle = nil
	p.mu.Unlock()
	p.workers.Wait()
}
