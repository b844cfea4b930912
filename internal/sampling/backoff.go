package sampling

import (
	"errors"
	"sync"
	"time"

	"github.com/http-connector/http-connector/internal/fetch"
)

// DefaultMaxBackoff caps how long a failing device goes unpolled: a
// dataset skips at most this much of ticks in a row. A dataset whose
// interval is longer never skips.
const DefaultMaxBackoff = time.Minute

// deviceError marks a sample that failed because the device did not answer
// well (a request error), as opposed to its payload, a mapping or
// publishing. Only those make the sampler back off.
type deviceError struct{ err error }

func (e *deviceError) Error() string { return e.err.Error() }
func (e *deviceError) Unwrap() error { return e.err }

// backoff thins out the samples of a dataset whose device keeps failing:
// after the second failure in a row it skips 1 tick, then 2, 4 … up to
// Options.MaxBackoff worth of ticks. The first sample that reaches the device
// restores the rhythm.
type backoff struct {
	mu       sync.Mutex
	maxSkip  int // cap, in ticks
	failures int // device failures in a row
	skip     int // ticks still to skip
	active   bool
	since    time.Time
	skipped  int // ticks skipped since backing off began
}

func newBackoff(interval, limit time.Duration) *backoff {
	b := &backoff{}
	if limit == 0 {
		limit = DefaultMaxBackoff
	}
	if interval > 0 && limit > 0 {
		b.maxSkip = int(limit / interval)
	}
	return b
}

// skipTick reports whether this tick is to be skipped.
func (b *backoff) skipTick() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.skip == 0 {
		return false
	}
	b.skip--
	b.skipped++
	return true
}

// record takes the outcome of a sample: whether the device failed. It
// returns what to log: started is true when backing off begins, ended when
// it ends.
func (b *backoff) record(deviceFailed bool, now time.Time) (started, ended bool, skip, skipped int, since time.Time) {
	b.mu.Lock()
	defer b.mu.Unlock()
	if !deviceFailed {
		ended, skipped, since = b.active, b.skipped, b.since
		b.failures, b.skip, b.active, b.skipped = 0, 0, false, 0
		return false, ended, 0, skipped, since
	}
	b.failures++
	if b.failures < 2 || b.maxSkip == 0 {
		return false, false, 0, 0, time.Time{}
	}
	b.skip = min(1<<min(b.failures-2, 30), b.maxSkip)
	if !b.active {
		b.active, b.since, b.skipped = true, now, 0
		started = true
	}
	return started, false, b.skip, b.skipped, b.since
}

// setupFaults prepares the retry policy and the backoff of a new sampler.
func (s *Sampler) setupFaults() {
	s.retry = fetch.DefaultRetry()
	if s.opts.Retry != nil {
		s.retry = *s.opts.Retry
	}
	user := s.retry.OnRetry
	s.retry.OnRetry = func(attempt int, delay time.Duration, err error) {
		s.c.Retries.Add(1)
		s.logger().Debug().Err(err).Int("attempt", attempt).Dur("delay", delay).Msg("request failed; retrying")
		if user != nil {
			user(attempt, delay, err)
		}
	}
	s.skips = newBackoff(s.ds.Interval, s.opts.MaxBackoff)
}

// skipTick reports whether the sampler skips this tick to spare a failing
// device, and counts it.
func (s *Sampler) skipTick() bool {
	if s.skips.skipTick() {
		s.c.Skipped.Add(1)
		s.st.skipped.Add(1)
		return true
	}
	return false
}

// recordDevice feeds a sample's outcome to the backoff and logs when
// backing off starts or ends.
func (s *Sampler) recordDevice(err error) {
	var de *deviceError
	started, ended, skip, skipped, since := s.skips.record(errors.As(err, &de), s.opts.Now())
	switch {
	case started:
		s.logger().Warn().Int("skip_ticks", skip).Dur("max_gap", time.Duration(s.skips.maxSkip+1)*s.ds.Interval).Msg("device keeps failing; polling it less often")
	case ended:
		s.logger().Info().Int("skipped_ticks", skipped).Dur("after", s.opts.Now().Sub(since)).Msg("device answers again; polling at the normal rhythm")
	}
}

// backingOff reports whether ticks are being skipped.
func (b *backoff) backingOff() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.active
}
