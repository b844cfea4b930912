// Package wait waits in tests for what other goroutines do: a condition
// polled until it holds, with a deadline generous enough for a loaded
// machine. It is for waiting on real I/O (brokers, devices, files), never a
// rhythm: time-driven code is tested with testing/synctest. Changes lets
// a test double wake its waiters when it records something, instead of
// being polled.
package wait

import (
	"context"
	"fmt"
	"sync"
	"time"
)

// Timeout is how long For waits: long, because a condition that holds at
// all holds much sooner, and a busy CI machine may be slow.
const Timeout = 20 * time.Second

// TB is what For needs of a *testing.T.
type TB interface {
	Helper()
	Fatalf(format string, args ...any)
}

// For polls cond every 10 ms until it holds, and fails t if it does not
// within Timeout.
func For(t TB, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v", what, Timeout)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Until is For with a check that says why it does not hold yet: it polls
// check every 10 ms until it returns nil, and fails t with the last error
// if that does not happen within Timeout.
func Until(t TB, what string, check func() error) {
	t.Helper()
	deadline := time.Now().Add(Timeout)
	for {
		err := check()
		if err == nil {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("no %s within %v: %v", what, Timeout, err)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Changes tells the waiters of a test double that it recorded something.
// The zero value is ready. It is safe for concurrent use; Touch may be
// called with the double's own lock held.
type Changes struct {
	mu sync.Mutex
	ch chan struct{}
}

// current is the channel the next Touch closes.
func (c *Changes) current() chan struct{} {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch == nil {
		c.ch = make(chan struct{})
	}
	return c.ch
}

// Touch wakes every Wait to check its condition again.
func (c *Changes) Touch() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.ch != nil {
		close(c.ch)
	}
	c.ch = make(chan struct{})
}

// Wait blocks until cond returns true, checking it again after every
// Touch, or until ctx ends.
func (c *Changes) Wait(ctx context.Context, cond func() bool) error {
	for {
		ch := c.current()
		if cond() {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("condition not met: %w", ctx.Err())
		case <-ch:
		}
	}
}
