// Package wait waits in tests for what other goroutines do: a condition
// polled until it holds, with a deadline generous enough for a loaded
// machine. It is for waiting on real I/O (brokers, devices, files), never a
// rhythm: time-driven code is tested with testing/synctest.
package wait

import "time"

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
