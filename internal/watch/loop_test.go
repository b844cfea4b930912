package watch

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"
)

// The debounce, in virtual time: a burst of changes is one call once it has
// been quiet for the delay, a change during the delay starts it again, and
// Every calls on its own.
func TestLoop(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithCancel(context.Background())
		changes := make(chan struct{})
		errs := make(chan error)
		var calls, adds int
		var called []time.Duration
		start := time.Now()
		var seen []error
		done := make(chan struct{})
		go func() {
			defer close(done)
			loop(ctx, Options{
				Delay:    100 * time.Millisecond,
				Every:    10 * time.Second,
				OnChange: func(context.Context) { calls++; called = append(called, time.Since(start)) },
				OnError:  func(err error) { seen = append(seen, err) },
			}, changes, errs, func() { adds++ })
		}()
		// A burst of five changes 30 ms apart: one call 100 ms after the last.
		for range 5 {
			changes <- struct{}{}
			time.Sleep(30 * time.Millisecond)
		}
		time.Sleep(time.Second)
		synctest.Wait()
		if calls != 1 || called[0] != 220*time.Millisecond {
			t.Fatalf("a burst of 5: %d calls at %v, want 1 at 220ms", calls, called)
		}
		errs <- errors.New("overflow")
		// Nothing more until Every.
		time.Sleep(10*time.Second - time.Since(start) + time.Millisecond)
		synctest.Wait()
		if calls != 2 || called[1] != 10*time.Second {
			t.Errorf("calls %v, want a second one at 10s from Every", called)
		}
		if len(seen) != 1 || adds != calls {
			t.Errorf("errors %v, folders added %d times for %d calls", seen, adds, calls)
		}
		cancel()
		<-done
	})
}
